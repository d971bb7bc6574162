"""`make bench`, word-vector part: corpus preparation speed, and the same training three ways.

The corpus (>= 50 MB of English, never committed) is cut from three Debian packages fetched with
`apt-get download` into .cache/bench-corpus: the Linux kernel's documentation (linux-doc-6.1,
Documentation/**/*.rst and *.txt), the Python 3.11 documentation sources (python3.11-doc,
html/_sources/**/*.txt) and the GNU Collaborative International Dictionary of English (dict-gcide,
Webster's 1913 definitions and quotations). Everything goes through kindling's own `prepare`
(regex tokenizer, lower-cased) in the image, which is measured on the way (MB/s, 1 and 2 processes;
the spaCy tokenizer on a 10 MB slice).

Then, on the same prepared corpus, same parameters (skipgram, dim 100, window 5, 5 negatives,
sample 1e-4, character n-grams 3-6, 2M buckets, min_count 5, lr 0.05, 2 threads, EPOCHS epochs):
- kindling: `docker run IMAGE train` (the whole job: vectors.bin, vectors.txt, npy, spaCy vocab, eval),
  once with engine=fasttext and once with engine=gensim;
- plain fastText: `fasttext.train_unsupervised` in a Python process on the host (same wheel);
- gensim: `gensim.models.FastText` in corpus_file mode on the host.
Reported for each: training words/s/thread (the corpus' token count x epochs / training time / threads,
the training time being each engine's own fit call), wall time, WS-353 Spearman rho (same evaluation code for all), and
the ratios against plain fastText. Writes reports/bench-embeddings.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.bench.serving import log, write_report
from tests.image.docker import IMAGE, docker

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "bench-corpus"
PACKAGES = ("linux-doc-6.1", "python3.11-doc", "dict-gcide")
GOALS = {"image_vs_plain_words_per_second_min": 0.95, "prepare_fast_mb_per_second_min": 10.0}
PARAMETERS = {"dim": 100, "ws": 5, "neg": 5, "t": 1e-4, "minn": 3, "maxn": 6, "bucket": 2000000, "minCount": 5,
              "lr": 0.05, "thread": 2}


def _download() -> Path:
    """The raw text files, made once from the Debian packages (cached in .cache/bench-corpus/raw)."""
    raw = CACHE / "raw"
    if (raw / "done").exists():
        return raw
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "-qq", *PACKAGES], cwd=debs, check=True, capture_output=True)
    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), scratch], check=True)
        root = Path(scratch) / "usr" / "share"
        sources = {
            "linux-doc.txt": sorted(p for p in (root / "doc" / "linux-doc-6.1" / "Documentation").rglob("*")
                                    if p.is_file() and re.search(r"\.(rst|txt)(\.gz)?$", p.name)),
            "python-doc.txt": sorted((root / "doc" / "python3.11" / "html" / "_sources").rglob("*.txt")),
            "gcide.txt": [root / "dictd" / "gcide.dict.dz"],
        }
        for name, files in sources.items():
            with open(raw / name, "wb") as out:
                for path in files:
                    opener = gzip.open if path.suffix in (".gz", ".dz") else open
                    with opener(path, "rb") as handle:
                        out.write(handle.read())
                        out.write(b"\n")
    (raw / "done").write_text("ok\n")
    return raw


def _prepare(raw: Path, out: Path, *args: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o777)
    started = time.monotonic()
    result = docker("run", "--rm", "--network", "host", "-v", f"{raw}:/in:ro", "-v", f"{out}:/out", IMAGE,
                    "prepare", "/in", "/out", *args, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    summary = json.loads((out / "summary.json").read_text())
    summary["wall_seconds"] = round(time.monotonic() - started, 2)
    return summary


def _evaluate(words: list[str], matrix: np.ndarray) -> float:
    """WS-353 with the image's own evaluation code and data (the gensim wheel's test_data)."""
    from tests.sagemaker_tree import gensim_test_data
    from train.evaluation import evaluate

    return evaluate(words, matrix, str, gensim_test_data())["mean_rho"]


PLAIN = """
import json, sys, time
import numpy as np
import fasttext
corpus, params, epochs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
started = time.monotonic()
model = fasttext.train_unsupervised(input=corpus, model="skipgram", epoch=epochs, verbose=0, **params)
seconds = time.monotonic() - started
words, counts = model.get_words(include_freq=True)
matrix = np.vstack([model.get_word_vector(w) for w in words])
np.save(sys.argv[4], matrix)
print(json.dumps({"seconds": seconds, "tokens": int(sum(counts)), "words": list(words)}))
"""

GENSIM = """
import json, sys, time
import numpy as np
from gensim.models import FastText
corpus, params, epochs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
started = time.monotonic()
model = FastText(corpus_file=corpus, sg=1, vector_size=params["dim"], window=params["ws"], negative=params["neg"],
                 sample=params["t"], min_n=params["minn"], max_n=params["maxn"], bucket=params["bucket"],
                 min_count=params["minCount"], alpha=params["lr"], workers=params["thread"], epochs=epochs)
seconds = time.monotonic() - started
words = list(model.wv.index_to_key)
np.save(sys.argv[4], np.vstack([model.wv[w] for w in words]))
tokens = int(model.corpus_total_words)
print(json.dumps({"seconds": seconds, "tokens": tokens, "words": words}))
"""


def _host_engine(script: str, corpus: Path, epochs: int, scratch: Path, name: str) -> dict:
    started = time.monotonic()
    matrix_path = scratch / f"{name}.npy"
    result = subprocess.run([sys.executable, "-c", script, str(corpus), json.dumps(PARAMETERS), str(epochs),
                             str(matrix_path)], capture_output=True, text=True, timeout=7200)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    wall = time.monotonic() - started
    fitted = json.loads(result.stdout.strip().splitlines()[-1])
    rho = _evaluate(fitted["words"], np.load(matrix_path))
    return {"wall_seconds": round(wall, 2), "training_seconds": round(fitted["seconds"], 2),
            "ws353_rho": rho, "vocabulary": len(fitted["words"])}


def _image_engine(corpus: Path, epochs: int, scratch: Path, engine: str) -> dict:
    root = scratch / f"ml-{engine}"
    (root / "input" / "data" / "train").mkdir(parents=True)
    (root / "input" / "config").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps({
        "mode": "skipgram", "subwords": "true", "epochs": str(epochs), "vector_dim": str(PARAMETERS["dim"]),
        "window_size": str(PARAMETERS["ws"]), "negative_samples": str(PARAMETERS["neg"]),
        "sampling_threshold": str(PARAMETERS["t"]), "min_char": str(PARAMETERS["minn"]),
        "max_char": str(PARAMETERS["maxn"]), "buckets": str(PARAMETERS["bucket"]),
        "min_count": str(PARAMETERS["minCount"]), "learning_rate": str(PARAMETERS["lr"]),
        "threads": str(PARAMETERS["thread"]), "engine": engine}))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    started = time.monotonic()
    result = docker("run", "--rm", "--network", "host", "-v", f"{root}:/opt/ml",
                    "-v", f"{corpus}:/opt/ml/input/data/train/corpus.txt:ro", IMAGE, "train", timeout=7200)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    manifest = json.loads((root / "model" / "manifest.json").read_text())
    metrics = manifest["tasks"]["embeddings"]["metrics"]
    return {"wall_seconds": round(wall, 2), "training_seconds": metrics["training_seconds"],
            "ws353_rho": metrics["mean_rho"], "vocabulary": manifest["tasks"]["embeddings"]["words"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", default=str(ROOT / "reports" / "bench-embeddings.json"))
    parser.add_argument("--epochs", type=int, default=1, help="training epochs for all three engines")
    args = parser.parse_args()
    raw = _download()
    raw_mb = sum(p.stat().st_size for p in raw.glob("*.txt")) / 1e6
    log(f"embeddings: raw corpus {raw_mb:.1f} MB from Debian packages {', '.join(PACKAGES)}")

    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as scratch_name:
        scratch = Path(scratch_name)
        scratch.chmod(0o777)
        prepare = {}
        for processes in (1, 2):
            summary = _prepare(raw, scratch / f"prepared-{processes}", "--processes", str(processes))
            prepare[f"regex_{processes}"] = {k: summary[k] for k in ("mb_per_second", "seconds", "wall_seconds",
                                                                      "tokens", "vocabulary", "characters")}
            log(f"prepare (regex, {processes} process(es)): {summary['mb_per_second']} MB/s, "
                f"{summary['tokens']} tokens, {summary['vocabulary']} distinct words")
        same = (scratch / "prepared-1" / "corpus.txt").read_bytes() == (scratch / "prepared-2" / "corpus.txt").read_bytes()
        slice_dir = scratch / "slice"
        slice_dir.mkdir()
        with open(raw / "gcide.txt", "rb") as handle:
            (slice_dir / "slice.txt").write_bytes(handle.read(10_000_000))
        for processes in (1, 2):
            summary = _prepare(slice_dir, scratch / f"spacy-{processes}", "--tokenizer", "spacy", "--processes",
                               str(processes))
            prepare[f"spacy_{processes}"] = {k: summary[k] for k in ("mb_per_second", "seconds", "wall_seconds",
                                                                      "tokens")}
            log(f"prepare (spaCy en, 10 MB slice, {processes} process(es)): {summary['mb_per_second']} MB/s")
        corpus = scratch / "prepared-2" / "corpus.txt"
        corpus_mb = corpus.stat().st_size / 1e6
        log(f"training corpus: {corpus_mb:.1f} MB prepared; identical for 1 and 2 processes: {same}")

        engines = {}
        for engine in ("fasttext", "gensim"):
            engines[f"kindling_image_{engine}"] = _image_engine(corpus, args.epochs, scratch, engine)
            log(f"kindling image, engine={engine}: {engines[f'kindling_image_{engine}']}")
        engines["plain_fasttext"] = _host_engine(PLAIN, corpus, args.epochs, scratch, "plain")
        log(f"plain fastText: {engines['plain_fasttext']}")
        engines["gensim"] = _host_engine(GENSIM, corpus, args.epochs, scratch, "gensim")
        log(f"gensim FastText: {engines['gensim']}")

    tokens = prepare["regex_2"]["tokens"]  # one count for all three (engines count end-of-line tokens differently)
    for engine in engines.values():
        engine["words_per_second_per_thread"] = round(tokens * args.epochs / engine["training_seconds"] /
                                                      PARAMETERS["thread"])
    plain = engines["plain_fasttext"]
    ratios = {name: {"words_per_second": round(e["words_per_second_per_thread"] / plain["words_per_second_per_thread"], 3),
                     "wall_time": round(e["wall_seconds"] / plain["wall_seconds"], 3),
                     "ws353_difference": round(e["ws353_rho"] - plain["ws353_rho"], 4)}
              for name, e in engines.items()}
    report = {"corpus": {"raw_mb": round(raw_mb, 1), "prepared_mb": round(corpus_mb, 1), "packages": PACKAGES,
                         "identical_for_1_and_2_processes": same},
              "parameters": {**PARAMETERS, "epochs": args.epochs, "model": "skipgram"}, "goals": GOALS,
              "prepare": prepare, "engines": engines, "ratios_vs_plain_fasttext": ratios}
    best = max(("kindling_image_fasttext", "kindling_image_gensim"), key=lambda n: engines[n]["words_per_second_per_thread"])
    report["fastest_kindling_engine"] = best
    report["verdicts"] = {
        "image_words_per_second": ratios["kindling_image_fasttext"]["words_per_second"] >=
        GOALS["image_vs_plain_words_per_second_min"],
        "prepare_fast": prepare["regex_2"]["mb_per_second"] >= GOALS["prepare_fast_mb_per_second_min"],
        "prepare_deterministic": same,
        "image_at_least_gensim": engines[best]["words_per_second_per_thread"] >=
        engines["gensim"]["words_per_second_per_thread"],
    }
    write_report(args.report, report)
    log(f"ratios vs plain fastText: {ratios}; verdicts {report['verdicts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
