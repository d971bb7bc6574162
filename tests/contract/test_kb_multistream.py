"""The entity KB from a multistream .bz2 (Wikimedia's `...-pages-articles-multistream.xml.bz2`), cut at its streams
and read by several processes: the same bytes as from the plain XML in one process, with or without the index;
a truncated download fails the build with the file and the byte named, from whichever worker read it."""

from __future__ import annotations

import bz2
import hashlib
import json
import re
from pathlib import Path

import pytest

from container.errors import KindlingError
from container.paths import Paths
from container.tokenizer import Tokenizer
from tests.contract.test_entity_kb_equivalence import QUIET, RECORD
from tests.multistream import write_multistream
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data, make_tree
from tests.unit.test_kb_build import kb_files
from train.entities import EntityParams
from train.job import run
from train.kb_build import build
from train.kb_build.scan import Settings
from train.kb_build.write import Thresholds

pytestmark = pytest.mark.contract

NAME = "enwiki-20240601-pages-articles-multistream.xml.bz2"
INDEX = "enwiki-20240601-pages-articles-multistream-index.txt.bz2"


def sample_xml() -> bytes:
    return bz2.decompress((gensim_test_data() / ENWIKI_SAMPLE).read_bytes())


def kb(files: list[Path], directory: Path, **options) -> tuple[dict, dict, int]:
    params = EntityParams()
    settings = Settings(Tokenizer(params.tokenizer, params.lowercase, params.language), params.title_links,
                        params.drop_missing_targets)
    directory.mkdir()
    built = build(files, settings, Thresholds(), directory, directory / "kb", **options)
    return built.counts, kb_files(directory / "kb"), len(built.pieces)


@pytest.fixture(scope="module")
def plain_kb(tmp_path_factory) -> tuple[dict, dict]:
    """The KB of the sample as plain XML, read once from start to end by one process."""
    directory = tmp_path_factory.mktemp("plain")
    (directory / "sample.xml").write_bytes(sample_xml())
    counts, files, pieces = kb([directory / "sample.xml"], directory / "build", processes=1, min_piece_bytes=1 << 40)
    assert pieces == 1
    return counts, files


@pytest.mark.parametrize("index", [True, False], ids=["index", "scan"])
def test_the_kb_from_a_multistream_dump_in_two_processes_is_the_plain_dumps_in_one(tmp_path, plain_kb, index):
    (tmp_path / "in").mkdir()
    write_multistream(sample_xml(), tmp_path / "in" / NAME, 10, tmp_path / "in" / INDEX if index else None)
    counts, files, pieces = kb(sorted((tmp_path / "in").iterdir()), tmp_path / "multistream", processes=2,
                               min_piece_bytes=1 << 14)
    assert (counts, files) == plain_kb and pieces == 8


def test_the_job_reads_a_multistream_dump_in_pieces_and_writes_the_recorded_kb(tmp_path, caplog):
    """As Wikimedia publishes it: the index beside the dump in the channel (not an alias table)."""
    caplog.set_level("INFO")
    root = make_tree(tmp_path / "ml", {**QUIET, "processes": "2"}, {"train": {}})
    channel = root / "input" / "data" / "train"
    write_multistream(sample_xml(), channel / NAME, 10, channel / INDEX)
    assert run(Paths(base=root, input=root / "input")) == 0, (root / "output" / "failure").read_text()
    record = json.loads(RECORD.read_text())["sample"]
    model = root / "model"
    assert {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in (model / "kb").iterdir()} == record["files"]
    scanned = re.search(r"entity KB: (\d+) piece\(s\) scanned by 2 process\(es\)", caplog.text)
    assert scanned and int(scanned.group(1)) > 4


def test_a_truncated_multistream_dump_fails_the_build_with_the_file_and_the_byte(tmp_path):
    (tmp_path / "in").mkdir()
    dump = tmp_path / "in" / NAME
    offsets = write_multistream(sample_xml(), dump, 10, tmp_path / "in" / INDEX)
    size = (offsets[15] + offsets[16]) // 2
    dump.write_bytes(dump.read_bytes()[:size])
    with pytest.raises(KindlingError) as caught:
        kb([dump, tmp_path / "in" / INDEX], tmp_path / "kb", processes=2, min_piece_bytes=1 << 14)
    assert caught.value.code == "truncated_input" and caught.value.hint
    assert f"{dump}: the compressed data ends or breaks at byte {size} of {size}, in the bz2 stream that starts " \
           f"at byte {offsets[15]}" in caught.value.message
