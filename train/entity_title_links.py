"""The title pseudo-links the evaluation can ever look up, once for every fold.

A page's title and every redirect to it are anchors of the page with `title_links` pseudo-links (TAGME's
boost). They depend on titles only, so every fold and inner fold adds the same ones; and a fold only
looks up anchors that occur in its articles' tokens (the gold links' anchors, the spotted n-grams, the
document counts). So only the title anchors that occur as token n-grams of the kept articles are made,
from what the streaming build left on disk: resolve's anchors (hash order: anchors.npy and anchors.txt)
and the scan's page rows (title, kind, redirect target, title anchor hashes). Memory: the kept articles'
vocabulary and the anchors found in them, plus one piece's page columns at a time; never a registry of
every title.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from train.entity_articles import Article, page_batches
from train.kb_build import count as counting
from train.kb_build.resolve import REDIRECT_HOPS
from train.kb_build.scan import PAGE, REDIRECT

ANCHOR_BATCH = 1 << 18  # anchors matched against the kept articles at a time


def _member(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """values in the sorted unique keys."""
    if not len(keys):
        return np.zeros(len(values), dtype=bool)
    rows = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return keys[rows] == values


def _line_batches(articles: list[Article]) -> Iterator[list[str]]:
    """The articles as token lines, about the count phase's BATCH_CHARS at a time (its matcher's arrays grow
    with the tokens it is given; one batch of 500 sample pages peaked at 456 MB)."""
    batch, size = [], 0
    for article in articles:
        batch.append(" ".join(article.tokens))
        size += len(batch[-1])
        if size >= counting.BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def anchors_in_articles(resolved: Path, articles: list[Article]) -> tuple[np.ndarray, list[str]]:
    """The build's anchors (hashes, sorted, and texts) that occur as token n-grams of the articles: the
    anchors made of the articles' words only, matched exactly by the count phase's n-gram matcher."""
    vocabulary = {token for article in articles for token in article.tokens}
    hashes = np.load(resolved / "anchors.npy", mmap_mode="r")
    rows: list[int] = []
    texts: list[str] = []
    batch_rows: list[int] = []
    batch_texts: list[str] = []

    def match() -> None:
        anchor_set = counting.AnchorSet(batch_texts)
        found = sum((anchor_set.documents(lines) for lines in _line_batches(articles)),
                    np.zeros(len(batch_texts), np.int64)) > 0
        rows.extend(r for r, hit in zip(batch_rows, found.tolist()) if hit)
        texts.extend(t for t, hit in zip(batch_texts, found.tolist()) if hit)
        batch_rows.clear()
        batch_texts.clear()

    with open(resolved / "anchors.txt", encoding="utf-8", newline="\n") as handle:
        for row, line in enumerate(handle):
            text = line[:-1]
            if all(token in vocabulary for token in text.split(" ")):
                batch_rows.append(row)
                batch_texts.append(text)
                if len(batch_rows) >= ANCHOR_BATCH:
                    match()
    if batch_rows:
        match()
    return np.asarray(hashes[rows], dtype=np.uint64), texts


def _resolve_redirects(piece_dirs: list[Path], targets: np.ndarray) -> np.ndarray:
    """Each target title hash through redirects, REDIRECT_HOPS at most (resolve's Registry.resolve), one pass
    over the page rows per hop; stops early once no target is a redirect."""
    for _ in range(REDIRECT_HOPS):
        wanted = np.unique(targets)
        keys, values = [], []
        for _, pages in page_batches(piece_dirs, ["title", "target"]):
            title, kind = np.asarray(pages["title"]), np.asarray(pages["kind"])
            hit = (kind == REDIRECT) & _member(title, wanted)
            keys.append(title[hit])
            values.append(np.asarray(pages["target"])[hit])
        keys, values = np.concatenate(keys), np.concatenate(values)
        if not len(keys):
            break
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        found = np.minimum(np.searchsorted(keys, targets), len(keys) - 1)
        targets = np.where(keys[found] == targets, values[found], targets)
    return targets


def _page_entities(piece_dirs: list[Path], targets: np.ndarray) -> np.ndarray:
    """The entity of the page titled by each target hash, -1 where no page (a disambiguation page, a missing one)."""
    wanted = np.unique(targets)
    keys, values = [], []
    for first_entity, pages in page_batches(piece_dirs, ["title"]):
        title, kind = np.asarray(pages["title"]), np.asarray(pages["kind"])
        entity_of_row = first_entity + np.cumsum(kind == PAGE) - 1
        hit = (kind == PAGE) & _member(title, wanted)
        keys.append(title[hit])
        values.append(entity_of_row[hit])
    keys, values = np.concatenate(keys), np.concatenate(values)
    if not len(keys):
        return np.full(len(targets), -1, dtype=np.int64)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    found = np.minimum(np.searchsorted(keys, targets), len(keys) - 1)
    return np.where(keys[found] == targets, values[found], -1)


def title_links(piece_dirs: list[Path], resolved: Path, articles: list[Article]) -> list[tuple[str, int]]:
    """(anchor, entity) for every page title and redirect title (through its resolved target, pages only)
    whose anchor occurs in the articles: resolve's title_links, restricted to what the folds look up."""
    hashes, texts = anchors_in_articles(resolved, articles)
    if not len(hashes):
        return []
    anchors, entities, redirect_anchors, redirect_targets = [], [], [], []
    for first_entity, pages in page_batches(piece_dirs, ["title_anchor", "target"]):
        kind, anchor = np.asarray(pages["kind"]), np.asarray(pages["title_anchor"])
        hit = (anchor != 0) & _member(anchor, hashes)
        page = hit & (kind == PAGE)
        anchors.append(anchor[page])
        entities.append((first_entity + np.cumsum(kind == PAGE) - 1)[page])
        redirect = hit & (kind == REDIRECT)
        redirect_anchors.append(anchor[redirect])
        redirect_targets.append(np.asarray(pages["target"])[redirect])
    redirect_anchors, redirect_targets = np.concatenate(redirect_anchors), np.concatenate(redirect_targets)
    target_entities = _page_entities(piece_dirs, _resolve_redirects(piece_dirs, redirect_targets)) \
        if len(redirect_targets) else np.zeros(0, dtype=np.int64)
    anchors = np.concatenate(anchors + [redirect_anchors[target_entities >= 0]])
    entities = np.concatenate(entities + [target_entities[target_entities >= 0]])
    text_rows = np.searchsorted(hashes, anchors)
    return [(texts[row], entity) for row, entity in zip(text_rows.tolist(), entities.tolist())]
