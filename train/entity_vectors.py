"""Entity vectors (embedding relatedness): word vectors trained on the dump's token lines, and for each entity
the mean unit word vector around its links plus the mean word vector of its title. The KB's vectors cover
every entity (the size of the KB); an evaluation fold's cover only the entities its anchors can propose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from container.tokenizer import Tokenizer
from container.unit_vectors import unit_rows
from train.entity_articles import Article

log = logging.getLogger(__name__)


def context_means(article: Article, words: dict[str, int], unit: np.ndarray, window: int):
    """(entity, mean unit word vector of the words around the link) for each of the article's links with
    known words around it."""
    rows = np.array([words.get(token, -1) for token in article.tokens], dtype=np.int64)
    for first, last, entity, *_ in article.links:
        context = np.concatenate([rows[max(0, first - window):first], rows[last:last + window]])
        context = context[context >= 0]
        if len(context):
            yield entity, unit[context].mean(axis=0)


def add_contexts(sums: np.ndarray, article: Article, words: dict[str, int], unit: np.ndarray, window: int) -> None:
    """Add the mean unit word vector around each of the article's links to its entity's row."""
    for entity, mean in context_means(article, words, unit, window):
        sums[entity] += mean


def title_vectors(titles: list[str], tokenizer: Tokenizer, words: dict[str, int], unit: np.ndarray) -> np.ndarray:
    """Each entity: the normalized mean of its title's word vectors ("Paris (mythology)" -> paris, mythology).
    The title is the one description every candidate has, also those linked once or never (title pseudo-links)."""
    rows = np.zeros((len(titles), unit.shape[1]), dtype=np.float32)
    for entity, title in enumerate(titles):
        known = [words[token] for token in tokenizer.tokenize(title) if token in words]
        if known:
            rows[entity] = unit[known].mean(axis=0)
    return unit_rows(rows)


def combined(context_sums: np.ndarray, titles: np.ndarray) -> np.ndarray:
    """Link contexts and title, equally weighted: a name alone cannot separate "Hebrew language" from
    "Hebrew alphabet" in a page about scripts, and a few link contexts alone are noisy.
    (Chosen on training pages only: over the inner cross-validations of the 5 outer folds of the Wikipedia sample,
    TAGME gained 16 mentions over commonness with it and 11 with contexts alone; better in 3 folds, worse in 1.)"""
    return unit_rows(unit_rows(context_sums) + titles[:len(context_sums)])


def entity_vectors(articles, titles: np.ndarray, words: dict[str, int], unit: np.ndarray, window: int) -> np.ndarray:
    """Each entity: its title vector plus the normalized mean of the unit word vectors around its links."""
    sums = np.zeros((len(titles), unit.shape[1]), dtype=np.float32)
    for article in articles:
        add_contexts(sums, article, words, unit, window)
    return combined(sums, titles)


class EntityRows:
    """Some entities' vectors, looked up by entity index like a KB-sized matrix (MemoryKB.vector)."""

    def __init__(self, entities: list[int], rows: np.ndarray):
        self.position = {entity: row for row, entity in enumerate(entities)}
        self.rows = rows

    def __getitem__(self, entity: int) -> np.ndarray:
        return self.rows[self.position[entity]]


def some_entity_vectors(articles, entities: list[int], titles: np.ndarray, words: dict[str, int], unit: np.ndarray,
                        window: int) -> EntityRows:
    """entity_vectors' rows of just these entities (the candidates a fold can propose): row by row the same
    arithmetic, without a matrix of every entity in the dump per fold."""
    position = {entity: row for row, entity in enumerate(entities)}
    sums = np.zeros((len(entities), unit.shape[1]), dtype=np.float32)
    for article in articles:
        for entity, mean in context_means(article, words, unit, window):
            row = position.get(entity)
            if row is not None:
                sums[row] += mean
    return EntityRows(entities, combined(sums, titles[np.asarray(entities, dtype=np.int64)]))


@dataclass(frozen=True)
class WordVectors:
    """The dump's word vectors (unit length, row per word) and every entity's title vector, made once per job."""
    words: dict[str, int]
    unit: np.ndarray
    titles: np.ndarray


def train_word_vectors(corpus: Path, params, scratch: Path, titles: list[str],
                       tokenizer: Tokenizer) -> WordVectors:
    """Word vectors on the dump's tokens (one article per line in `corpus`), unit length."""
    from train.embeddings import fit_word_vectors
    from train.vector_files import read_vocabulary

    args = {"model": "skipgram", "epoch": params.vector_epochs, "lr": 0.05, "dim": params.vector_dim, "ws": 5,
            "minCount": 2, "neg": 5, "t": 1e-4, "minn": 0, "maxn": 0, "bucket": 0, "thread": 2, "lrUpdateRate": 100}
    out_dir = scratch / "vectors"
    out_dir.mkdir()
    fitted = fit_word_vectors("gensim", str(corpus), args, str(out_dir))
    words = read_vocabulary(out_dir / "vocabulary.txt")
    matrix = np.load(out_dir / "vectors.npy")
    log.info("word vectors for entity relatedness: %d words x %d from %d tokens in %.1f s", len(words),
             matrix.shape[1], fitted["tokens"], fitted["seconds"])
    index = {w: i for i, w in enumerate(words)}
    unit = unit_rows(matrix)
    return WordVectors(index, unit, title_vectors(titles, tokenizer, index, unit))
