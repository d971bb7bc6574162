"""The training half of the SageMaker contract, run against a temp /opt/ml tree."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from container.paths import Paths
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, labelled_lines, make_tree
from train.job import run

pytestmark = pytest.mark.contract
ROOT = Path(__file__).resolve().parents[2]


def paths_of(root):
    return Paths(base=root, input=root / "input")


def snapshot(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def failure_after(root, *, previous_model=True, **tree):
    """Train a tree that must fail; return the failure text, checking the model dir was left as it was."""
    make_tree(root, **tree)
    model = root / "model"
    if previous_model:
        (model / "model.bin").write_bytes(b"previous good model")
        (model / "manifest.json").write_text('{"previous": true}')
    before = snapshot(model)
    assert run(paths_of(root)) == 1
    assert snapshot(model) == before, "a failed job changed /opt/ml/model"
    text = (root / "output" / "failure").read_text()
    assert text.strip() and "Traceback" not in text
    return text


def test_training_writes_bundle_and_metrics(tree, capfd):
    assert run(tree) == 0
    out = capfd.readouterr().out
    manifest = json.loads((tree.model / "manifest.json").read_text())
    task = manifest["tasks"]["classification"]
    assert sorted(p.name for p in tree.model.iterdir()) == ["eval.json", "manifest.json", "model.bin"]
    assert task["files"] == {"model": "model.bin"} and task["tokenizer"] == {"scheme": "regex", "lowercase": True, "language": "en"}
    assert sorted(task["labels"]) == ["__label__cooking", "__label__space", "__label__sports"]
    assert manifest["files"]["model.bin"]["bytes"] == (tree.model / "model.bin").stat().st_size
    assert {"kindling", "python", "fasttext-numpy2", "numpy"} <= set(manifest["versions"])
    assert "#train_accuracy: " in out and "#validation_accuracy: " in out and "#validation_f1: " in out
    scores = json.loads((tree.model / "eval.json").read_text())["validation"]
    assert set(scores["per_label"]) == set(task["labels"]) and 0.9 <= scores["macro_f1"] <= 1
    assert scores["accuracy"] == task["metrics"]["validation_accuracy"] and "precision_at_5" in scores
    assert "Number of train examples: 300" in out
    # real learning on separable data, not a fixed answer
    assert task["metrics"]["validation_accuracy"] >= 0.9
    assert not tree.failure.exists()


def test_validation_channel_is_optional(tmp_path, capfd):
    root = make_tree(tmp_path / "ml", channels={"train": {"t.txt": "\n".join(labelled_lines(90, 3))}})
    assert run(paths_of(root)) == 0
    out = capfd.readouterr().out
    assert "#train_accuracy:" in out and "#validation_accuracy" not in out


def test_all_files_of_a_channel_directory_are_read(tmp_path):
    lines = labelled_lines(90, 4)
    files = {"part-0.txt": "\n".join(lines[:30]), "nested/part-1.txt": "\n".join(lines[30:60]),
             "part-2.txt": "\n".join(lines[60:])}
    root = make_tree(tmp_path / "ml", channels={"train": files})
    assert run(paths_of(root)) == 0
    manifest = json.loads((root / "model" / "manifest.json").read_text())
    assert manifest["tasks"]["classification"]["metrics"]["train_examples"] == 90


def test_bad_and_unknown_hyperparameters_are_all_named(tmp_path):
    text = failure_after(tmp_path / "ml", hyperparameters={**FAST_HYPERPARAMETERS, "epochs": "ten",
                                                           "learning_rat": "0.1"})
    assert "epochs='ten' is not a whole number" in text
    assert "'learning_rat' is not a hyperparameter of mode=supervised (did you mean 'learning_rate'?)" in text


@pytest.mark.parametrize("tree, words", [
    (dict(hyperparameters="{mode: supervised"), "hyperparameters.json (hyperparameters) is not valid JSON"),
    (dict(hyperparameters="[1, 2]"), "holds a JSON list, not an object"),
    (dict(hyperparameters={"epochs": "5"}), "has no 'mode'"),
    (dict(hyperparameters={"mode": "regression"}), "mode='regression' is not a mode this image trains"),
    (dict(channels={"validation": {"v.txt": "__label__a x\n"}}), "'train' channel is missing"),
    (dict(channels={"train": {"empty.txt": ""}}), "no labelled lines"),
    (dict(channels={"train": {"plain.txt": "a line of text\nanother line\n"}}), "2 records without a label"),
    (dict(channels={"train": {"latin1.txt": b"__label__a caf\xe9\n"}}), "line 1: byte 15 (b'\\xe9') is not valid UTF-8"),
    (dict(input_data_config={"train": {"TrainingInputMode": "Stream"}}), "TrainingInputMode=Stream"),
    (dict(hyperparameters={**FAST_HYPERPARAMETERS, "learning_rate": "1e30"}), "Training diverged"),
])
def test_bad_input_fails_with_a_sentence_and_leaves_the_model(tmp_path, tree, words):
    assert words in failure_after(tmp_path / "ml", **tree)


def test_failure_without_a_previous_model_leaves_the_model_dir_empty(tmp_path):
    failure_after(tmp_path / "ml", previous_model=False, hyperparameters={"mode": "supervised", "epochs": "-1"})
    assert list((tmp_path / "ml" / "model").iterdir()) == []


def test_plain_tree_without_optional_config_files(tmp_path):
    root = make_tree(tmp_path / "ml", input_data_config=False, resource_config=False)
    assert run(paths_of(root)) == 0


def run_dispatcher(root, *args):
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(root), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "container", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_dispatcher_without_arguments_trains_in_a_fresh_process(tmp_path):
    root = make_tree(tmp_path / "ml")
    result = run_dispatcher(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "#validation_accuracy:" in result.stdout and (root / "model" / "model.bin").is_file()
    assert "\r" not in result.stdout + result.stderr  # line-oriented logs only


def test_dispatcher_failure_exits_non_zero_in_a_fresh_process(tmp_path):
    root = make_tree(tmp_path / "ml", hyperparameters={"mode": "supervised", "epochs": "ten", "foo": "1"})
    result = run_dispatcher(root, "train")
    assert result.returncode != 0
    text = (root / "output" / "failure").read_text()
    assert "epochs='ten'" in text and "'foo'" in text


def test_sigterm_stops_training_quickly_and_says_so(tmp_path):
    root = make_tree(tmp_path / "ml", hyperparameters={**FAST_HYPERPARAMETERS, "epochs": "100000",
                                                       "learning_rate": "0.01"})
    (root / "model" / "model.bin").write_bytes(b"previous")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(root), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "container", "train"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:  # bounded by the training itself; wait until fastText is running
            if "Number of labels" in line:
                break
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=25)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
    assert process.returncode == 143 and elapsed < 25
    assert "stopped by SIGTERM" in (root / "output" / "failure").read_text()
    assert sorted(p.name for p in (root / "model").iterdir()) == ["model.bin"]
    assert (root / "model" / "model.bin").read_bytes() == b"previous"


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _grandchildren(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        try:
            found += _children(child)
        except OSError:  # it ended meanwhile
            pass
    return found


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _open_fifo_for_writing(fifo: Path, seconds: float) -> int:
    """Open once the job has opened it for reading (ENXIO until then), bounded in time."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return fd
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_sigterm_while_preparing_a_corpus_stops_the_job_and_its_tokenizer_processes(tmp_path):
    """Regression: the tokenizer pool's workers once inherited the job's SIGTERM handler and could leave
    the job waiting for them forever. The Pipe-mode FIFO is kept open, so the job is certainly in the
    middle of preparing (workers alive, batches done, more input awaited) when SIGTERM arrives."""
    from tests.conftest import EMBEDDING_HYPERPARAMETERS

    root = make_tree(tmp_path / "ml", {**EMBEDDING_HYPERPARAMETERS, "prepare": "true"}, {},
                     input_data_config={"train": {"TrainingInputMode": "Pipe", "RecordWrapperType": "None"}})
    data = root / "input" / "data"
    data.mkdir(parents=True, exist_ok=True)
    for epoch in (0, 1):
        os.mkfifo(data / f"train_{epoch}")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(root), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "container", "train"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    fifo, output = None, []
    try:
        for line in process.stdout:  # bounded: the job prints this line, or ends and closes stdout
            output.append(line)
            if "prepare: 1 file(s)" in line:
                break
        fifo = _open_fifo_for_writing(data / "train_0", seconds=20)
        os.write(fifo, ("the quick brown fox jumps over the lazy dog\n" * 70000).encode())  # 3 MB: 3 batches
        deadline = time.monotonic() + 20
        # the job reads the channel in a child process, whose children are the tokenizers
        while len(_grandchildren(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _grandchildren(process.pid)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        output += process.stdout.readlines()
    finally:
        process.kill()
        if fifo is not None:
            os.close(fifo)
    log = "".join(output)
    assert len(workers) == 2, log
    assert process.returncode == 143, log
    assert "stopped by SIGTERM" in (root / "output" / "failure").read_text()
    assert "distinct words" not in log  # the stop came while preparing
    deadline = time.monotonic() + 10
    while not all(map(_gone, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(_gone, workers)), f"tokenizer processes outlived the job: {workers}"


def test_quantize_writes_a_much_smaller_model_that_is_served(tmp_path):
    root = make_tree(tmp_path / "ml", hyperparameters={**FAST_HYPERPARAMETERS, "quantize": "true"})
    assert run(paths_of(root)) == 0
    model = root / "model"
    manifest = json.loads((model / "manifest.json").read_text())
    task = manifest["tasks"]["classification"]
    report = task["metrics"]["quantization"]
    assert task["files"]["model"] == "model.ftz" and {"model.bin", "model.ftz"} <= set(manifest["files"])
    assert report["bytes_before"] / report["bytes_after"] >= 5
    assert abs(report["accuracy_before"] - report["accuracy_after"]) <= 0.02


def test_pretrained_vectors_seed_the_classifier_and_their_dimension_is_checked(tmp_path):
    vectors = "3 10\n" + "".join(f"{word} " + " ".join(["0.1"] * 10) + "\n" for word in ("rocket", "goal", "oven"))
    root = make_tree(tmp_path / "ok" / "ml", channels={
        "train": {"t.txt": "\n".join(labelled_lines(90, 1))}, "pretrained": {"vectors.txt": vectors}})
    assert run(paths_of(root)) == 0
    wrong = make_tree(tmp_path / "wrong" / "ml", hyperparameters={**FAST_HYPERPARAMETERS, "vector_dim": "20"},
                      channels={"train": {"t.txt": "\n".join(labelled_lines(90, 1))},
                                "pretrained": {"vectors.txt": vectors}})
    assert run(paths_of(wrong)) == 1
    assert "has 10-dimensional vectors but vector_dim=20" in (wrong / "output" / "failure").read_text()


def test_validation_reports_are_written_for_people(tree):
    assert run(tree) == 0
    data = tree.output_data
    assert sorted(p.name for p in data.iterdir()) == ["confusion_matrix.png", "metrics.json", "metrics.md",
                                                      "per_label.png"]
    for picture in ("confusion_matrix.png", "per_label.png"):
        assert (data / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (data / picture).stat().st_size > 5000
    assert "- accuracy: " in (data / "metrics.md").read_text()
    assert set(json.loads((data / "metrics.json").read_text())["per_label"]) == {
        "__label__cooking", "__label__space", "__label__sports"}


def test_validation_labels_never_seen_in_training_are_reported(tmp_path):
    validation = "\n".join(labelled_lines(30, 2)) + "\n__label__weather rain and wind all day\n"
    root = make_tree(tmp_path / "ml", channels={"train": {"t.txt": "\n".join(labelled_lines(90, 1))},
                                                "validation": {"v.txt": validation}})
    assert run(paths_of(root)) == 0
    assert json.loads((root / "model" / "eval.json").read_text())["validation"]["unseen_labels"] == ["__label__weather"]
