"""Pipe input mode with real FIFOs fed by a writer process, the way SageMaker feeds them: epoch FIFOs
train_0 / train_1 (only epoch 0 is read: the data is prepared once, training makes the epochs), plain
and RecordIO-wrapped augmented manifests, classification and word vectors."""

import json
import multiprocessing
import os

import pytest

from container.paths import Paths
from tests.conftest import EMBEDDING_HYPERPARAMETERS
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, labelled_lines, make_tree, topical_sentences
from train.job import run
from train.pipe import write_record

pytestmark = pytest.mark.contract


def _feed(fifo: str, chunks: list[bytes]) -> None:
    with open(fifo, "wb") as out:  # blocks until the job opens the FIFO, as SageMaker's agent does
        for chunk in chunks:
            out.write(chunk)


def _records(lines: list[str]) -> bytes:
    """The augmented manifest ["source", "label"] as SageMaker streams it with RecordIO: one record per attribute."""
    import io

    out = io.BytesIO()
    for line in lines:
        label, text = line.split(" ", 1)
        write_record(out, text.encode())
        write_record(out, json.dumps(label.replace("__label__", "")).encode())
    return out.getvalue()


def _pipe_job(tmp_path, hyperparameters, channels: dict[str, tuple[bytes, str]]) -> tuple[Paths, int]:
    root = make_tree(tmp_path / "ml", hyperparameters, {}, input_data_config={
        name: {"TrainingInputMode": "Pipe", "RecordWrapperType": wrapper} for name, (_, wrapper) in channels.items()})
    data = root / "input" / "data"
    data.mkdir(parents=True, exist_ok=True)
    writers = []
    for name, (payload, _) in channels.items():
        for epoch in (0, 1):
            os.mkfifo(data / f"{name}_{epoch}")
        writer = multiprocessing.get_context("fork").Process(target=_feed, args=(str(data / f"{name}_0"), [payload]),
                                                             daemon=True)
        writer.start()
        writers.append(writer)
    paths = Paths(base=root, input=root / "input")
    code = run(paths)
    for writer in writers:
        writer.join(10)
        assert not writer.is_alive(), "the job did not read the whole FIFO"
    return paths, code


def _accuracy(paths: Paths) -> float:
    return json.loads((paths.model / "manifest.json").read_text())["tasks"]["classification"]["metrics"][
        "validation_accuracy"]


def test_classifier_from_pipes_matches_file_mode(tmp_path):
    train, validation = labelled_lines(300, 1), labelled_lines(60, 2)
    pipe_paths, code = _pipe_job(tmp_path / "pipe", FAST_HYPERPARAMETERS, {
        "train": (("\n".join(train) + "\n").encode(), "None"),
        "validation": (("\n".join(validation) + "\n").encode(), "None")})
    assert code == 0, pipe_paths.failure.read_text()
    root = make_tree(tmp_path / "file" / "ml")
    file_paths = Paths(base=root, input=root / "input")
    assert run(file_paths) == 0
    assert abs(_accuracy(pipe_paths) - _accuracy(file_paths)) <= 0.01


def test_recordio_augmented_manifest_from_a_pipe(tmp_path):
    train, validation = labelled_lines(300, 1), labelled_lines(60, 2)
    paths, code = _pipe_job(tmp_path, FAST_HYPERPARAMETERS, {"train": (_records(train), "RecordIO"),
                                                             "validation": (_records(validation), "RecordIO")})
    assert code == 0, paths.failure.read_text()
    manifest = json.loads((paths.model / "manifest.json").read_text())["tasks"]["classification"]
    assert sorted(manifest["labels"]) == ["__label__cooking", "__label__space", "__label__sports"]
    # the same records as a File-mode augmented manifest (JSON Lines) train to the same quality
    as_json = {name: "".join(json.dumps({"source": line.split(" ", 1)[1], "label": line.split(" ", 1)[0][9:]}) + "\n"
                             for line in lines) for name, lines in (("train", train), ("validation", validation))}
    root = make_tree(tmp_path / "file" / "ml", FAST_HYPERPARAMETERS,
                     {"train": {"m.jsonl": as_json["train"]}, "validation": {"m.jsonl": as_json["validation"]}})
    file_paths = Paths(base=root, input=root / "input")
    assert run(file_paths) == 0
    assert abs(_accuracy(paths) - _accuracy(file_paths)) <= 0.01 and _accuracy(paths) >= 0.9


def test_word_vectors_prepare_straight_from_a_pipe(tmp_path):
    text = "\n".join(s.upper() for s in topical_sentences(600, 4)) + "\n"
    paths, code = _pipe_job(tmp_path, {**EMBEDDING_HYPERPARAMETERS, "prepare": "true", "evaluation": "false"},
                            {"train": (text.encode(), "None")})
    assert code == 0, paths.failure.read_text()
    summary = json.loads((paths.model / "corpus.json").read_text())
    assert summary["sentences"] == 600 and "orbit" in (paths.model / "vocabulary.txt").read_text().split()
