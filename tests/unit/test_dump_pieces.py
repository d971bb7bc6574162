"""Dump pieces: read in order, the pieces of a dump give exactly its pages, however it is cut."""

import bz2
import gzip
from pathlib import Path

import pytest

from container import wikipedia
from container.dump_pieces import Piece, open_piece, pieces
from container.errors import KindlingError

HEADER = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">\n  <siteinfo><sitename>W</sitename>'
          '</siteinfo>\n')


def page(number: int, text: str = "") -> str:
    body = text or f"Page {number} links to [[Page {number + 1}]]. " * (number % 7 + 1)
    return (f"  <page>\n    <title>Page {number}</title>\n    <ns>0</ns>\n    <id>{number}</id>\n"
            f"    <revision><id>{number + 1000}</id><text>{body}</text></revision>\n  </page>\n")


def dump(first: int, last: int) -> str:
    return HEADER + "".join(page(n) for n in range(first, last)) + "</mediawiki>\n"


def read(pieces_) -> list[tuple]:
    out = []
    for piece in pieces_:
        with open_piece(piece) as handle:
            out += [(p.title, p.page_id, p.text) for p in wikipedia.pages(handle, piece.where)]
    return out


@pytest.mark.parametrize("count", [1, 2, 3, 7, 40, 1000])
def test_the_pieces_of_an_xml_dump_give_every_page_once_in_order(tmp_path, count):
    path = tmp_path / "wiki.xml"
    path.write_text(dump(0, 60))
    whole = read([Piece(path)])
    cut = pieces([path], count, min_bytes=1)
    assert read(cut) == whole and len(whole) == 60
    assert len(cut) == min(count, 60) if count < 40 else 1 < len(cut) <= 60
    for piece in cut[1:]:  # every piece after the first starts at a page tag
        assert path.read_bytes()[piece.start:piece.start + 6] == b"<page>"


def test_a_folder_of_parts_is_cut_file_by_file_in_file_order(tmp_path):
    parts = [tmp_path / "p1.xml", tmp_path / "p2.xml"]
    parts[0].write_text(dump(0, 30))
    parts[1].write_text(dump(30, 50))
    cut = pieces(parts, 6, min_bytes=1)
    assert {p.path for p in cut} == set(parts) and len(cut) >= 4
    assert [t for t, _, _ in read(cut)] == [f"Page {n}" for n in range(50)]


def test_small_files_pages_without_a_page_and_compressed_files_are_one_piece(tmp_path):
    (tmp_path / "tiny.xml").write_text(dump(0, 3))
    (tmp_path / "empty.xml").write_text(HEADER + "</mediawiki>\n")
    (tmp_path / "wiki.xml.bz2").write_bytes(bz2.compress(dump(0, 60).encode()))
    files = [tmp_path / "tiny.xml", tmp_path / "empty.xml", tmp_path / "wiki.xml.bz2"]
    assert pieces(files, 8) == [Piece(f) for f in files]  # under the minimum piece size
    assert pieces([tmp_path / "empty.xml"], 8, min_bytes=1) == [Piece(tmp_path / "empty.xml")]
    assert pieces([tmp_path / "wiki.xml.bz2"], 8, min_bytes=1) == [Piece(tmp_path / "wiki.xml.bz2")]
    assert len(read(pieces(files, 8, min_bytes=1))) == 63


def test_a_cut_inside_the_last_page_leaves_no_empty_piece(tmp_path):
    path = tmp_path / "wiki.xml"
    path.write_text(HEADER + page(1, "y" * 30_000) + page(2, "x" * 50_000) + "</mediawiki>\n")
    cut = pieces([path], 4, min_bytes=1)  # the first cut moves to page 2, the others fall inside it
    assert len(cut) == 2 and [t for t, _, _ in read(cut)] == ["Page 1", "Page 2"]


@pytest.mark.parametrize("suffix, compress", [(".bz2", bz2.compress), (".gz", gzip.compress)])
def test_a_truncated_compressed_dump_names_the_file_and_the_byte(tmp_path, suffix, compress):
    data = compress(dump(0, 400).encode())
    path = tmp_path / f"wiki.xml{suffix}"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(KindlingError) as caught:
        read(pieces([path], 1))
    assert caught.value.code == "truncated_input"
    assert str(path) in caught.value.message and f"at byte {len(data) // 2} of {len(data) // 2}" in caught.value.message


def test_corrupt_bz2_data_is_named_too(tmp_path):
    data = bytearray(bz2.compress(dump(0, 400).encode()))
    data[2000:2100] = bytes(100)
    path = tmp_path / "wiki.xml.bz2"
    path.write_bytes(bytes(data))
    with pytest.raises(KindlingError, match=r"wiki.xml.bz2: the compressed data ends or breaks at byte \d+ of"):
        read([Piece(path)])


def test_the_sample_dump_reads_the_same_through_a_piece(tmp_path):
    from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data

    sample = gensim_test_data() / ENWIKI_SAMPLE
    with bz2.open(sample) as handle:
        expected = [(p.title, p.page_id, p.text) for p in wikipedia.pages(handle, "sample")]
    assert read(pieces([Path(sample)], 4)) == expected
    plain = tmp_path / "sample.xml"
    plain.write_bytes(bz2.decompress(sample.read_bytes()))
    cut = pieces([plain], 8)
    assert len(cut) == 8 and read(cut) == expected


def test_a_page_tag_split_between_two_reads_is_found(tmp_path, monkeypatch):
    import container.dump_pieces as dump_pieces

    monkeypatch.setattr(dump_pieces, "_BLOCK", 7)  # every tag straddles a read boundary somewhere
    path = tmp_path / "wiki.xml"
    path.write_text(dump(0, 20))
    cut = pieces([path], 5, min_bytes=1)
    assert len(cut) == 5 and read(cut) == read([Piece(path)])
