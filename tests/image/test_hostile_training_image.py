"""Issue 18's training acceptance lines, through the real image with a 2 GB memory limit: every hostile
input ends with exit != 0 and a sentence in /opt/ml/output/failure, never an OOM kill, a hang or debris.
The 200 MB line is generated in a temp dir at test time (never committed)."""

import os
import time

import pytest

from tests.image.docker import run_image
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, labelled_lines, make_tree, open_permissions

MEMORY = ["--memory", "2g", "--memory-swap", "2g"]
W2V = {"mode": "skipgram", "min_count": "1", "epochs": "1", "vector_dim": "10", "evaluation": "false"}


def _tree(tmp_path, hyperparameters, channels):
    root = make_tree(tmp_path / "ml", hyperparameters, channels)
    (root / "model" / "model.bin").write_bytes(b"the previous model")
    return root


def _train(root, extra=(), timeout=300):
    open_permissions(root)
    started = time.monotonic()
    result = run_image("train", volumes={root: "/opt/ml"}, extra=[*MEMORY, *extra], timeout=timeout)
    seconds = time.monotonic() - started
    failure = (root / "output" / "failure").read_text() if (root / "output" / "failure").exists() else ""
    print(f"exit {result.returncode} after {seconds:.1f} s; failure file: {failure.strip()}")
    return result, seconds, failure


@pytest.mark.parametrize("hyperparameters", [FAST_HYPERPARAMETERS, W2V], ids=["supervised", "skipgram"])
def test_a_200_mb_line_fails_with_file_and_line_in_a_2_gb_container(tmp_path, hyperparameters):
    root = _tree(tmp_path, hyperparameters, {"train": {"a.txt": "\n".join(labelled_lines(30, 1)) + "\n"}})
    with open(root / "input" / "data" / "train" / "b.txt", "wb") as out:  # one line, no newline
        out.write(b"__label__sports ")
        for _ in range(200):
            out.write(b"goal match " * 95325 + b"x")  # 1,048,576 bytes
    result, seconds, failure = _train(root)
    assert result.returncode not in (0, 137) and seconds < 60, result.stdout[-2000:]
    assert "/opt/ml/input/data/train/b.txt, line 1: the line is longer than 100 MB (max_line_mb)" in failure
    assert [p.name for p in (root / "model").iterdir()] == ["model.bin"]  # no staging debris, old model kept
    assert (root / "model" / "model.bin").read_bytes() == b"the previous model"


def test_a_50_mb_label_prefix_is_refused_in_under_2_seconds(tmp_path):
    root = _tree(tmp_path, {**FAST_HYPERPARAMETERS, "label_prefix": "__" + "x" * 50_000_000}, None)
    open_permissions(root)
    # the container's own start (about a second) is not the job's: time the job from its log
    result, _, failure = _train(root)
    assert result.returncode == 1 and "label_prefix: a value of 50,000,002 characters" in failure
    stamps = [line[:23] for line in result.stdout.splitlines() if line[:4].isdigit()]
    first, last = (time.mktime(time.strptime(s[:19], "%Y-%m-%d %H:%M:%S")) + int(s[20:]) / 1000
                   for s in (stamps[0], stamps[-1]))
    assert last - first < 2, result.stdout


def test_a_full_model_directory_is_a_sentence_naming_the_path(tmp_path):
    root = _tree(tmp_path, {**FAST_HYPERPARAMETERS, "buckets": "2000000"}, None)  # an 80 MB model.bin
    (root / "model" / "model.bin").unlink()
    result, _, failure = _train(
        root, ["--mount", "type=tmpfs,destination=/opt/ml/model,tmpfs-size=1m,tmpfs-mode=1777"])
    assert result.returncode == 1, result.stdout[-2000:]
    assert failure.startswith("Cannot write /opt/ml/model/"), failure
    assert "No space left on device" in failure and "MB free of 1.0 MB on its file system" in failure
    assert "kindling bug" not in failure


def test_mode_vectors_with_only_a_fifo_is_refused_in_under_5_seconds(tmp_path):
    root = _tree(tmp_path, {"mode": "vectors"}, {"train": {}})
    os.mkfifo(root / "input" / "data" / "train" / "vectors.txt")
    result, seconds, failure = _train(root, timeout=120)
    assert result.returncode == 1 and seconds < 5 + 3, result.stdout[-2000:]  # + the container's start
    assert "holds 0 entries" in failure and "it is a FIFO, not a regular file" in result.stdout
