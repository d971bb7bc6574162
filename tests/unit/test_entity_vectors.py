"""Entity vectors for embedding relatedness: link contexts plus the title's words."""

import numpy as np
import pytest

from container.tokenizer import Tokenizer
from train.entities import combined, title_vectors

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
