"""The articles again, for entity vectors, from the scan's outputs instead of the dump: per article its
tokens and its counted links (first token, end token, entity), one piece in memory at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from train.kb_build.scan import PAGE
from train.sorted_runs import load_batch


def linked_articles(piece_dirs: list[Path], resolved: Path) -> Iterator[tuple[list[str], list[tuple[int, int, int]]]]:
    """(tokens, [(first, last, entity), ...]) of every article in dump order; links that were not counted
    (dropped, self-links, no tokens) are left out, as the dict builder left them out of an article."""
    for index, directory in enumerate(piece_dirs):
        pages = load_batch(directory / "pages", ["kind", "has_text"])
        rows = np.flatnonzero((np.asarray(pages["kind"]) == PAGE) & (np.asarray(pages["has_text"]) == 1)).tolist()
        chunks = sorted(directory.glob("links-*"))
        links = [load_batch(c, ["row", "first", "last"]) for c in chunks]
        entities = [np.load(resolved / "link-entities" / f"{index:05d}-{c.name}.npy") for c in chunks]
        row, first, last, entity = ([np.concatenate([np.asarray(b[k]) for b in links]) if links else np.zeros(0)
                                     for k in ("row", "first", "last")]
                                    + [np.concatenate(entities) if entities else np.zeros(0)])
        counted = entity >= 0
        row, first, last, entity = row[counted], first[counted], last[counted], entity[counted]
        bounds = np.searchsorted(row, rows + [len(pages["kind"])]).tolist()
        with open(directory / "tokens.txt", encoding="utf-8", newline="\n") as handle:
            for number, line in enumerate(handle):
                line = line.rstrip("\n")
                span = slice(bounds[number], bounds[number + 1])
                yield (line.split(" ") if line else [],
                       list(zip(first[span].tolist(), last[span].tolist(), entity[span].tolist())))
