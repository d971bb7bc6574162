"""The same data in every input format trains, through the image, to the same accuracy."""

import csv
import io
import json
import re

import pytest

from tests.image.docker import IMAGE, docker, run_image
from tests.sagemaker_tree import make_tree, open_permissions

HYPERPARAMETERS = {"mode": "supervised", "epochs": "10", "learning_rate": "0.1", "min_count": "1",
                   "vector_dim": "10", "buckets": "10000", "threads": "1", "seed": "1"}


def sample(name: str) -> list[tuple[str, str]]:
    """(label, text) pairs of the sample baked into the image."""
    path = f"/opt/kindling/sample/input/data/{name}/pang_lee_{name}.txt"
    text = docker("run", "--rm", "--entrypoint", "cat", IMAGE, path).stdout
    pairs = []
    for line in text.splitlines():
        label, rest = line.split(" ", 1)
        pairs.append((label.removeprefix("__label__"), rest))
    return pairs


def encode(pairs, file_format: str) -> str:
    if file_format == "fasttext":
        return "".join(f"__label__{label} {text}\n" for label, text in pairs)
    if file_format == "jsonlines":
        return "".join(json.dumps({"source": text, "label": label}) + "\n" for label, text in pairs)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["source", "label"])
    writer.writerows((text, label) for label, text in pairs)
    return out.getvalue()


@pytest.fixture(scope="module")
def accuracies(tmp_path_factory):
    train, validation = sample("train"), sample("validation")
    found = {}
    for file_format, extension in (("fasttext", "txt"), ("jsonlines", "jsonl"), ("csv", "csv")):
        root = make_tree(tmp_path_factory.mktemp(file_format) / "ml", hyperparameters=HYPERPARAMETERS, channels={
            "train": {f"train.{extension}": encode(train, file_format)},
            "validation": {f"validation.{extension}": encode(validation, file_format)}})
        open_permissions(root)
        result = run_image("train", volumes={root: "/opt/ml"})
        assert result.returncode == 0, result.stdout + result.stderr
        found[file_format] = float(re.search(r"#validation_accuracy: ([\d.]+)", result.stdout).group(1))
        assert f"Number of train examples: {len(train)}" in result.stdout
    return found


def test_every_input_format_reaches_the_same_accuracy(accuracies):
    assert max(accuracies.values()) - min(accuracies.values()) <= 0.01, accuracies
