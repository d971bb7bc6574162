"""`make bench`, entity part: annotation throughput over HTTP, KB load time and memory, and how memory grows.

- throughput: the Wikipedia-sample KB (`train --sample entities`) served by 2 workers; texts of ~30
  tokens (the first 30 tokens of the sample's paragraphs), one text per request (wrk, 16 connections)
  and 100 texts per request (8 connections): texts per second;
- memory: PSS (/proc/PID/smaps_rollup, all server processes) with 1 and 4 workers, after every worker
  has annotated, and the time from `docker run` to the first 200 on /ping; the baseline, measured in the
  same run: the bare Flask app (tests/bench/bare_app.py, preloaded like kindling) with 1 and 4 workers, so
  what each added worker costs can be compared with what it costs any gunicorn + Flask server;
- growth: synthetic alias-table KBs of 1x, 4x and 16x 100,000 aliases (made-up entities, three
  candidates per alias), trained by the image: KB size on disk, load time and PSS with 1 worker, and
  with 4 workers for the 16x KB (the goal's measurement: with the 8 MB sample KB the ~8 MB of private
  memory every gunicorn worker has anyway dominates the ratio).
- build: the KB built from the repeated-sample dumps (tests/bench/kb_scaling.py): prepare as reference,
  1 and 2 processes under --memory 1g, 4 shards + merge, sha256, extrapolation to 95 GB (`--part build
  --factors 1,8` runs only this, into reports/bench-entities-build.json).
Writes reports/bench-entities.json; exits 1 when a build goal is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.bench.kb_scaling import build_scaling
from tests.bench.serving import bare_flask, kindling, log, train_model, write_report, wrk
from tests.image.docker import IMAGE, docker, wait_for_ping
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data

ROOT = Path(__file__).resolve().parents[2]
GOALS = {"batched_texts_per_second_min": 500, "pss_ratio_4_to_1_max": 1.3}


def sample_texts(count: int) -> list[str]:
    """~30-token texts: the start of the Wikipedia sample's paragraphs, as they read."""
    from container.wikipedia import articles, parse_article

    texts = []
    for page in articles(gensim_test_data() / ENWIKI_SAMPLE):
        for paragraph in parse_article(page.text)[0].split("\n"):
            words = paragraph.split()
            if len(words) >= 30:
                texts.append(" ".join(words[:30]))
    random.Random(3).shuffle(texts)
    return (texts * (count // max(len(texts), 1) + 1))[:count]


def throughput(model: Path, seconds: int) -> dict:
    texts = sample_texts(1000)
    report = {}
    with kindling(model, 2) as server:
        wait_for_ping(server.url, 60, server.container)
        for name, batch, connections in (("single", 1, 16), ("batched", 100, 8)):
            body = json.dumps({"instances": texts[:batch]})
            check = requests.post(f"{server.url}/invocations", data=body, timeout=30,
                                  headers={"Content-Type": "application/json"})
            assert check.status_code == 200, check.text[:500]
            wrk(server.url, 2, connections=connections, body=body)  # warm up
            result = wrk(server.url, seconds, connections=connections, body=body)
            report[name] = {"texts_per_request": batch, "connections": connections,
                            "texts_per_second": round(result["rps"] * batch, 1), "requests_per_second": result["rps"],
                            "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"], "errors": result["errors"]}
            log(f"entities {name}: {report[name]['texts_per_second']:.0f} texts/s ({batch} per request), "
                f"p99 {result['p99_ms']} ms, errors {result['errors']}")
    return report


def _measure(make_server, workers_list, body: str, report: dict) -> dict:
    for workers in workers_list:
        with make_server(workers) as server:
            wait_for_ping(server.url, 120, server.container)
            report[f"cold_start_s_{workers}w"] = round(time.monotonic() - server.started, 2)
            for _ in range(20 * workers):  # every worker answers (connections spread across workers)
                requests.post(f"{server.url}/invocations", data=body, timeout=30,
                              headers={"Content-Type": "application/json"})
            time.sleep(1)
            report[f"pss_mb_{workers}w"] = round(server.memory_kib("Pss") / 1024, 1)
            report[f"rss_mb_{workers}w"] = round(server.memory_kib("Rss") / 1024, 1)
    if "pss_mb_4w" in report:
        report["pss_ratio_4_to_1"] = round(report["pss_mb_4w"] / report["pss_mb_1w"], 3)
        report["pss_mb_per_added_worker"] = round((report["pss_mb_4w"] - report["pss_mb_1w"]) / 3, 1)
    return report


def memory(model: Path, workers_list=(1, 4)) -> dict:
    report = {"kb_mb": round(sum(p.stat().st_size for p in (model / "kb").iterdir()) / 1e6, 1)}
    return _measure(lambda workers: kindling(model, workers), workers_list,
                    json.dumps({"instances": sample_texts(20)}), report)


def bare_memory() -> dict:
    return _measure(lambda workers: bare_flask(workers, preload=True), (1, 4), json.dumps({"instances": ["x"]}), {})


def synthetic_kb(directory: Path, aliases: int) -> Path:
    rng = random.Random(aliases)
    channel = directory / "input" / "data" / "train"
    channel.mkdir(parents=True)
    (directory / "input" / "config").mkdir(parents=True)
    (directory / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"mode": "entities"}))
    with open(channel / "aliases.tsv", "w", encoding="utf-8") as out:
        for index in range(aliases):
            alias = f"alias{index} term{rng.randrange(aliases)}"
            for candidate in range(3):
                entity = rng.randrange(aliases)
                out.write(f"{alias}\tE{entity}\tEntity {entity}\t{rng.randint(1, 50)}\n")
    (directory / "model").mkdir()
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    result = docker("run", "--rm", "--network", "host", "-v", f"{directory}:/opt/ml", IMAGE, "train", timeout=3600)
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    return directory / "model"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", default=str(ROOT / "reports" / "bench-entities.json"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--base-aliases", type=int, default=100000)
    parser.add_argument("--part", choices=("all", "build"), default="all",
                        help="build: only the KB build scaling (tests/bench/kb_scaling.py)")
    parser.add_argument("--factors", default="1,8,32,128", help="dump sizes for the build part, as sample copies")
    args = parser.parse_args()
    factors = tuple(int(f) for f in args.factors.split(","))
    if args.part == "build":
        return build_only(args.report, factors)
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as scratch_name:
        scratch = Path(scratch_name)
        scratch.chmod(0o777)
        log("entities: training the Wikipedia-sample KB")
        model = train_model(scratch / "wiki", sample="entities")
        speed = throughput(model, args.seconds)
        wiki_memory = memory(model)
        log(f"entities memory: {wiki_memory}")
        baseline = bare_memory()
        log(f"bare Flask memory (baseline): {baseline}")
        growth = {}
        for factor in (1, 4, 16):
            aliases = args.base_aliases * factor
            started = time.monotonic()
            kb = synthetic_kb(scratch / f"synthetic-{factor}", aliases)
            built = time.monotonic() - started
            workers = (1, 4) if factor == 16 else (1,)
            growth[f"{factor}x"] = {"aliases": aliases, "build_seconds": round(built, 1), **memory(kb, workers)}
            log(f"entities growth {factor}x ({aliases} aliases): {growth[f'{factor}x']}")
            shutil.rmtree(scratch / f"synthetic-{factor}", ignore_errors=True)
    report = {"goals": GOALS, "throughput": speed, "memory": wiki_memory, "baseline_bare_flask_memory": baseline,
              "growth": growth,
              # what an added worker costs beyond what it costs a bare gunicorn + Flask server: the KB's share
              "kb_mb_per_added_worker_beyond_bare_flask": round(wiki_memory["pss_mb_per_added_worker"] -
                                                                baseline["pss_mb_per_added_worker"], 1)}
    report["verdicts"] = {
        "batched_texts_per_second": speed["batched"]["texts_per_second"] >= GOALS["batched_texts_per_second_min"],
        "pss_ratio_16x_kb": growth["16x"]["pss_ratio_4_to_1"] <= GOALS["pss_ratio_4_to_1_max"],
    }
    with tempfile.TemporaryDirectory(prefix="kindling-bench-build-") as scratch_name:
        report["build"] = build_scaling(Path(scratch_name), factors)
    write_report(args.report, report)
    log(f"entities verdicts {report['verdicts']}, build {report['build']['verdicts']}")
    return 1 if False in report["build"]["verdicts"].values() else 0


def build_only(path: str, factors: tuple[int, ...]) -> int:
    """Only the build part, into reports/bench-entities-build.json unless --report says otherwise."""
    with tempfile.TemporaryDirectory(prefix="kindling-bench-build-") as scratch_name:
        report = {"build": build_scaling(Path(scratch_name), factors)}
    if path == str(ROOT / "reports" / "bench-entities.json"):
        path = str(ROOT / "reports" / "bench-entities-build.json")
    write_report(path, report)
    log(f"entities build verdicts {report['build']['verdicts']}")
    return 1 if False in report["build"]["verdicts"].values() else 0


if __name__ == "__main__":
    sys.exit(main())
