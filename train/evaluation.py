"""Word-vector quality on the standard sets, written to eval.json the way BlazingText does.

- WS-353 (wordsim353.tsv, the combined "ALL" set) and SimLex-999: Spearman's rho between human scores
  and cosine similarities, over the pairs whose both words are in the vocabulary (the others are
  counted as not_found, as BlazingText and gensim's evaluate_word_pairs do);
- the analogy set (questions-words.txt): 3CosAdd (b - a + c, nearest of the unit vectors, the three
  question words excluded), restricted to the 30,000 most frequent words like gensim's
  evaluate_word_analogies; questions with a word outside them are counted as not_found.
The data files come from the gensim wheel's test_data and are baked into the image.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

from container.unit_vectors import unit_rows

log = logging.getLogger(__name__)

EVAL_DIR = "/opt/kindling/eval"
WORDSIM = "wordsim353.tsv"
SIMLEX = "simlex999.txt"
ANALOGIES = "questions-words.txt"
ANALOGY_VOCABULARY = 30000
WS353_KEY = "EN-WS-353-ALL.txt"  # BlazingText's name for the set in eval.json


def eval_dir() -> Path:
    return Path(os.environ.get("KINDLING_EVAL_DIR", EVAL_DIR))


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (what Spearman's rho needs)."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranked = np.empty(len(values), dtype=np.float64)
    ranked[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranked


def spearman(a: list[float], b: list[float]) -> float:
    if len(a) < 2:
        return float("nan")
    ra, rb = ranks(np.asarray(a, dtype=np.float64)), ranks(np.asarray(b, dtype=np.float64))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denominator) if denominator else float("nan")


class Vectors:
    """Unit-length word vectors with a word -> row index; rows in descending frequency."""

    def __init__(self, words: list[str], matrix: np.ndarray):
        self.words = words
        self.unit = unit_rows(matrix)
        self.index = {word: row for row, word in enumerate(words)}


def _pairs(path: Path) -> list[tuple[str, str, float]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        first, second, score = line.split("\t")[:3]
        pairs.append((first, second, float(score)))
    return pairs


def word_pairs(vectors: Vectors, path: Path, fold: Callable[[str], str]) -> dict:
    human, model, missing = [], [], 0
    pairs = _pairs(path)
    for first, second, score in pairs:
        a, b = vectors.index.get(fold(first)), vectors.index.get(fold(second))
        if a is None or b is None:
            missing += 1
            continue
        human.append(score)
        model.append(float(vectors.unit[a] @ vectors.unit[b]))
    return {"spearmans_rho": round(spearman(human, model), 6), "not_found": missing, "total_pairs": len(pairs)}


def analogies(vectors: Vectors, path: Path, fold: Callable[[str], str], top: int = ANALOGY_VOCABULARY) -> dict:
    frequent = [w for w in vectors.words if w != "</s>"][:top]
    rows = np.array([vectors.index[w] for w in frequent], dtype=np.int64)
    local = {word: position for position, word in enumerate(frequent)}
    unit = vectors.unit[rows]
    sections: dict[str, dict] = {}
    questions, section = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
            sections[section] = {"correct": 0, "total": 0, "not_found": 0}
            continue
        words = [fold(w) for w in line.split()]
        if len(words) != 4 or section is None:
            continue
        ids = [local.get(w) for w in words]
        if None in ids:
            sections[section]["not_found"] += 1
            continue
        questions.append((section, ids))
    for start in range(0, len(questions), 1024):
        chunk = questions[start:start + 1024]
        ids = np.array([q[1] for q in chunk])
        targets = unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]
        scores = targets @ unit.T
        for column in range(3):
            scores[np.arange(len(chunk)), ids[:, column]] = -np.inf
        best = scores.argmax(axis=1)
        for (name, question), guess in zip(chunk, best):
            sections[name]["total"] += 1
            sections[name]["correct"] += int(guess == question[3])
    correct = sum(s["correct"] for s in sections.values())
    total = sum(s["total"] for s in sections.values())
    return {"correct": correct, "total": total, "accuracy": round(correct / total, 6) if total else 0.0,
            "not_found": sum(s["not_found"] for s in sections.values()), "restricted_to": len(frequent),
            "sections": sections}


def evaluate(words: list[str], matrix: np.ndarray, fold: Callable[[str], str], directory: Path | None = None) -> dict:
    """eval.json's content: BlazingText's WS-353 entry and mean_rho, plus SimLex-999 and analogies."""
    directory = directory or eval_dir()
    missing = [name for name in (WORDSIM, SIMLEX, ANALOGIES) if not (directory / name).is_file()]
    if missing:
        log.warning("evaluation skipped: %s not found in %s (set KINDLING_EVAL_DIR)", ", ".join(missing), directory)
        return {}
    vectors = Vectors(words, matrix)
    ws353 = word_pairs(vectors, directory / WORDSIM, fold)
    return {WS353_KEY: ws353, "mean_rho": ws353["spearmans_rho"],
            "SimLex-999": word_pairs(vectors, directory / SIMLEX, fold),
            "analogies": analogies(vectors, directory / ANALOGIES, fold)}
