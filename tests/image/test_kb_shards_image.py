"""The entity KB built by shards through the image: the Wikipedia sample as 4 dump part files, `kb scan` as 4
`docker run`s (as 4 machines would), `kb resolve`, `kb count` in 2 parts, `kb write`, then `serve` of the
written bundle. The KB folder is byte for byte the one a single `train` (mode=entities) writes from the same
4 files, and a full disk (a tmpfs) is a named failure with nothing left behind."""

from __future__ import annotations

import bz2
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.contract.test_kb_shards import split
from tests.image.docker import run_image, serving, wait_for_ping, writable
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data, make_tree, open_permissions

HYPERPARAMETERS = {"mode": "entities", "vectors": "false", "evaluation": "false"}
SHARDS = 4


def kb(*args: str, volumes: dict, extra: list[str] | None = None):
    """`docker run IMAGE kb ...` with the hyperparameters every phase must share."""
    return run_image("kb", *args, "--processes", "1", "--hyperparameters", json.dumps(HYPERPARAMETERS),
                     volumes=volumes, extra=extra, timeout=300)


def ok(result) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def digests(folder: Path) -> dict:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def dump_parts(tmp_path: Path) -> list[Path]:
    """The sample as 4 dump files (header, whole pages, footer), each in its own shard's input folder."""
    (tmp_path / "parts").mkdir()
    files = split(bz2.decompress((gensim_test_data() / ENWIKI_SAMPLE).read_bytes()), tmp_path / "parts", SHARDS)
    for index, path in enumerate(files):
        writable(tmp_path / "in" / str(index))
        path.rename(tmp_path / "in" / str(index) / path.name)
    open_permissions(tmp_path / "in")
    return sorted((tmp_path / "in").glob("*/*.xml"))


def test_four_sharded_docker_runs_write_the_single_jobs_kb_and_serve_it(tmp_path):
    files = dump_parts(tmp_path)
    root = make_tree(tmp_path / "ml", HYPERPARAMETERS, {"train": {f.name: f.read_bytes() for f in files}})
    writable(root / "model")
    open_permissions(root)
    out, model = writable(tmp_path / "out"), writable(tmp_path / "model")
    shared = {tmp_path / "in": "/in", out: "/out", model: "/model"}
    with ThreadPoolExecutor(SHARDS + 1) as pool:  # the 4 machines at once, and the one job beside them
        single = pool.submit(run_image, "train", volumes={root: "/opt/ml"}, timeout=300)
        scans = [pool.submit(kb, "scan", f"/in/{index}", "/out", "--shard", f"{index}/{SHARDS}", volumes=shared)
                 for index in range(SHARDS)]
        for scan in scans:
            ok(scan.result())
        ok(kb("resolve", "/out", volumes=shared))
        for count in [pool.submit(kb, "count", "/out", "--part", f"{part}/2", volumes=shared) for part in range(2)]:
            ok(count.result())
        ok(kb("write", "/out", "/model", volumes=shared))
        ok(single.result())
    assert sorted(p.name for p in (out / "scan").iterdir()) == [f"shard-{i:04d}-of-0004" for i in range(SHARDS)]
    assert digests(model / "kb") == digests(root / "model" / "kb")
    sharded, one = (json.loads((m / "manifest.json").read_text())["tasks"]["entities"] for m in (model, root / "model"))
    assert sharded["metrics"]["counts"] == one["metrics"]["counts"] and one["metrics"]["counts"]["pages"] == 98
    text = "Aristotle was a student of Plato; anarchism is a political philosophy."
    with serving(model) as (url, container):
        wait_for_ping(url, 30, container)
        response = requests.post(f"{url}/invocations", json={"instances": [text]}, timeout=10)
    assert response.status_code == 200, response.text
    annotations = response.json()[0]["annotations"]
    assert {"Aristotle", "Plato", "Anarchism"} <= {a["title"] for a in annotations}
    assert all(text[a["start"]:a["end"]] == a["spot"] for a in annotations)


def test_a_full_disk_fails_kb_scan_and_the_training_job_by_name_with_nothing_left(tmp_path):
    """A 2 MB tmpfs fills while the sample is scanned: `kb scan` exits 1 naming OUT, and a training job whose
    TMPDIR is that tmpfs writes /opt/ml/output/failure naming its scratch folder; neither leaves a partial KB."""
    files = dump_parts(tmp_path)
    tiny = ["--tmpfs", "/small:rw,size=2m,mode=1777"]
    # OUT on the tmpfs; a shell then lists what the failed scan left there (the tmpfs goes with the container)
    command = (f"python -m container kb scan /in /small/out --shard 0/1 --processes 1 --hyperparameters "
               f"'{json.dumps(HYPERPARAMETERS)}'; echo exit=$?; find /small/out -type f")
    scanned = run_image("-c", command, volumes={tmp_path / "in": "/in"}, extra=[*tiny, "--entrypoint", "sh"],
                        timeout=120)
    assert "kb scan failed: Cannot write /small/out" in scanned.stdout, scanned.stdout[-3000:] + scanned.stderr[-3000:]
    assert "No space left on device" in scanned.stdout or "took only part of a write" in scanned.stdout
    assert "sorted runs in /small/out: give OUT more room" in scanned.stdout
    assert scanned.stdout.rstrip().endswith("exit=1\n/small/out/scan/shard-0000-of-0001/failed.txt")
    root = make_tree(tmp_path / "ml", HYPERPARAMETERS, {"train": {f.name: f.read_bytes() for f in files}})
    writable(root / "model")
    open_permissions(root)
    trained = run_image("train", volumes={root: "/opt/ml"}, env={"TMPDIR": "/small"}, extra=tiny, timeout=120)
    assert trained.returncode == 1, trained.stdout[-3000:] + trained.stderr[-3000:]
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("Cannot write /small/kindling-kb-") and "set TMPDIR to a folder on a larger" in failure
    assert not list((root / "model").iterdir())
