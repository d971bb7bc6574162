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


# --- the canonical-block fast path must write exactly what line-by-line normalization writes ---

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import train.channels as channels  # noqa: E402

LABELS = ["__label__a", "__label__B", "__label__", "__label__x__label__y", "__label__é"]
WORDS = ["word", "Word", "ünï", "it's", "a-b", "x__label__", "__label__a", ",", "!", "\xa0", "\u2003", "\x1c", "\r"]
SEPARATORS = [" ", " ", " ", "  ", "\t"]
MESSY_LINE = st.tuples(st.lists(st.sampled_from(LABELS), max_size=2), st.lists(st.sampled_from(WORDS), max_size=4),
                       st.lists(st.sampled_from(SEPARATORS), min_size=6, max_size=6),
                       st.sampled_from(["\n"] * 4 + ["", "\n\n"]))
# mostly canonical lines, one thing at a time slightly off, so that the fast path is really exercised
CLEAN_LINE = st.tuples(st.lists(st.sampled_from(LABELS[:2]), min_size=1, max_size=2),
                       st.lists(st.sampled_from(["word", "Word", "ünï", "it's", "x", "7"]), min_size=1, max_size=4),
                       st.lists(st.sampled_from([" "] * 12 + ["  "]), min_size=6, max_size=6),
                       st.sampled_from(["\n"] * 12 + [""]))
LINE = st.one_of(CLEAN_LINE, CLEAN_LINE, CLEAN_LINE, MESSY_LINE)


def _line(parts) -> str:
    labels, words, separators, end = parts
    tokens = labels + words
    return "".join(token + (separators[i] if i < len(tokens) - 1 else "") for i, token in enumerate(tokens)) + end
TOKENIZERS = [Tokenizer("whitespace", False), Tokenizer("whitespace", True), Tokenizer("regex", True),
              Tokenizer("regex", False)]


def _prepare_both(tmp_path, data: bytes, tokenizer: Tokenizer, monkeypatch):
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "in" / "data.txt").write_bytes(data)
    outputs = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(channels, "canonical_label_runs", lambda *args: None)
            try:
                prepared = prepare_labelled("train", tmp_path / "in", tmp_path / "out.txt", tokenizer)
                outputs.append(((tmp_path / "out.txt").read_bytes(), prepared.examples, dict(prepared.labels),
                                prepared.skipped_unlabelled, prepared.skipped_empty))
            except KindlingError as exc:
                outputs.append(exc.code)
    return outputs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE, max_size=12), st.sampled_from(TOKENIZERS), st.booleans())
def test_fast_path_writes_what_the_line_by_line_path_writes(tmp_path, monkeypatch, lines, tokenizer, tiny_blocks):
    data = "".join(_line(parts) for parts in lines).encode("utf-8")
    with monkeypatch.context() as patch:
        if tiny_blocks:  # many blocks: canonical and non-canonical ones mixed in one file
            patch.setattr(channels, "BLOCK_BYTES", 16)
        fast, slow = _prepare_both(tmp_path, data, tokenizer, monkeypatch)
    assert fast == slow


def test_a_canonical_file_takes_the_fast_path(tmp_path):
    block = b"__label__a __label__b two labels\n__label__c one label\n"
    runs = channels.canonical_label_runs(block, "__label__", Tokenizer("regex", True))
    assert runs == {"__label__a __label__b ": 1, "__label__c ": 1}
    for not_canonical in (b"__label__a  two spaces\n", b"__label__a Upper\n", b"no label\n", b"__label__a\n",
                          b"__label__a text __label__b\n", b"__label__a tab\there\n", b"__label__a no newline"):
        assert channels.canonical_label_runs(not_canonical, "__label__", Tokenizer("regex", True)) is None
