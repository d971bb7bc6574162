"""The entity KB built by shards through `python -m container kb scan|resolve|count|write`: the same bytes as
one training job, and every way a sharded run can go wrong refused with the shard or setting named."""

from __future__ import annotations

import bz2
import errno
import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from container.dump_pieces import open_piece, pieces
from container.errors import KindlingError
from container.paths import Paths
from serve.app import create_app
from serve.predictors import load_predictors
from container.settings import ServeSettings
from tests.contract.test_entity_kb_equivalence import QUIET, RECORD
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data, make_tree
from tests.unit.test_kb_build import random_dump
from train import sorted_runs
from train.job import run
from train.kb_build import shards
from train.kb_build.shards import main

pytestmark = pytest.mark.contract
write_module = importlib.import_module("train.kb_build.write")  # the package's `write` is the function


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


def scan(directory: Path, out: Path, shard: str, hyperparameters: dict | None = None) -> int:
    return main(["scan", str(directory), str(out), "--shard", shard, "--processes", "1",
                 "--hyperparameters", json.dumps(hyperparameters or {})])


def scan_all(inputs: list[Path], out: Path, hyperparameters: dict | None = None, count: int | None = None) -> None:
    for index, directory in enumerate(inputs):
        assert scan(directory, out, f"{index}/{count or len(inputs)}", hyperparameters) == 0


def merged(out: Path, model: Path, parts: int = 2) -> dict:
    """resolve, count in `parts` parts, write: the sha256 of every kb/ file."""
    assert main(["resolve", str(out)]) == 0
    for part in range(parts):
        assert main(["count", str(out), "--part", f"{part}/{parts}", "--processes", "1"]) == 0
    assert main(["write", str(out), str(model)]) == 0
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in (model / "kb").iterdir()}


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


def test_a_failed_scan_leaves_only_its_reason_which_resolve_names(tmp_path, parts):
    out = tmp_path / "out"
    inputs = shard_inputs(tmp_path, parts, [[0], [1], [2]])
    scan_all(inputs, out)
    (inputs[1] / "zero.xml").write_bytes(b"")  # not a dump: the rerun of shard 1 fails
    assert scan(inputs[1], out, "1/3") == 1
    failed = out / "scan" / "shard-0001-of-0003"
    assert [p.name for p in failed.iterdir()] == ["failed.txt"]  # the earlier scan's pieces are gone too
    error = refused(shards.resolve_shards, out, 1 << 20)
    assert error.code == "unfinished_shard" and "Shard shard-0001-of-0003" in error.message
    assert "failed its scan: " in error.message and "zero.xml is not well-formed XML" in error.message
    (inputs[1] / "zero.xml").unlink()
    assert scan(inputs[1], out, "1/3") == 0 and not (failed / "failed.txt").exists()
    assert main(["resolve", str(out)]) == 0


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


@pytest.mark.parametrize("tokenizer", [{"tokenizer": "whitespace"}, {"language": "de"}])
def test_a_shard_with_another_tokenizer_is_a_shard_mismatch(tmp_path, parts, tokenizer):
    out = tmp_path / "out"
    inputs = shard_inputs(tmp_path, parts, [[0, 1], [2]])
    assert scan(inputs[0], out, "0/2") == 0 and scan(inputs[1], out, "1/2", tokenizer) == 0
    error = refused(shards.resolve_shards, out, 1 << 20)
    key, value = next(iter(tokenizer.items()))
    assert error.code == "shard_mismatch" and "shard-0001-of-0002 and shard-0000-of-0002" in error.message
    assert "tokenizer: " in error.message and repr(value) in error.message


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
    assert error.code == "duplicate_page" and re.search(r"The page '[^']+' is in the dump twice", error.message)
    assert "part-1.xml" in error.message and "copy-of-part-1.xml" in error.message


def test_counts_must_cover_every_piece_once_and_an_empty_shard_is_fine(tmp_path, parts):
    out, model = tmp_path / "out", tmp_path / "model"
    inputs = shard_inputs(tmp_path, parts, [[0, 1, 2], []])
    scan_all(inputs, out)
    for phase in (["count", str(out), "--part", "0/1"], ["write", str(out), str(model)]):  # before resolve: named, no traceback
        assert main(phase) == 1
        error = refused(getattr(shards, {"count": "count_part", "write": "write_model"}[phase[0]]), out,
                        *((0, 1, 1) if phase[0] == "count" else (model, shards._params({}))))
        assert error.code == "unfinished_shard" and "has no finished resolve" in error.message
    assert main(["resolve", str(out)]) == 0
    assert main(["count", str(out), "--part", "0/2"]) == 0
    error = refused(shards.write_model, out, model, shards._params({}))
    assert error.code == "missing_shard" and "never counted" in error.message
    assert "count part(s) part-0001-of-0002 did not run" in error.message
    (out / "counts" / "part-0001-of-0002").mkdir()
    error = refused(shards.write_model, out, model, shards._params({}))
    assert error.code == "unfinished_shard" and "Count part part-0001-of-0002" in error.message
    assert main(["count", str(out), "--part", "1/2"]) == 0 and main(["write", str(out), str(model)]) == 0
    assert (model / "kb" / "kb.json").exists() and (model / "manifest.json").exists()


def test_shards_without_files_or_without_pages_contribute_nothing(tmp_path, parts, capsys):
    """N fixed instances for fewer files: a shard whose folder is empty or missing, or whose file holds no page,
    succeeds with an empty marker, and the KB is the same bytes as without it."""
    inputs = shard_inputs(tmp_path, parts, [[0], [1], [2], [], []])
    (inputs[3] / "no-pages.xml").write_text('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
                                            "<siteinfo><sitename>W</sitename></siteinfo>\n</mediawiki>\n")
    shutil.rmtree(inputs[4])  # ShardedByS3Key may give an instance no folder at all
    scan_all(inputs[:3], tmp_path / "three")
    scan_all([inputs[0], inputs[1], inputs[3], inputs[2], inputs[4], tmp_path / "in" / "5"], tmp_path / "six")
    marker = json.loads((tmp_path / "six" / "scan" / "shard-0004-of-0006" / "shard.json").read_text())
    assert marker["files"] == [] and marker["pieces"] == 0 and marker["counts"] == {}
    assert "shard 4/6 has no dump files" in capsys.readouterr().out
    assert merged(tmp_path / "six", tmp_path / "model-six", 3) == merged(tmp_path / "three", tmp_path / "model-three")
    logged = capsys.readouterr().out
    assert "shard-0002-of-0006, shard-0004-of-0006, shard-0005-of-0006 hold(s) no pages" in logged


def test_shards_without_any_page_are_an_empty_dump(tmp_path):
    out = tmp_path / "out"
    scan_all(shard_inputs(tmp_path, [], [[], []]), out)
    assert refused(shards.resolve_shards, out, 1 << 20).code == "empty_dump"


def full_disk(monkeypatch, where: str, module=sorted_runs) -> None:
    """Every spilled column whose path holds `where` meets a full disk (forked scan workers inherit the patch)."""
    real = sorted_runs.save_array

    def save(path: Path, array) -> None:
        if where in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, array)

    monkeypatch.setattr(module, "save_array", save)


def test_a_full_disk_while_spilling_fails_the_kb_command_with_the_folder_named_and_nothing_partial(
        tmp_path, parts, monkeypatch, capsys):
    out = tmp_path / "out"
    inputs = shard_inputs(tmp_path, parts, [[0], [1, 2]])
    assert scan(inputs[0], out, "0/2") == 0
    with monkeypatch.context() as patch:
        full_disk(patch, "links-")  # in a scan worker
        assert scan(inputs[1], out, "1/2") == 1
    logged = capsys.readouterr().out
    assert "kb scan failed: Cannot write " in logged and "links-00000/" in logged
    assert "No space left on device" in logged and f"sorted runs in {out}: give OUT more room" in logged
    assert [p.name for p in (out / "scan" / "shard-0001-of-0002").iterdir()] == ["failed.txt"]
    error = refused(shards.resolve_shards, out, 1 << 20)
    assert "shard-0001-of-0002" in error.message and "No space left on device" in error.message
    assert scan(inputs[1], out, "1/2") == 0
    with monkeypatch.context() as patch:
        full_disk(patch, "counts-00000")  # resolve's first spilled run
        assert main(["resolve", str(out), "--hyperparameters", '{"working_budget_mb": 1}']) == 1
    assert "kb resolve failed: Cannot write " in capsys.readouterr().out
    assert [p.name for p in (out / "resolved").iterdir()] == ["failed.txt"]
    error = refused(shards.count_part, out, 0, 1, 1)
    assert "has no finished resolve (it failed: Cannot write" in error.message
    assert main(["resolve", str(out)]) == 0 and main(["count", str(out), "--part", "0/1"]) == 0
    with monkeypatch.context() as patch:  # a full MODEL: the bundle's own error, and MODEL keeps nothing
        full_disk(patch, "candidate_entity", module=write_module)
        assert main(["write", str(out), str(tmp_path / "model")]) == 1
    logged = capsys.readouterr().out
    assert "kb write failed: Cannot write " in logged and "candidate_entity.npy: No space left on device" in logged
    assert not list((tmp_path / "model").iterdir())
    assert main(["write", str(out), str(tmp_path / "model")]) == 0 and (tmp_path / "model" / "manifest.json").exists()


def test_a_full_disk_while_spilling_fails_the_training_job_with_a_failure_file_and_no_model(tmp_path, monkeypatch):
    """mode=entities: /opt/ml/output/failure names the scratch folder and TMPDIR; /opt/ml/model and the scratch
    space keep nothing of the build."""
    root = make_tree(tmp_path / "ml", {**QUIET, "working_budget_mb": "1", "processes": "1"}, {"train": {}})
    shutil.copy(gensim_test_data() / ENWIKI_SAMPLE, root / "input" / "data" / "train" / ENWIKI_SAMPLE)
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    full_disk(monkeypatch, "counts-00000")
    assert run(Paths(base=root, input=root / "input")) == 1
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith(f"Cannot write {tmp_path / 'scratch'}/kindling-kb-") and "counts-00000/" in failure
    assert "No space left on device" in failure and "set TMPDIR to a folder on a larger file system" in failure
    assert not list((root / "model").iterdir()) and not list((tmp_path / "scratch").iterdir())
    assert [p.name for p in (root / "output").iterdir()] == ["failure"]
