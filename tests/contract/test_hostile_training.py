"""Training jobs fed hostile or pathological inputs (issue 18) end with a sentence, never a kill or a
"kindling bug", and leave /opt/ml/model as it was."""

import json
import os
import time

import pytest

from container.paths import Paths
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, make_tree
from train.job import run

pytestmark = pytest.mark.contract
W2V = {"mode": "skipgram", "min_count": "1", "epochs": "1", "vector_dim": "10", "evaluation": "false"}


def _job(tmp_path, hyperparameters, channels=None, **kwargs) -> tuple[Paths, int, str, float]:
    """Run a job on a fresh tree whose model directory holds a previous model; (paths, exit code, failure
    file, seconds run() took)."""
    root = make_tree(tmp_path / "ml", hyperparameters, channels, **kwargs)
    (root / "model" / "model.bin").write_bytes(b"previous")
    paths = Paths(base=root, input=root / "input")
    started = time.monotonic()
    code = run(paths)
    seconds = time.monotonic() - started
    failure = paths.failure.read_text() if paths.failure.exists() else ""
    if code:
        assert [p.name for p in paths.model.iterdir()] == ["model.bin"], "a failed job left debris or a partial model"
        assert "Traceback" not in failure and "kindling bug" not in failure, failure
    return paths, code, failure, seconds


@pytest.mark.parametrize("hyperparameters, name", [
    ({**FAST_HYPERPARAMETERS, "max_line_mb": "0.01"}, "long.txt"),
    ({**FAST_HYPERPARAMETERS, "max_line_mb": "0.01"}, "long.jsonl"),
    ({**W2V, "max_line_mb": "0.01"}, "long.txt"),
    ({**W2V, "max_line_mb": "0.01", "prepare": "true"}, "long.txt"),
])
def test_a_line_over_the_limit_fails_naming_file_and_line(tmp_path, hyperparameters, name):
    if name.endswith(".jsonl"):
        text = '{"source": "fine", "label": "a"}\n{"source": "' + "word " * 3000 + '", "label": "b"}\n'
    else:
        text = "__label__a fine\n" + "__label__b " + "word " * 3000 + "\n"
    _, code, failure, _ = _job(tmp_path, hyperparameters, {"train": {name: text}})
    assert code == 1
    assert f"{name}, line 2: the line is longer than 10,485 bytes (max_line_mb)" in failure, failure


def test_a_50_mb_label_prefix_is_refused_at_once(tmp_path):
    _, code, failure, seconds = _job(tmp_path, {**FAST_HYPERPARAMETERS, "label_prefix": "__" + "x" * 50_000_000})
    assert code == 1 and seconds < 2
    assert "label_prefix: a value of 50,000,002 characters" in failure and len(failure) < 1000


def test_a_hyperparameters_file_100000_deep_is_a_sentence(tmp_path):
    _, code, failure, _ = _job(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert code == 1 and "is nested too deeply to read" in failure


def test_mode_vectors_with_only_a_fifo_is_refused_without_opening_it(tmp_path, caplog):
    root = make_tree(tmp_path / "ml", {"mode": "vectors"}, {"train": {}})
    os.mkfifo(root / "input" / "data" / "train" / "vectors.txt")
    started = time.monotonic()
    code = run(Paths(base=root, input=root / "input"))  # opening the FIFO would block this test for ever
    assert code == 1 and time.monotonic() - started < 5
    assert "holds 0 entries" in (root / "output" / "failure").read_text()
    assert "it is a FIFO, not a regular file" in caplog.text


def test_special_files_and_links_out_of_the_channel_are_skipped(tmp_path, capfd):
    import logging
    import sys

    from tests.sagemaker_tree import labelled_lines

    outside = tmp_path / "secret.txt"
    outside.write_text("__label__secret root:x:0:0:root:/root:/bin/bash\n" * 50)
    root = make_tree(tmp_path / "ml", FAST_HYPERPARAMETERS,
                     {"train": {"t.txt": "\n".join(labelled_lines(300, 1)) + "\n"}})
    channel = root / "input" / "data" / "train"
    os.mkfifo(channel / "pipe.txt")
    (channel / "passwd.txt").symlink_to(outside)
    (channel / "again.txt").symlink_to(channel / "t.txt")  # a link inside the channel is read
    paths = Paths(base=root, input=root / "input")
    handler = logging.StreamHandler(sys.stderr)  # channels are read in a child process: caplog misses it
    logging.getLogger("train.listing").addHandler(handler)
    try:
        assert run(paths) == 0, paths.failure.read_text()
    finally:
        logging.getLogger("train.listing").removeHandler(handler)
    logged = capfd.readouterr().err
    labels = json.loads((paths.model / "manifest.json").read_text())["tasks"]["classification"]["labels"]
    assert "__label__secret" not in labels and len(labels) == 3
    assert "pipe.txt: it is a FIFO" in logged and f"a symbolic link to {outside}, outside the channel" in logged


def test_a_reader_killed_for_memory_still_leaves_a_failure_file(tmp_path, monkeypatch):
    """The kernel's OOM killer sends SIGKILL; before, the reader ran in the job's own process, so the job
    died with exit 137 and no failure file. (Against the old code this kills the test process.)"""
    import signal

    def killed(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr("train.classifier.prepare_labelled", killed)
    _, code, failure, _ = _job(tmp_path, FAST_HYPERPARAMETERS)
    assert code == 1
    assert "Preparing the 'train' channel died (killed by SIGKILL)" in failure and "lower max_line_mb" in failure
