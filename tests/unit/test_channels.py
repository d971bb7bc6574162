import bz2
import gzip

import pytest

from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.channels import prepare_labelled


def prepare(directory, tmp_path):
    return prepare_labelled("train", directory, tmp_path / "out.txt", Tokenizer())


def test_every_file_in_the_directory_is_read_including_compressed(tmp_path):
    data = tmp_path / "train"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("__label__x Hello, World!\n__label__y second line\n")
    (data / "sub" / "b.txt.gz").write_bytes(gzip.compress(b"__label__x __label__z multi label\n"))
    (data / "c.bz2").write_bytes(bz2.compress(b"__label__y from bz2\n"))
    (data / ".hidden").write_text("__label__q ignored\n")
    prepared = prepare(data, tmp_path)
    assert prepared.examples == 4 and len(prepared.files) == 3
    assert prepared.labels == {"__label__x": 2, "__label__y": 2, "__label__z": 1}
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert lines[0] == "__label__x hello , world !"
    assert "__label__x __label__z multi label" in lines


def test_unlabelled_and_blank_lines_are_skipped_and_counted(tmp_path):
    data = tmp_path / "train"
    data.mkdir()
    (data / "a.txt").write_text("no label here\n\n__label__x kept\n__label__y\n")
    prepared = prepare(data, tmp_path)
    assert (prepared.examples, prepared.skipped_unlabelled, prepared.skipped_empty) == (1, 1, 1)


@pytest.mark.parametrize("files, code, words", [
    ({}, "empty_channel", "contains no files"),
    ({"a.txt": b""}, "no_labelled_lines", "no labelled lines"),
    ({"a.txt": b"just text\nmore text\n"}, "no_labelled_lines", "2 records without a label"),
    ({"a.txt": b"__label__x fine\n__label__y caf\xe9 latin-1\n"}, "bad_encoding", "line 2: byte 15"),
])
def test_bad_channels_fail_with_a_sentence(tmp_path, files, code, words):
    data = tmp_path / "train"
    data.mkdir()
    for name, content in files.items():
        (data / name).write_bytes(content)
    with pytest.raises(KindlingError) as info:
        prepare(data, tmp_path)
    assert info.value.code == code and words in info.value.message


def test_missing_channel_directory(tmp_path):
    with pytest.raises(KindlingError, match="'train' channel is missing"):
        prepare(tmp_path / "nope", tmp_path)
