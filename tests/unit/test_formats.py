import csv
import io
import json

from pathlib import Path

import pytest

from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.channels import prepare_labelled
from train.formats import Reading, as_labels, format_of

LINES = [("pos", "A great film!"), ("neg", "Dull, and far too long."), ("pos", "Loved it")]


def as_fasttext():
    return "".join(f"__label__{label} {text}\n" for label, text in LINES)


def as_jsonlines(text_field="source", label_field="label"):
    return "".join(json.dumps({text_field: text, label_field: label}) + "\n" for label, text in LINES)


def as_csv(text_field="text", label_field="label"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", text_field, label_field])
    for number, (label, text) in enumerate(LINES):
        writer.writerow([number, text, label])
    return out.getvalue()


def prepare(tmp_path, name, content, reading=Reading(), content_type=None):
    directory = tmp_path / "train"
    directory.mkdir(parents=True)
    (directory / name).write_text(content)
    prepared = prepare_labelled("train", directory, tmp_path / "out.txt", Tokenizer(), reading, content_type)
    return prepared, (tmp_path / "out.txt").read_text()


@pytest.mark.parametrize("name, content, reading, content_type", [
    ("data.jsonl", as_jsonlines(), Reading(), None),
    ("data.manifest", as_jsonlines(), Reading(), None),
    ("data", as_jsonlines("text", "sentiment"), Reading(text_field="text", label_field="sentiment"),
     "application/jsonlines"),
    ("data.csv", as_csv("source"), Reading(), None),
    ("data.txt", as_csv("review", "y"), Reading(input_format="csv", text_field="review", label_field="y"), None),
])
def test_every_format_prepares_the_same_training_file(tmp_path, name, content, reading, content_type):
    _, expected = prepare(tmp_path / "a", "data.txt", as_fasttext())
    prepared, actual = prepare(tmp_path / "b", name, content, reading, content_type)
    assert actual == expected and prepared.examples == 3


def test_manifest_labels_may_be_numbers_strings_or_lists():
    reading = Reading()
    assert as_labels(1, reading) == ["__label__1"]
    assert as_labels("very good", reading) == ["__label__very_good"]
    assert as_labels([1, 3], reading) == ["__label__1", "__label__3"]
    assert as_labels(None, reading) == [] and as_labels("", reading) == []


def test_records_without_a_label_are_counted_not_fatal(tmp_path):
    content = as_jsonlines() + json.dumps({"source": "no label here"}) + "\n"
    prepared, _ = prepare(tmp_path, "d.jsonl", content)
    assert (prepared.examples, prepared.skipped_unlabelled) == (3, 1)


@pytest.mark.parametrize("name, content, words", [
    ("d.jsonl", as_jsonlines() + '{"text": "wrong attribute", "label": "pos"}\n', "line 4: no text under 'source'"),
    ("d.jsonl", as_jsonlines() + "{broken\n", "line 4: not a JSON object"),
    ("d.csv", as_csv("body", "y"), "'source', 'label' missing"),
])
def test_bad_records_name_the_file_and_line(tmp_path, name, content, words):
    with pytest.raises(KindlingError) as info:
        prepare(tmp_path, name, content)
    assert words in info.value.message


def test_format_detection_order():
    assert format_of(Path("x.csv"), "application/jsonlines", "auto") == "jsonlines"
    assert format_of(Path("x.jsonl.gz"), None, "auto") == "jsonlines"
    assert format_of(Path("x.txt"), None, "auto") == "fasttext"
    assert format_of(Path("x.jsonl"), None, "fasttext") == "fasttext"
