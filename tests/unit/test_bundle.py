import json

import pytest

from container.bundle import MANIFEST, describe_files, read_bundle, safe_relative, staged_bundle, write_manifest
from container.errors import KindlingError

TASKS = {"classification": {"kind": "classification", "files": {"model": "model.bin"}}}


def write_bundle(model_dir, payload=b"weights"):
    with staged_bundle(model_dir) as stage:
        (stage / "model.bin").write_bytes(payload)
        write_manifest(stage, {"tasks": TASKS, "files": describe_files(stage, ["model.bin"])})


def test_committed_bundle_reads_back_with_checksums(tmp_path):
    write_bundle(tmp_path / "model")
    bundle = read_bundle(tmp_path / "model")
    assert bundle.tasks == TASKS
    assert bundle.manifest["files"]["model.bin"]["bytes"] == 7
    assert "kindling" in bundle.manifest["versions"]
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [MANIFEST, "model.bin"]


def test_failure_inside_the_block_leaves_the_old_bundle_untouched(tmp_path):
    model = tmp_path / "model"
    write_bundle(model, b"old")
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    with pytest.raises(RuntimeError):
        with staged_bundle(model) as stage:
            (stage / "model.bin").write_bytes(b"half-written")
            raise RuntimeError("training crashed")
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before


def test_a_block_that_writes_no_manifest_commits_nothing(tmp_path):
    with pytest.raises(KindlingError, match="without writing a bundle manifest"):
        with staged_bundle(tmp_path / "model") as stage:
            (stage / "model.bin").write_bytes(b"x")
    assert list((tmp_path / "model").iterdir()) == []


def test_stale_staging_directories_are_swept(tmp_path):
    stale = tmp_path / "model" / ".staging-deadbeef"
    stale.mkdir(parents=True)
    write_bundle(tmp_path / "model")
    assert not stale.exists()


@pytest.mark.parametrize("name", ["../etc/passwd", "/abs/path", "a/../../b", "dir\\file", ""])
def test_names_that_escape_the_bundle_are_rejected(name):
    with pytest.raises(KindlingError):
        safe_relative(name, "test")


def test_reading_damaged_bundles_says_what_is_wrong(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(KindlingError, match="manifest.json is missing") as info:
        read_bundle(model)
    assert info.value.status == 503
    (model / MANIFEST).write_text("{not json")
    with pytest.raises(KindlingError, match="not valid JSON"):
        read_bundle(model)
    write_bundle(model)
    (model / "model.bin").write_bytes(b"WEIGHTS")
    with pytest.raises(KindlingError, match="does not match the checksum"):
        read_bundle(model)
    (model / "model.bin").write_bytes(b"truncated")
    with pytest.raises(KindlingError, match="has 9 bytes; the manifest says 7"):
        read_bundle(model)
    (model / "model.bin").unlink()
    with pytest.raises(KindlingError, match="names model.bin, which is missing"):
        read_bundle(model)
    manifest = json.loads((model / MANIFEST).read_text())
    manifest["format_version"] = 99
    (model / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(KindlingError, match="format_version 99"):
        read_bundle(model)
