"""Count: in how many articles each anchor occurs as text (link probability's denominator), from the
scan's token lines alone, without Python work per n-gram.

The anchors' tokens get small integer ids (0: a token in no anchor, and the separator between
articles, so no match crosses one). Each anchor is a polynomial hash of its ids; n-grams grow from every
position only while their hash is that of some anchor's proper prefix (as the dict builder's
`anchors_in` grows them while they are a prefix), and every hash hit is verified id by id, so a hash
collision can cost time, never a wrong count.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator

import numpy as np

MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)
BATCH_CHARS = 1 << 20
_SEPARATOR, _SEPARATOR_ID = "", np.iinfo(np.uint64).max


class AnchorSet:
    """The anchors (texts in anchors.txt order) as id sequences, their hashes and their prefixes' hashes."""

    def __init__(self, texts: list[str]):
        self.vocabulary: dict[str, int] = {}
        sequences = [[self.vocabulary.setdefault(t, len(self.vocabulary) + 1) for t in text.split(" ")]
                     for text in texts]
        self.lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.ids = np.array([i for s in sequences for i in s], dtype=np.uint64)
        self.longest = int(self.lengths.max()) if len(texts) else 0
        self._get = {**self.vocabulary, _SEPARATOR: _SEPARATOR_ID}.get
        for multiplier in MULTIPLIERS:
            self.multiplier = np.uint64(multiplier)
            full, prefixes = self._hashes()
            self.order = np.argsort(full, kind="stable")
            self.keys = full[self.order]
            if not len(self.keys) or not (self.keys[1:] == self.keys[:-1]).any():
                break
        else:  # pragma: no cover - four 64-bit hash functions colliding on one anchor set
            raise RuntimeError("no multiplier separates the anchors")
        self.prefixes = np.unique(prefixes)
        # Length 1 by table (most positions stop there): the one-token anchor of each id, and whether a
        # longer anchor starts with it.
        first = self.ids[self.offsets[:-1]].astype(np.int64) if len(texts) else np.zeros(0, dtype=np.int64)
        self.single = np.full(len(self.vocabulary) + 1, -1, dtype=np.int64)
        self.single[first[self.lengths == 1]] = np.flatnonzero(self.lengths == 1)
        self.starts_longer = np.zeros(len(self.vocabulary) + 1, dtype=bool)
        self.starts_longer[first[self.lengths > 1]] = True

    def _hashes(self) -> tuple[np.ndarray, np.ndarray]:
        full = np.zeros(len(self.lengths), dtype=np.uint64)
        prefixes = []
        with np.errstate(over="ignore"):
            for j in range(self.longest):
                longer = self.lengths > j
                full[longer] = full[longer] * self.multiplier + self.ids[self.offsets[:-1][longer] + j]
                prefixes.append(full[self.lengths > j + 1])
        return full, np.concatenate(prefixes) if prefixes else np.zeros(0, dtype=np.uint64)

    def documents(self, lines: list[str]) -> np.ndarray:
        """How many of the lines (articles) hold each anchor."""
        counts = np.zeros(len(self.lengths), dtype=np.int64)
        if not self.longest or not lines:
            return counts
        # One split and one C-level map over the whole batch: lines are tokens joined by single spaces, so
        # joined by two they split into tokens with an empty one where an article ends (two for an empty
        # article: the numbering skips one, which no count sees); the empty token becomes id 0, so no match
        # crosses it.
        tokens = "  ".join(lines).split(" ")
        tokens.append("")
        ids = np.fromiter(map(self._get, tokens, itertools.repeat(0)), dtype=np.uint64, count=len(tokens))
        ends = ids == _SEPARATOR_ID
        article = np.cumsum(ends) - ends
        ids[ends] = 0
        ids = np.concatenate([ids, np.zeros(self.longest, dtype=np.uint64)])
        found_articles, found_anchors = self._matches(ids, article)
        pairs = np.unique(found_articles * len(self.lengths) + found_anchors)
        return np.bincount(pairs % len(self.lengths), minlength=len(self.lengths))

    def _matches(self, ids: np.ndarray, article: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        positions = np.flatnonzero(ids[:len(article)] != 0)
        token = ids[positions].astype(np.int64)
        anchor = self.single[token]
        articles, anchors = [article[positions[anchor >= 0]]], [anchor[anchor >= 0]]
        positions = positions[self.starts_longer[token]]
        hashes = ids[positions]
        with np.errstate(over="ignore"):
            for length in range(2, self.longest + 1):
                if not len(positions):
                    break
                hashes = hashes * self.multiplier + ids[positions + length - 1]
                rows = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
                anchor = self.order[rows]
                hit = (self.keys[rows] == hashes) & (self.lengths[anchor] == length)
                start, anchor = positions[hit], anchor[hit]
                for j in range(length):  # exact: every id of the anchor
                    same = ids[start + j] == self.ids[self.offsets[anchor] + j]
                    start, anchor = start[same], anchor[same]
                articles.append(article[start])
                anchors.append(anchor)
                grows = np.minimum(np.searchsorted(self.prefixes, hashes), max(len(self.prefixes) - 1, 0))
                keep = self.prefixes[grows] == hashes if len(self.prefixes) else np.zeros(len(hashes), dtype=bool)
                positions, hashes = positions[keep], hashes[keep]
        return np.concatenate(articles), np.concatenate(anchors)


def line_batches(path: Path) -> Iterator[list[str]]:
    """The lines of a token file (an article each), about BATCH_CHARS at a time."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        while lines := handle.readlines(BATCH_CHARS):
            yield [line.rstrip("\n") for line in lines]


def count(anchor_set: AnchorSet, tokens_files: list[Path]) -> np.ndarray:
    """Document frequencies of every anchor over the token files."""
    total = np.zeros(len(anchor_set.lengths), dtype=np.int64)
    for path in tokens_files:
        for lines in line_batches(path):
            total += anchor_set.documents(lines)
    return total
