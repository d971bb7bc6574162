"""Entity KB training helpers: entity vectors (link contexts plus title words) and the paired D2W comparison."""

import numpy as np
import pytest

from container.tokenizer import Tokenizer
from train.entity_vectors import combined, title_vectors

WORDS = {"paris": 0, "mythology": 1, "city": 2}
UNIT = np.eye(3, dtype=np.float32)


def test_title_vectors_use_every_known_title_word_and_leave_unknown_titles_at_zero():
    titles = title_vectors(["Paris (mythology)", "Paris", "Zzyzx"], Tokenizer(), WORDS, UNIT)
    assert titles[0] == pytest.approx(np.array([1, 1, 0]) / np.sqrt(2))
    assert titles[1] == pytest.approx([1, 0, 0])
    assert not titles[2].any()


def test_contexts_and_title_weigh_equally_and_an_entity_without_links_keeps_its_title():
    titles = title_vectors(["Paris (mythology)", "Paris"], Tokenizer(), WORDS, UNIT)
    sums = np.array([[0, 0, 0], [0, 0, 5]], dtype=np.float32)  # the city: five link contexts about cities
    vectors = combined(sums, titles)
    assert vectors[0] == pytest.approx(titles[0])
    assert vectors[1] == pytest.approx(np.array([1, 0, 1]) / np.sqrt(2))
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1, 1])


def test_paired_counts_and_mcnemar():
    from train.entity_evaluation import _paired

    # (in KB, ambiguous, TAGME right, commonness right)
    rows = [(True, True, True, False)] * 6 + [(True, True, False, True)] * 1 + [(True, False, True, True)] * 50 + \
        [(False, False, False, False)] * 9
    paired = _paired(rows)
    assert (paired["fixed"], paired["broken"]) == (6, 1)
    assert paired["mcnemar_p"] == pytest.approx(2 * (1 + 7) / 2 ** 7, abs=1e-4)  # 0.125
    assert _paired([(True, True, True, True)])["mcnemar_p"] == 1.0
