import numpy as np
import pytest
from scipy.stats import spearmanr

from train.evaluation import ANALOGIES, SIMLEX, WORDSIM, Vectors, analogies, evaluate, ranks, spearman, word_pairs


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(100):
        a, b = rng.integers(0, 4, 25).astype(float), rng.normal(size=25)
        assert spearman(list(a), list(b)) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert list(ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]


def _space():
    """king - man + woman lands exactly on queen; paris - france + italy on rome."""
    words = ["</s>", "king", "man", "woman", "queen", "paris", "france", "italy", "rome", "noise"]
    basis = np.eye(10, dtype=np.float32)
    vectors = {w: basis[i] for i, w in enumerate(words)}
    vectors["queen"] = vectors["king"] - vectors["man"] + vectors["woman"]
    vectors["rome"] = vectors["paris"] - vectors["france"] + vectors["italy"]
    return words, np.vstack([vectors[w] for w in words])


def test_analogies_3cosadd_excludes_question_words_and_counts_missing(tmp_path):
    words, matrix = _space()
    (tmp_path / ANALOGIES).write_text(": family\nMan King Woman Queen\nman king unknown queen\n"
                                      ": capitals\nFrance Paris Italy Rome\nFrance Paris Italy Noise\n")
    result = analogies(Vectors(words, matrix), tmp_path / ANALOGIES, str.lower)
    assert result["sections"] == {"family": {"correct": 1, "total": 1, "not_found": 1},
                                  "capitals": {"correct": 1, "total": 2, "not_found": 0}}
    assert result["accuracy"] == pytest.approx(2 / 3, abs=1e-6) and result["not_found"] == 1


def test_word_pairs_and_full_evaluation(tmp_path):
    words, matrix = _space()
    (tmp_path / WORDSIM).write_text("# header\nking\tqueen\t9\nking\tman\t5\nparis\trome\t8\nrome\tnoise\t1\nx\ty\t3\n")
    (tmp_path / SIMLEX).write_text("king\tqueen\t9\nparis\tnoise\t0\n")
    (tmp_path / ANALOGIES).write_text(": family\nman king woman queen\n")
    pairs = word_pairs(Vectors(words, matrix), tmp_path / WORDSIM, str)
    assert pairs["not_found"] == 1 and pairs["total_pairs"] == 5 and pairs["spearmans_rho"] > 0.5
    scores = evaluate(words, matrix, str, tmp_path)
    assert scores["mean_rho"] == scores["EN-WS-353-ALL.txt"]["spearmans_rho"]
    assert scores["analogies"]["correct"] == 1 and set(scores) == {"EN-WS-353-ALL.txt", "mean_rho", "SimLex-999",
                                                                    "analogies"}
    assert evaluate(words, matrix, str, tmp_path / "missing") == {}
