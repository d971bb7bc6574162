"""`make bench`: serving speed and memory, measured against a bare Flask baseline in the same run.

Everything runs on this machine: the servers are containers on the host network bound to 127.0.0.1,
the load generator is wrk (Debian package) on loopback, and every run is bounded in time. Writes a
JSON report (default reports/bench.json) with the numbers and the goals they are judged against:

- throughput: kindling single-sentence classification vs the bare app at concurrency 16 (ratio,
  p50/p99), for the gthread and sync worker classes, and single-word vector requests (BlazingText
  word2vec shape, the word-vector sample model) against the same bare app; and the price of reading
  whole requests in the event loop (serve/worker.py): the bare app on kindling's worker vs on gunicorn's
  gthread worker, which kindling used before;
- memory: proportional set size (PSS, /proc/PID/smaps_rollup) of all server processes with a large
  model (2M buckets x 100 dims, ~800 MB) for 1 and 4 workers;
- cold start: `docker run` to the first 200 on /ping with that model;
- soak: a paced load at about 80 % of measured capacity for SOAK_SECONDS (default 300), with the error
  count and the growth of the servers' resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.image.docker import IMAGE, docker, free_port, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
BODY = json.dumps({"instances": ["a gripping, beautifully acted film"]})
EMBEDDING_BODY = json.dumps({"instances": ["river"]})  # BlazingText word2vec request, one 100-d vector back
GOALS = {"rps_ratio_min": 0.8, "worker_rps_ratio_min": 0.95, "p99_ms_max": 10.0, "pss_ratio_4_to_1_max": 1.3, "cold_start_s_max": 5.0,
         "soak_errors_max": 0, "soak_rss_growth_max": 0.05}


def write_report(path, report: dict) -> None:
    """Every bench part writes its JSON report (reports/*.json) the same way."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=2) + "\n")


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- servers ---------------------------------------------------------------------------------------
class Server:
    """A container serving on a free loopback port; stopped (by container id) on exit."""

    def __init__(self, command: list[str], *, model: Path | None = None, env: dict | None = None,
                 mounts: dict[Path, str] | None = None, entrypoint: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        options = ["run", "-d", "--network", "host", "-e", f"SAGEMAKER_BIND_TO_PORT={self.port}"]
        if entrypoint:
            options += ["--entrypoint", entrypoint]
        if model:
            options += ["-v", f"{model}:/opt/ml/model:ro"]
        for host, target in (mounts or {}).items():
            options += ["-v", f"{host}:{target}:ro"]
        for key, value in (env or {}).items():
            options += ["-e", f"{key}={value}"]
        self.options, self.command = options, command
        self.container = ""
        self.started = 0.0

    def __enter__(self) -> "Server":
        self.started = time.monotonic()
        result = docker(*self.options, IMAGE, *[c.format(port=self.port) for c in self.command], timeout=60)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        self.container = result.stdout.strip()
        return self

    def __exit__(self, *exc) -> None:
        docker("rm", "-f", self.container, timeout=60)

    def pids(self) -> list[int]:
        top = docker("top", self.container, "-eo", "pid").stdout.split()[1:]
        return [int(p) for p in top if p.isdigit()]

    def memory_kib(self, field: str) -> int:
        """Sum of one smaps_rollup field (Pss, Rss) over every process of the container."""
        total = 0
        for pid in self.pids():
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            match = re.search(rf"^{field}:\s+(\d+) kB", text, flags=re.MULTILINE)
            total += int(match.group(1)) if match else 0
        return total


def kindling(model: Path, workers: int, worker_class: str = "gthread") -> Server:
    return Server(["serve"], model=model, env={"SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
                                               "KINDLING_WORKER_CLASS": worker_class})


KINDLING_WORKER = "serve.worker.KindlingWorker"


def bare_flask(workers: int, worker_class: str = "gthread", access_log: bool = False, preload: bool = False) -> Server:
    command = ["-m", "gunicorn", "--chdir", "/bench", "-w", str(workers), "-k", worker_class, "--threads",
               "1" if worker_class == "sync" else "4", "-b", "0.0.0.0:{port}", "--no-control-socket",
               *(["--access-logfile", "-"] if access_log else []), *(["--preload"] if preload else []), "bare_app:app"]
    return Server(command, entrypoint="python", mounts={ROOT / "tests" / "bench": "/bench"})


# --- load ------------------------------------------------------------------------------------------
def wrk_script(delay_ms: int = 0, body: str = BODY) -> Path:
    path = Path(tempfile.mkstemp(suffix=".lua", prefix="kindling-wrk-")[1])
    delay = f"\nfunction delay() return {delay_ms} end\n" if delay_ms else "\n"
    path.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = {json.dumps(body)}" + delay)
    return path


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int, connections: int = 16, delay_ms: int = 0, body: str = BODY) -> dict:
    script = wrk_script(delay_ms, body)
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                              f"{url}/invocations"], capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = non_2xx + (sum(int(x) for x in socket.groups()) if socket else 0)
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, flags=re.MULTILINE)}
    return {"rps": rps, "requests": requests_done, "errors": errors, "p50_ms": latency.get("50"),
            "p99_ms": latency.get("99")}


def throughput(model: Path, embeddings: Path, seconds: int, rounds: int) -> dict:
    """Bare app and kindling in turn (A B A B ...), so drift of the shared machine hits both alike."""
    makers = {"bare_flask_gthread": lambda: bare_flask(2), "kindling_gthread": lambda: kindling(model, 2),
              "kindling_embeddings_gthread": lambda: kindling(embeddings, 2),
              "bare_flask_kindling_worker": lambda: bare_flask(2, KINDLING_WORKER),
              "bare_flask_sync": lambda: bare_flask(2, "sync"), "kindling_sync": lambda: kindling(model, 2, "sync"),
              # context: the bare app with gunicorn's own access log, as kindling always logs each request
              "bare_flask_gthread_access_log": lambda: bare_flask(2, access_log=True)}
    bodies = {"kindling_embeddings_gthread": EMBEDDING_BODY}
    results: dict[str, list[dict]] = {name: [] for name in makers}
    for round_number in range(rounds):
        for name, make in makers.items():
            body = bodies.get(name, BODY)
            with make() as server:
                wait_for_ping(server.url, 30)
                wrk(server.url, 2, body=body)  # warm up
                result = wrk(server.url, seconds, body=body)
                results[name].append(result)
                log(f"round {round_number + 1} {name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']} ms, "
                    f"p99 {result['p99_ms']} ms, errors {result['errors']}")
    median = {name: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2] for name, runs in results.items()}

    def ratio(a: str, b: str) -> float:
        """Median over rounds of a/b within the same round: the runs of a round are seconds apart, so a
        slow spell of the shared machine hits both sides of a ratio rather than one whole server."""
        ratios = sorted(x["rps"] / y["rps"] for x, y in zip(results[a], results[b]))
        return ratios[len(ratios) // 2]

    return {
        "runs": results,
        "median": median,
        "rps_ratio_gthread": ratio("kindling_gthread", "bare_flask_gthread"),
        "rps_ratio_embeddings_gthread": ratio("kindling_embeddings_gthread", "bare_flask_gthread"),
        "rps_ratio_sync": ratio("kindling_sync", "bare_flask_sync"),
        "rps_ratio_kindling_worker_vs_gthread": ratio("bare_flask_kindling_worker", "bare_flask_gthread"),
        "rps_ratio_vs_bare_with_access_log": ratio("kindling_gthread", "bare_flask_gthread_access_log"),
    }


# --- models ----------------------------------------------------------------------------------------
def train_model(directory: Path, hyperparameters: dict | None = None, sample: str = "classification") -> Path:
    """A bundle trained by the image on a baked-in sample, optionally with other hyperparameters."""
    model = directory / "model"
    model.mkdir(parents=True)
    model.chmod(0o777)
    mounts = ["-v", f"{model}:/opt/ml/model"]
    if hyperparameters:
        config = directory / "config"
        config.mkdir()
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        mounts += ["-v", f"{config}/hyperparameters.json:/opt/kindling/sample/input/config/hyperparameters.json:ro"]
    result = docker("run", "--rm", "--network", "host", *mounts, IMAGE, "train", "--sample", sample, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-2000:] + result.stderr[-2000:])
    return model


def large_model_memory(model: Path) -> dict:
    size_mb = (model / "model.bin").stat().st_size / 1e6
    report = {"model_mb": round(size_mb, 1)}
    for workers in (1, 4):
        with kindling(model, workers) as server:
            wait_for_ping(server.url, 120, server.container)
            report[f"cold_start_s_{workers}w"] = round(time.monotonic() - server.started, 2)  # from `docker run`
            for _ in range(50):  # touch the model in every worker
                requests.post(f"{server.url}/invocations", data=BODY, timeout=10,
                              headers={"Content-Type": "application/json"})
            time.sleep(1)
            report[f"pss_mb_{workers}w"] = round(server.memory_kib("Pss") / 1024, 1)
            report[f"rss_mb_{workers}w"] = round(server.memory_kib("Rss") / 1024, 1)
            report[f"processes_{workers}w"] = len(server.pids())
        log(f"{workers} worker(s): PSS {report[f'pss_mb_{workers}w']} MB, RSS {report[f'rss_mb_{workers}w']} MB, "
            f"cold start {report[f'cold_start_s_{workers}w']} s")
    report["pss_ratio_4_to_1"] = report["pss_mb_4w"] / report["pss_mb_1w"]
    return report


# --- soak ------------------------------------------------------------------------------------------
def soak(model: Path, capacity_rps: float, seconds: int) -> dict:
    """Paced load: each connection pauses DELAY_MS between requests; the connection count sets the rate."""
    delay_ms = 10
    target = 0.8 * capacity_rps
    with kindling(model, 2) as server:
        wait_for_ping(server.url, 30)
        wrk(server.url, 2)
        connections = max(1, round(target * (delay_ms + 2) / 1000))
        for _ in range(3):  # calibrate: rate is close to proportional to the connection count
            achieved = wrk(server.url, 4, connections=connections, delay_ms=delay_ms)["rps"]
            if abs(achieved - target) <= 0.05 * target:
                break
            connections = max(1, round(connections * target / achieved))
        log(f"soak: {seconds} s, {connections} connections pausing {delay_ms} ms, aiming at {target:.0f} req/s "
            f"(80 % of {capacity_rps:.0f})")
        rss_start = server.memory_kib("Rss")
        result = wrk(server.url, seconds, connections=connections, delay_ms=delay_ms)
        rss_end = server.memory_kib("Rss")
    log(f"soak: {result['rps']:.0f} req/s ({result['rps'] / capacity_rps:.0%}), {result['errors']} errors, "
        f"RSS {rss_start / 1024:.0f} -> {rss_end / 1024:.0f} MB")
    return {"seconds": seconds, "target_rps": round(target, 1), "connections": connections, "delay_ms": delay_ms,
            "rps": result["rps"], "share_of_capacity": result["rps"] / capacity_rps, "requests": result["requests"],
            "errors": result["errors"], "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"],
            "rss_mb_start": round(rss_start / 1024, 1), "rss_mb_end": round(rss_end / 1024, 1),
            "rss_growth": (rss_end - rss_start) / rss_start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", default=str(ROOT / "reports" / "bench.json"))
    parser.add_argument("--seconds", type=int, default=8, help="length of each throughput run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of each server")
    parser.add_argument("--soak-seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", "300")))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("make bench needs wrk on PATH (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)")
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as scratch:
        scratch_path = Path(scratch)
        log("training the sample models (classification, word vectors) and a large model (2M buckets x 100 dims)")
        small = train_model(scratch_path / "small")
        vectors = train_model(scratch_path / "vectors", sample="embeddings")
        large = train_model(scratch_path / "large", {"mode": "supervised", "epochs": "1", "buckets": "2000000",
                                                     "vector_dim": "100", "min_count": "1"})
        speed = throughput(small, vectors, args.seconds, args.rounds)
        memory = large_model_memory(large)
        endurance = soak(small, speed["median"]["kindling_gthread"]["rps"], args.soak_seconds)
        shutil.rmtree(scratch_path, ignore_errors=True)
    kg = speed["median"]["kindling_gthread"]
    verdicts = {
        "rps_ratio": speed["rps_ratio_gthread"] >= GOALS["rps_ratio_min"],
        "worker_rps_ratio": speed["rps_ratio_kindling_worker_vs_gthread"] >= GOALS["worker_rps_ratio_min"],
        "p99_ms": kg["p99_ms"] <= GOALS["p99_ms_max"],
        "pss_ratio": memory["pss_ratio_4_to_1"] <= GOALS["pss_ratio_4_to_1_max"],
        "cold_start": memory["cold_start_s_1w"] <= GOALS["cold_start_s_max"],
        "soak_errors": endurance["errors"] <= GOALS["soak_errors_max"],
        "soak_rss_growth": endurance["rss_growth"] <= GOALS["soak_rss_growth_max"],
    }
    report = {"machine": {"cpus": os.cpu_count(), "image": IMAGE}, "goals": GOALS, "verdicts": verdicts,
              "throughput": speed, "memory": memory, "soak": endurance}
    write_report(args.report, report)
    log(f"report: {args.report}")
    log(f"kindling/bare req/s: gthread {speed['rps_ratio_gthread']:.2f}, sync {speed['rps_ratio_sync']:.2f}, "
        f"word vectors {speed['rps_ratio_embeddings_gthread']:.2f}; "
        f"kindling's worker/gthread {speed['rps_ratio_kindling_worker_vs_gthread']:.2f}; "
        f"p99 {kg['p99_ms']} ms; PSS 4w/1w {memory['pss_ratio_4_to_1']:.2f}; cold start {memory['cold_start_s_1w']} s; "
        f"soak errors {endurance['errors']}, RSS growth {endurance['rss_growth']:.1%}")
    log("verdicts: " + ", ".join(f"{k}={'ok' if v else 'MISSED'}" for k, v in verdicts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
