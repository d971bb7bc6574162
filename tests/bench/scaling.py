"""`make bench`, scale part: how serving throughput grows with workers, and sharded corpus preparation.

- serving: the classification sample model and the word-vector sample model, 1, 2 and 4 gunicorn
  workers, wrk at concurrency 16 on loopback: requests/s and per-worker efficiency (on this 2-core
  machine, 4 workers can only show that more workers than cores do not help);
- sharded preparation: the word-vector benchmark corpus' raw files (or the Wikipedia sample when that
  cache is absent) split round-robin into N shards prepared by N concurrent `prepare --parts` processes
  and merged, against one `prepare` over everything: wall time and byte equality.
Writes reports/bench-scaling.json; docs/scale.md explains how this maps onto SageMaker and ECS.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.serving import BODY, EMBEDDING_BODY, kindling, log, train_model, write_report, wrk
from tests.image.docker import wait_for_ping

ROOT = Path(__file__).resolve().parents[2]


def serving(models: dict[str, tuple[Path, str]], seconds: int) -> dict:
    report = {}
    for name, (model, body) in models.items():
        rates = {}
        for workers in (1, 2, 4):
            with kindling(model, workers) as server:
                wait_for_ping(server.url, 60, server.container)
                wrk(server.url, 2, body=body)
                rates[workers] = wrk(server.url, seconds, body=body)["rps"]
            log(f"scaling {name}: {workers} worker(s) {rates[workers]:.0f} req/s")
        report[name] = {"requests_per_second": rates,
                        "speedup_2_workers": round(rates[2] / rates[1], 2), "speedup_4_workers": round(rates[4] / rates[1], 2)}
    return report


def sharded_prepare(scratch: Path, shards: int) -> dict:
    raw = ROOT / ".cache" / "bench-corpus" / "raw"
    files = sorted(raw.glob("*.txt")) if raw.is_dir() else []
    if not files:
        from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data

        files = [gensim_test_data() / ENWIKI_SAMPLE]
    # more, smaller files than shards: split the raw text into 1 MB pieces first
    pieces = scratch / "pieces"
    pieces.mkdir()
    count = 0
    for path in files:
        if path.suffix == ".txt":
            with open(path, "rb") as handle:
                while chunk := handle.readlines(1 << 20):
                    (pieces / f"{path.stem}-{count:05d}.txt").write_bytes(b"".join(chunk))
                    count += 1
        else:
            shutil.copy(path, pieces / path.name)
    inputs = sorted(pieces.iterdir())
    python = [sys.executable, "-m", "container", "prepare"]
    started = time.monotonic()
    subprocess.run([*python, str(pieces), str(scratch / "single"), "--processes", "1"], check=True, capture_output=True)
    single_seconds = time.monotonic() - started
    started = time.monotonic()
    workers = []
    for number in range(shards):
        shard = scratch / f"shard-{number}"
        shard.mkdir()
        for path in inputs[number::shards]:
            (shard / path.name).symlink_to(path)
        workers.append(subprocess.Popen([*python, "--parts", str(shard), str(scratch / f"out-{number}"), "--processes",
                                         "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for worker in workers:
        assert worker.wait(3600) == 0
    subprocess.run([*python, "--merge", *[str(scratch / f"out-{n}") for n in range(shards)], str(scratch / "merged")],
                   check=True, capture_output=True)
    sharded_seconds = time.monotonic() - started
    same = (scratch / "single" / "corpus.txt").read_bytes() == (scratch / "merged" / "corpus.txt").read_bytes()
    megabytes = sum(p.stat().st_size for p in inputs) / 1e6
    log(f"sharded prepare: {megabytes:.0f} MB in {len(inputs)} files; 1 process {single_seconds:.1f} s, "
        f"{shards} shards + merge {sharded_seconds:.1f} s; identical: {same}")
    return {"megabytes": round(megabytes, 1), "files": len(inputs), "shards": shards,
            "single_seconds": round(single_seconds, 2), "sharded_seconds": round(sharded_seconds, 2),
            "identical": same}


def main() -> int:
    report_path = ROOT / "reports" / "bench-scaling.json"
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as scratch_name:
        scratch = Path(scratch_name)
        scratch.chmod(0o777)
        classification = train_model(scratch / "classification")
        vectors = train_model(scratch / "vectors", sample="embeddings")
        work = scratch / "prepare-work"
        work.mkdir()
        report = {"serving": serving({"classification": (classification, BODY),
                                      "word_vectors": (vectors, EMBEDDING_BODY)}, 8),
                  "sharded_prepare": sharded_prepare(work, 4)}
    write_report(report_path, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
