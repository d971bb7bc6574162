"""Multistream .bz2 dumps (Wikimedia's `...-multistream.xml.bz2`) are cut at stream starts: the pieces read every
page once, in dump order, with or without the index; a false stream magic, an index of another dump or a
stream that is not cut at a page never becomes a cut; damage anywhere is named with the file and the byte."""

from __future__ import annotations

import bz2
import io
import itertools
import logging
import os
from pathlib import Path

import pytest

from container import wikipedia
from container.dump_pieces import Piece, pieces
from container.errors import KindlingError
from tests.multistream import streams, write_multistream
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data
from tests.unit.test_dump_pieces import dump, read

NAME = "enwiki-20240601-pages-articles-multistream.xml.bz2"
INDEX = "enwiki-20240601-pages-articles-multistream-index.txt.bz2"  # where Wikimedia puts it


@pytest.fixture(scope="module")
def sample_xml() -> bytes:
    return bz2.decompress((gensim_test_data() / ENWIKI_SAMPLE).read_bytes())


@pytest.fixture(scope="module")
def expected(sample_xml) -> list[tuple]:
    return [(p.title, p.page_id, p.text) for p in wikipedia.pages(io.BytesIO(sample_xml), "sample")]


def multistream(directory: Path, xml: bytes, pages_per_stream: int = 10, index: bool = True) -> tuple[Path, list]:
    path = directory / NAME
    offsets = write_multistream(xml, path, pages_per_stream, directory / INDEX if index else None)
    return path, offsets


@pytest.mark.parametrize("index", [True, False], ids=["index", "scan"])
def test_a_multistream_dump_is_cut_at_page_streams_into_more_pieces_for_a_larger_count(tmp_path, sample_xml, expected,
                                                                                       index):
    path, offsets = multistream(tmp_path, sample_xml, index=index)
    assert len(offsets) > 20
    counts = []
    for count in (1, 2, 3, 5, 8, 40):
        cut = pieces([path], count, min_bytes=1)
        counts.append(len(cut))
        assert read(cut) == expected  # every page once, in dump order
        assert [p.start for p in cut] == sorted(p.start for p in cut) and cut[0].start == 0
        for piece, after in itertools.pairwise(cut):
            assert piece.end == after.start and after.start in offsets[2:-1]  # a page stream (not header, footer)
            assert after.header == sample_xml[:sample_xml.index(b"  <page>")]
    assert counts[:4] == [1, 2, 3, 5] and counts == sorted(counts) and counts[-1] > 8


def test_the_index_and_the_scan_cut_at_the_same_streams_and_the_index_is_no_piece(tmp_path, sample_xml):
    path, _ = multistream(tmp_path, sample_xml)
    with_index = pieces([path, tmp_path / INDEX], 6, min_bytes=1)
    (tmp_path / INDEX).unlink()
    assert with_index == pieces([path], 6, min_bytes=1) and len(with_index) == 6


def test_the_index_is_found_under_wikimedias_names():
    from container.dump_pieces import index_of

    assert index_of(Path("d/enwiki-20240601-pages-articles-multistream.xml.bz2")) == \
        Path("d/enwiki-20240601-pages-articles-multistream-index.txt.bz2")
    assert index_of(Path("enwiki-20240601-pages-articles-multistream3.xml-p151574p311329.bz2")) == \
        Path("enwiki-20240601-pages-articles-multistream-index3.txt-p151574p311329.bz2")
    assert index_of(Path("wiki.xml.bz2")) == Path("wiki-index.txt.bz2")
    assert index_of(Path("wiki.xml")) is None and index_of(Path("wiki.xml.gz")) is None


def test_an_index_of_another_dump_is_not_trusted(tmp_path, sample_xml, caplog):
    path, _ = multistream(tmp_path, sample_xml)
    scanned = pieces([path], 5, min_bytes=1)
    lines = bz2.decompress((tmp_path / INDEX).read_bytes()).decode().splitlines()
    shifted = [f"{int(offset) + 700}:{rest}" for offset, rest in (line.split(":", 1) for line in lines)]
    (tmp_path / INDEX).write_bytes(bz2.compress("\n".join(shifted).encode() + b"\n"))
    with caplog.at_level(logging.WARNING):
        assert pieces([path], 5, min_bytes=1) == scanned and len(scanned) == 5
    assert "does not match" in caplog.text and "scanning the dump for stream starts instead" in caplog.text


def test_only_a_true_page_stream_is_a_cut():
    from container.dump_pieces import OTHER_STREAM, PAGE_STREAM, next_page_stream, stream_at

    xml = dump(0, 40).encode()
    header, first, *_ = streams(xml, 10)
    page_stream, header_stream = bz2.compress(first), bz2.compress(header)
    false_magic = b"BZh91AY&SY" + os.urandom(5000)  # the magic by chance inside compressed data
    damaged = bytearray(page_stream)  # a real stream start whose first block is damaged: it gives no text
    damaged[len(damaged) // 2:len(damaged) // 2 + 8] = bytes(8)
    truncated = page_stream[:len(page_stream) // 2]
    for data, kind in ((false_magic, None), (bytes(damaged), None), (truncated, None),
                       (header_stream, OTHER_STREAM), (page_stream, PAGE_STREAM)):
        assert stream_at(io.BytesIO(data), 0) == kind
    data = false_magic + bytes(damaged) + truncated + page_stream + page_stream
    assert next_page_stream(io.BytesIO(data), 0, len(data)) == len(data) - 2 * len(page_stream)
    # a file of streams not cut at pages (pbzip2 cuts every 900 kB): the first true stream decides, no cut
    data = bz2.compress(xml[:5000]) + bz2.compress(xml[5000:])
    assert next_page_stream(io.BytesIO(data), 1, len(data)) is None


def test_a_multistream_file_cut_elsewhere_than_at_pages_and_a_single_stream_are_one_piece(tmp_path, sample_xml,
                                                                                          expected):
    arbitrary = tmp_path / "arbitrary.xml.bz2"
    arbitrary.write_bytes(b"".join(bz2.compress(sample_xml[i:i + 300_000]) for i in range(0, len(sample_xml), 300_000)))
    single = tmp_path / "single.xml.bz2"
    single.write_bytes(bz2.compress(sample_xml))
    for path in (arbitrary, single):
        assert pieces([path], 8, min_bytes=1) == [Piece(path)]
        assert read([Piece(path)]) == expected


def test_a_truncated_multistream_dump_names_the_file_the_byte_and_the_stream(tmp_path, sample_xml):
    path, offsets = multistream(tmp_path, sample_xml)
    size = (offsets[12] + offsets[13]) // 2  # in the middle of the 12th page stream
    path.write_bytes(path.read_bytes()[:size])
    cut = pieces([path], 4, min_bytes=1)
    assert len(cut) >= 3 and cut[-1].start < size
    read(cut[:-1])  # the pieces before the break read as usual
    with pytest.raises(KindlingError) as caught:
        read(cut[-1:])
    error = caught.value
    assert error.code == "truncated_input" and str(path) in error.message
    assert f"at byte {size} of {size}, in the bz2 stream that starts at byte {offsets[12]}" in error.message
    assert "download it again" in error.hint and "checksum" in error.hint


@pytest.mark.parametrize("damage", ["data", "stream start"])
def test_damage_in_a_middle_piece_is_named_and_drops_no_page_silently(tmp_path, sample_xml, damage):
    path, offsets = multistream(tmp_path, sample_xml, index=False)
    data = bytearray(path.read_bytes())
    broken = offsets[11]
    if damage == "data":
        data[broken + 200:broken + 264] = bytes(64)
    else:  # bz2.BZ2File ends quietly at bytes that do not start a stream: a piece, closed with </mediawiki>,
        # would have lost its later pages without a word (a whole file at least fails as XML, with no byte named)
        data[broken:broken + 4] = b"XXXX"
    path.write_bytes(bytes(data))
    cut = pieces([path], 4, min_bytes=1)
    middle = next(p for p in cut if p.start <= broken < (p.end or len(data)))
    assert middle.end is not None and middle.start > 0
    for piece in (middle, Piece(path)):
        with pytest.raises(KindlingError, match=rf"{NAME}: the compressed data ends or breaks at byte \d+ of "
                                                rf"{len(data)}, in the bz2 stream that starts at byte {broken} "):
            read([piece])


def test_the_benchs_multistream_dump_is_the_repeated_sample_with_its_index(tmp_path):
    from tests.bench.wikidump import multistream_sample, repeat_sample

    path = multistream_sample(1, tmp_path / NAME)
    assert (tmp_path / INDEX).exists() and sorted(p.name for p in tmp_path.iterdir()) == [INDEX, NAME]
    cut = pieces([path, tmp_path / INDEX], 2, min_bytes=1)
    assert len(cut) == 2 and read(cut) == read([Piece(repeat_sample(1, tmp_path / "plain.xml"))])
