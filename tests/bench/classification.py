"""`make bench`, classification part: kindling's training job and serving against plain fastText.

Same data, same parameters, same machine, same run:
- training: `docker run IMAGE train` (whole job: container start, reading and normalizing the
  channels, training, scoring, bundle) vs `fasttext.train_supervised` + `test` in a plain Python
  process in the same image — wall time ratio and validation accuracy difference;
- prediction: kindling over HTTP with 1,000 texts per request (2 workers, 2 client threads) vs
  in-process `model.predict(list_of_1000)` in one Python process — texts per second and the ratio.
Writes reports/bench-classification.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.serving import Server, log, write_report
from tests.image.docker import IMAGE, docker, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]
HYPERPARAMETERS = {"mode": "supervised", "epochs": "50", "learning_rate": "0.2", "vector_dim": "50",
                   "word_ngrams": "2", "min_count": "1", "buckets": "2000000", "tokenizer": "whitespace",
                   "lowercase": "false"}
GOALS = {"train_time_ratio_max": 1.1, "accuracy_difference_max": 0.01, "http_vs_in_process_min": 0.7}


def dataset(lines: int, seed: int) -> str:
    """Twenty topics of forty words each; a text has two words of its topic among 15 others."""
    rng = random.Random(seed)
    vocabulary = [[f"t{topic}w{word}" for word in range(40)] for topic in range(20)]
    shared = [f"s{word}" for word in range(2000)]
    out = []
    for index in range(lines):
        topic = index % 20
        words = rng.choices(vocabulary[topic], k=2) + rng.choices(vocabulary[rng.randrange(20)], k=2) + \
            rng.choices(shared, k=13)
        rng.shuffle(words)
        out.append(f"__label__topic{topic} " + " ".join(words))
    return "\n".join(out) + "\n"


PLAIN = """
import json, sys, time
started = time.monotonic()
import fasttext
args = json.loads(sys.argv[1])
model = fasttext.train_supervised(input="/data/train/train.txt", verbose=0, **args)
n, accuracy, _ = model.test("/data/validation/validation.txt")
model.save_model("/tmp/model.bin")  # a training job's product is a saved model
print(json.dumps({"seconds": time.monotonic() - started, "accuracy": accuracy}))
"""

IN_PROCESS = """
import json, sys, time
import fasttext
model = fasttext.load_model("/model/model.bin")
texts = [line.split(" ", 1)[1].strip() for line in open("/data/validation/validation.txt")][:1000]
model.predict(texts, k=1)
done, started = 0, time.monotonic()
while time.monotonic() - started < float(sys.argv[1]):
    model.predict(texts, k=1)
    done += len(texts)
print(json.dumps({"texts_per_second": done / (time.monotonic() - started)}))
"""


def fasttext_args() -> dict:
    return {"epoch": 50, "lr": 0.2, "dim": 50, "wordNgrams": 2, "minCount": 1, "bucket": 2000000, "thread": 2}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", default=str(ROOT / "reports" / "bench-classification.json"))
    parser.add_argument("--lines", type=int, default=300000)
    parser.add_argument("--seconds", type=int, default=15, help="length of each prediction measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating training rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as scratch:
        root = Path(scratch) / "ml"
        for channel, lines, seed in (("train", args.lines, 1), ("validation", args.lines // 10, 2)):
            (root / "input" / "data" / channel).mkdir(parents=True)
            (root / "input" / "data" / channel / f"{channel}.txt").write_text(dataset(lines, seed))
        (root / "input" / "config").mkdir(parents=True)
        (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(HYPERPARAMETERS))
        (root / "model").mkdir()
        for path in [root, *root.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        log(f"classification: {args.lines} training lines, {args.lines // 10} validation lines")

        rounds = []
        for round_number in range(args.rounds):  # job and plain in turn: a slow spell hits both
            started = time.monotonic()
            job = docker("run", "--rm", "--network", "host", "-v", f"{root}:/opt/ml", IMAGE, "train", timeout=1800)
            job_seconds = time.monotonic() - started
            if job.returncode != 0:
                raise SystemExit(job.stdout[-3000:] + job.stderr[-3000:])
            job_accuracy = float(re.search(r"#validation_accuracy: ([\d.]+)", job.stdout).group(1))
            started = time.monotonic()
            plain = docker("run", "--rm", "--network", "host", "-v", f"{root / 'input' / 'data'}:/data:ro",
                           "--entrypoint", "python", IMAGE, "-c", PLAIN, json.dumps(fasttext_args()), timeout=1800)
            plain_seconds = time.monotonic() - started
            if plain.returncode != 0:
                raise SystemExit(plain.stderr[-3000:])
            plain_accuracy = json.loads(plain.stdout.strip().splitlines()[-1])["accuracy"]
            log(f"round {round_number + 1}: kindling job {job_seconds:.1f} s (accuracy {job_accuracy:.4f}), "
                f"plain fastText {plain_seconds:.1f} s (accuracy {plain_accuracy:.4f})")
            rounds.append({"kindling_job_seconds": round(job_seconds, 2), "plain_fasttext_seconds": round(plain_seconds, 2),
                           "time_ratio": job_seconds / plain_seconds, "kindling_accuracy": job_accuracy,
                           "plain_accuracy": plain_accuracy, "accuracy_difference": job_accuracy - plain_accuracy})
        training = sorted(rounds, key=lambda r: r["time_ratio"])[(len(rounds) - 1) // 2]  # the median (lower)

        in_process = docker("run", "--rm", "-v", f"{root / 'input' / 'data'}:/data:ro", "-v", f"{root / 'model'}:/model:ro",
                            "--entrypoint", "python", IMAGE, "-c", IN_PROCESS, str(args.seconds), timeout=600)
        in_process_rate = json.loads(in_process.stdout.strip().splitlines()[-1])["texts_per_second"]
        texts = [line.split(" ", 1)[1] for line in dataset(1000, 3).splitlines()]
        script = Path(scratch) / "batch.lua"
        script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f"wrk.body = [==[{json.dumps({'instances': texts})}]==]\n")
        with Server(["serve"], model=root / "model", env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}) as server:
            wait_for_ping(server.url, 60, server.container)
            command = ["wrk", "-t1", "-c8", f"-d{args.seconds}s", "-s", str(script), f"{server.url}/invocations"]
            subprocess.run([*command[:3], "-d2s", *command[4:]], capture_output=True, timeout=60)  # warm up
            out = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 60).stdout
            http_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) * len(texts)
            assert "Non-2xx" not in out, out
        log(f"prediction: HTTP {http_rate:.0f} texts/s (1,000 per request, 2 workers, wrk with 8 connections) vs "
            f"in-process "
            f"{in_process_rate:.0f} texts/s (one process) = {http_rate / in_process_rate:.2f}")

    report = {
        "lines": args.lines, "hyperparameters": HYPERPARAMETERS, "goals": GOALS,
        "training": {**training, "rounds": rounds},
        "prediction": {"http_texts_per_second": http_rate, "in_process_texts_per_second": in_process_rate,
                       "ratio": http_rate / in_process_rate},
    }
    report["verdicts"] = {
        "train_time": report["training"]["time_ratio"] <= GOALS["train_time_ratio_max"],
        "accuracy": abs(report["training"]["accuracy_difference"]) <= GOALS["accuracy_difference_max"],
        "http_prediction": report["prediction"]["ratio"] >= GOALS["http_vs_in_process_min"],
    }
    write_report(args.report, report)
    log(f"training time ratio {report['training']['time_ratio']:.2f}, accuracy difference "
        f"{report['training']['accuracy_difference']:+.4f}; verdicts {report['verdicts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
