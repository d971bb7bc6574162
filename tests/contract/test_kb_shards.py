"""The entity KB built by shards through `python -m container kb scan|resolve|count|write`: the same bytes as
one training job, and every way a sharded run can go wrong refused with the shard or setting named."""

from __future__ import annotations

import bz2
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from container.dump_pieces import open_piece, pieces
from container.errors import KindlingError
from serve.app import create_app
from serve.predictors import load_predictors
from container.settings import ServeSettings
from tests.contract.test_entity_kb_equivalence import RECORD
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data
from tests.unit.test_kb_build import random_dump
from train.kb_build import shards
from train.kb_build.shards import main

pytestmark = pytest.mark.contract


def split(dump: bytes, directory: Path, parts: int) -> list[Path]:
    """The dump as `parts` complete dump files, cut at page boundaries (what Wikimedia's part files are)."""
    whole = directory / "whole.xml"
    whole.write_bytes(dump)
    out = []
    for number, piece in enumerate(pieces([whole], parts, min_bytes=1)):
        out.append(directory / f"part-{number}.xml")
        with open_piece(piece) as handle:
            out[-1].write_bytes(handle.read())
    whole.unlink()
    assert len(out) == parts
    return out


def shard_inputs(tmp_path: Path, files: list[Path], layout: list[list[int]]) -> list[Path]:
    inputs = []
    for shard, members in enumerate(layout):
        inputs.append(tmp_path / "in" / str(shard))
        inputs[-1].mkdir(parents=True)
        for member in members:
            shutil.copy(files[member], inputs[-1] / files[member].name)
    return inputs


def scan_all(inputs: list[Path], out: Path, hyperparameters: dict | None = None, count: int | None = None) -> None:
    for index, directory in enumerate(inputs):
        assert main(["scan", str(directory), str(out), "--shard", f"{index}/{count or len(inputs)}",
                     "--processes", "1", "--hyperparameters", json.dumps(hyperparameters or {})]) == 0


def test_the_sample_in_four_shards_gives_the_one_job_kb_byte_for_byte_and_serves(tmp_path):
    files = split(bz2.decompress((gensim_test_data() / ENWIKI_SAMPLE).read_bytes()), tmp_path, 4)
    out, model = tmp_path / "out", tmp_path / "model"
    scan_all(shard_inputs(tmp_path, files, [[0], [1], [2], [3]]), out)
    assert main(["resolve", str(out)]) == 0
    for part in ("0/2", "1/2"):
        assert main(["count", str(out), "--part", part, "--processes", "2"]) == 0
    assert main(["write", str(out), str(model)]) == 0
    record = json.loads(RECORD.read_text())["sample"]
    assert {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in (model / "kb").iterdir()} == record["files"]
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["tasks"]["entities"]["metrics"]["counts"] == record["counts"]
    assert not list(out.glob(".partial-*")) and not list(model.glob(".staging-*"))
    client = create_app(load_predictors(model), ServeSettings.from_env({})).test_client()
    response = client.post("/invocations", data=json.dumps({"instances": ["Anarchism and Aristotle in Athens."]}),
                           headers={"Content-Type": "application/json"})
    assert {"Anarchism", "Aristotle"} <= {a["title"] for a in response.json[0]["annotations"]}


@pytest.fixture
def parts(tmp_path) -> list[Path]:
    (tmp_path / "parts").mkdir()
    return split(random_dump(4).encode(), tmp_path / "parts", 3)


def refused(function, *args) -> KindlingError:
    with pytest.raises(KindlingError) as caught:
        function(*args)
    return caught.value


def test_a_missing_or_unfinished_shard_is_named(tmp_path, parts):
    out = tmp_path / "out"
    inputs = shard_inputs(tmp_path, parts, [[0], [1], [2]])
    scan_all([inputs[0]], out, count=3)
    error = refused(shards.resolve_shards, out, 1 << 20)
    assert error.code == "missing_shard" and "shard-0001-of-0003, shard-0002-of-0003 of 3" in error.message
    scan_all(inputs, out)
    (out / "scan" / "shard-0001-of-0003" / "shard.json").unlink()
    error = refused(shards.resolve_shards, out, 1 << 20)
    assert error.code == "unfinished_shard" and "shard-0001-of-0003" in error.message
    assert main(["resolve", str(out)]) == 1


def test_shards_scanned_with_other_settings_are_refused_with_the_setting_named(tmp_path, parts):
    out = tmp_path / "out"
    inputs = shard_inputs(tmp_path, parts, [[0], [1, 2]])
    scan_all(inputs[:1], out, count=2)
    assert main(["scan", str(inputs[1]), str(out), "--shard", "1/2", "--processes", "1",
                 "--hyperparameters", '{"lowercase": "false"}']) == 0
    error = refused(shards.resolve_shards, out, 1 << 20)
    assert error.code == "shard_mismatch" and "tokenizer" in error.message and "'lowercase': False" in error.message
    scan_all(inputs, out)
    assert main(["resolve", str(out)]) == 0 and main(["count", str(out), "--part", "0/1"]) == 0
    error = refused(shards.write_model, out, tmp_path / "model", shards._params({"title_links": "3"}))
    assert error.code == "shard_mismatch" and "title_links: 2 against 3" in error.message
    assert not (tmp_path / "model").exists()


def test_the_same_file_or_page_in_two_shards_is_refused(tmp_path, parts):
    out = tmp_path / "out"
    scan_all(shard_inputs(tmp_path, parts, [[0, 1], [1, 2]]), out)
    error = refused(shards.resolve_shards, out, 1 << 20)
    assert error.code == "overlapping_shards" and "part-1.xml was scanned by two shards" in error.message
    shutil.rmtree(tmp_path / "in")
    shutil.rmtree(out)
    inputs = shard_inputs(tmp_path, parts, [[0, 1], [2]])
    shutil.copy(parts[1], inputs[1] / "copy-of-part-1.xml")
    scan_all(inputs, out)
    error = refused(shards.resolve_shards, out, 1 << 20)
    assert error.code == "duplicate_page" and "is in the dump twice" in error.message
    assert "part-1.xml" in error.message and "copy-of-part-1.xml" in error.message


def test_counts_must_cover_every_piece_once_and_an_empty_shard_is_fine(tmp_path, parts):
    out, model = tmp_path / "out", tmp_path / "model"
    inputs = shard_inputs(tmp_path, parts, [[0, 1, 2], []])
    scan_all(inputs, out)
    assert main(["resolve", str(out)]) == 0
    assert main(["count", str(out), "--part", "0/2"]) == 0
    error = refused(shards.write_model, out, model, shards._params({}))
    assert error.code == "missing_shard" and "never counted" in error.message
    assert main(["count", str(out), "--part", "1/2"]) == 0 and main(["write", str(out), str(model)]) == 0
    assert (model / "kb" / "kb.json").exists() and (model / "manifest.json").exists()


def test_shards_without_any_page_are_an_empty_dump(tmp_path):
    out = tmp_path / "out"
    scan_all(shard_inputs(tmp_path, [], [[], []]), out)
    assert refused(shards.resolve_shards, out, 1 << 20).code == "empty_dump"
