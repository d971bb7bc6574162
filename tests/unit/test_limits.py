"""Bounded readers: a line longer than the limit is an error naming file and line, found without ever
reading the whole line (issue 18: one 200 MB line OOM-killed a 2 GB job)."""

import io
import random

import pytest

from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.channels import prepare_labelled
from train.corpus import prepare_corpus
from train.limits import InputMeter, Limits, bounded_lines, line_blocks, longest_line_check, open_metered
from train.pipe import records, write_record
from train.vector_files import read_word2vec_text


class Endless(io.RawIOBase):
    """A stream of one line that never ends; reading more than `budget` bytes of it fails the test."""

    def __init__(self, head: bytes = b"", budget: int = 4 << 20):
        self.head, self.read_bytes, self.budget = head, 0, budget

    def readable(self):
        return True

    def readinto(self, buffer):
        assert self.read_bytes <= self.budget, f"read {self.read_bytes} bytes of an endless line"
        size = len(buffer)
        data = (self.head + b"x" * size)[:size]
        self.head = self.head[size:]
        buffer[:size] = data
        self.read_bytes += size
        return size


class EndlessSource:
    """Stands in for a channel file (as a Pipe-mode source does) whose second line never ends."""

    name, suffix, suffixes = "endless.txt", ".txt", [".txt"]

    def open_stream(self):
        return io.BufferedReader(Endless(b"__label__a fine\n__label__b "))

    def __str__(self):
        return "endless.txt"


def test_bounded_lines_names_the_line_and_reads_only_the_limit():
    handle = io.BufferedReader(Endless(b"one\ntwo\n"))
    with pytest.raises(KindlingError) as info:
        list(bounded_lines(handle, "f.txt", 1000))
    assert "f.txt, line 3: the line is longer than" in info.value.message and info.value.code == "line_too_long"
    assert list(bounded_lines(io.BytesIO(b"a\n" + b"b" * 10 + b"\nc"), "f", 10)) == [
        (1, b"a\n"), (2, b"b" * 10 + b"\n"), (3, b"c")]


@pytest.mark.parametrize("limit", [1, 7, 64, 1000])
def test_line_blocks_give_the_lines_readlines_gives(limit):
    rng = random.Random(limit)
    lines = [b"w" * rng.randint(0, limit) + b"\n" for _ in range(300)] + [b"t"]
    data = b"".join(lines)
    got = [(first, chunk) for first, chunk in line_blocks(io.BytesIO(data), "f", limit, 97)]
    assert [line for _, chunk in got for line in chunk] == lines
    assert all(chunk[0] == lines[first - 1] for first, chunk in got)
    longer = b"".join(lines[:150] + [b"w" * (limit + 1) + b"\n"] + lines[151:])
    with pytest.raises(KindlingError, match="f, line 151: the line is longer"):
        list(line_blocks(io.BytesIO(longer), "f", limit, 97))


def test_longest_line_check_agrees_with_splitting():
    rng = random.Random(3)
    for _ in range(200):
        data = bytes(rng.choice(b"ab\n") for _ in range(rng.randint(0, 60)))
        limit = rng.randint(0, 8)
        longest = [i + 1 for i, line in enumerate(data.split(b"\n")) if len(line) > limit]
        state, found = [0, 0], None
        try:
            for start in range(0, len(data), 5):
                longest_line_check(data[start:start + 5], "f", limit, state)
        except KindlingError as exc:
            found = int(exc.message.split("line ")[1].split(":")[0])
        assert found == (longest[0] if longest else None), (data, limit)


def test_a_channel_with_an_endless_line_fails_after_reading_about_the_limit(tmp_path):
    with pytest.raises(KindlingError) as info:
        prepare_labelled("train", tmp_path, tmp_path / "out.txt", Tokenizer(), sources=[EndlessSource()],
                         limits=Limits(max_line_bytes=1 << 20))
    assert "endless.txt, line 2: the line is longer than 1 MB (max_line_mb)" in info.value.message


def test_jsonlines_and_csv_lines_are_bounded_too(tmp_path):
    channel = tmp_path / "train"
    channel.mkdir()
    (channel / "a.jsonl").write_text('{"source": "ok", "label": 1}\n{"source": "' + "x" * 5000 + '", "label": 2}\n')
    with pytest.raises(KindlingError, match=r"a.jsonl, line 2: the line is longer than"):
        prepare_labelled("train", channel, tmp_path / "o.txt", Tokenizer(), limits=Limits(max_line_bytes=1000))
    (channel / "a.jsonl").unlink()
    (channel / "b.csv").write_text("source,label\nok,1\n" + "y" * 5000 + ",2\n")
    with pytest.raises(KindlingError, match=r"b.csv, line 3: the line is longer than"):
        prepare_labelled("train", channel, tmp_path / "o.txt", Tokenizer(), limits=Limits(max_line_bytes=1000))


def test_corpus_preparation_and_vector_import_are_bounded(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("short line\n" + "word " * 1000 + "\n")
    with pytest.raises(KindlingError, match=r"a.txt, line 2: the line is longer than"):
        prepare_corpus([raw], tmp_path / "out", Tokenizer(), processes=1, limits=Limits(max_line_bytes=1000))
    (raw / "a.txt").write_bytes("short line\n".encode("utf-16") + "word ".encode("utf-16-le") * 1000)
    with pytest.raises(KindlingError, match=r"a.txt, line 2: the line is longer than"):
        prepare_corpus([raw], tmp_path / "out", Tokenizer(), processes=1, limits=Limits(max_line_bytes=1000))
    vectors = tmp_path / "v.txt"
    vectors.write_text("2 2\na 0.1 0.2\nb " + "0.3 " * 1000 + "\n")
    with pytest.raises(KindlingError, match=r"v.txt, line 3: the line is longer than"):
        read_word2vec_text(vectors, Limits(max_line_bytes=1000))


def test_a_recordio_record_over_the_limit_is_refused_before_its_payload_is_read():
    out = io.BytesIO()
    write_record(out, b"small")
    write_record(out, b"z" * 5000)
    stream = io.BytesIO(out.getvalue())
    got = records(stream, 1000, "train_0")
    assert next(got) == b"small"
    with pytest.raises(KindlingError, match="train_0, record, line 2: the line is longer than"):
        next(got)
    assert stream.tell() == 8 + 8 + 8  # the first record and the second one's header, not its payload


def test_the_meter_caps_decompressed_input(tmp_path):
    import gzip

    bomb = tmp_path / "bomb.txt.gz"
    bomb.write_bytes(gzip.compress(b"a b c\n" * 400_000))  # 2.4 MB from about 10 KB
    meter = InputMeter("the 'train' channel", Limits(max_input_bytes=1 << 20))
    with pytest.raises(KindlingError) as info, open_metered(bomb, meter) as handle:
        while handle.read(1 << 16):
            pass
    assert "Reading the 'train' channel stopped at" in info.value.message and "max_input_gb" in info.value.message
    assert meter.bytes <= (1 << 20) + (1 << 20)


def test_an_alias_table_line_longer_than_the_limit_names_file_and_line(tmp_path):
    from container.tokenizer import Tokenizer
    from train.entities import alias_statistics

    table = tmp_path / "aliases.tsv"
    table.write_bytes(b"alias\tid\nNYC\tQ60\n" + b"x" * 5000)  # no newline at the end, 5,000 bytes
    with pytest.raises(KindlingError) as caught:
        alias_statistics([table], Tokenizer(), max_line_bytes=1000)
    assert caught.value.code == "line_too_long" and f"{table}, line 3" in caught.value.message


def test_a_wiki_page_longer_than_the_bound_is_refused_before_it_is_read_whole():
    import io

    from container import wikipedia

    page = "<page><title>{}</title><ns>0</ns><id>{}</id><revision><text>{}</text></revision></page>"
    dump = ("<mediawiki>" + page.format("Short", 1, "a few words") + page.format("Huge", 2, "y" * (3 << 20))
            + "</mediawiki>").encode()
    reader = io.BytesIO(dump)
    titles = []
    with pytest.raises(KindlingError) as caught:
        for found in wikipedia.pages(reader, "dump.xml", max_page_bytes=1 << 20):
            titles.append(found.title)
    assert titles == ["Short"] and caught.value.code == "page_too_large"
    assert "after the page 'Short'" in caught.value.message and reader.tell() < len(dump)
    assert [p.title for p in wikipedia.pages(io.BytesIO(dump), "dump.xml", max_page_bytes=0)] == ["Short", "Huge"]
