"""Scan: the one read of the dump. Per piece, every page becomes a row of hashes and every article's
links become rows of (page row, target hash, anchor hash, token range); nothing is resolved yet, so
pieces are independent and can run in any process or on any machine.

Out, in the piece's directory: pages/ and links-NNNNN/ (column .npy files), titles-*/ and anchors-*/
(hash -> text runs), tokens.txt (an article per line, its tokens joined by spaces: the word-vector
corpus and the document-frequency input) and piece.json, written last: a piece without it did not finish.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from container import wikipedia
from container.dump_pieces import Piece, open_piece
from container.tokenizer import Tokenizer
from train.kb_build.strings import StringTable
from train.sorted_runs import save_batch

PAGE, REDIRECT, DISAMBIGUATION = 1, 2, 3
LINK_CHUNK_ROWS = 1 << 20
DONE = "piece.json"


@dataclass(frozen=True)
class Settings:
    """What changes the statistics: every phase records it, shards built with different ones are refused."""
    tokenizer: Tokenizer
    title_links: int
    drop_missing_targets: bool

    def to_json(self) -> dict:
        return {"tokenizer": self.tokenizer.to_manifest(), "title_links": self.title_links,
                "drop_missing_targets": self.drop_missing_targets}


def title_anchor(title: str, tokenizer: Tokenizer) -> str:
    """A title as an anchor of its page: without a trailing " (...)" ("Paris (mythology)" -> "paris")."""
    if title.endswith(")") and " (" in title:
        title = title[:title.rindex(" (")]
    return " ".join(tokenizer.tokenize(title))


class _Links:
    """Link rows, written in chunks of LINK_CHUNK_ROWS."""

    def __init__(self, directory: Path):
        self.directory, self.chunks = directory, 0
        self.columns = {"row": array("I"), "target": array("Q"), "anchor": array("Q"), "first": array("I"),
                        "last": array("I")}

    def add(self, row: int, target: int, anchor: int, first: int, last: int) -> None:
        columns = self.columns
        columns["row"].append(row)
        columns["target"].append(target)
        columns["anchor"].append(anchor)
        columns["first"].append(first)
        columns["last"].append(last)
        if len(columns["row"]) >= LINK_CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if len(self.columns["row"]):
            save_batch(self.directory / f"links-{self.chunks:05d}",
                       {name: np.frombuffer(values, dtype=values.typecode).astype(_DTYPES[name])
                        for name, values in self.columns.items()})
            self.chunks += 1
            self.columns = {name: array(values.typecode) for name, values in self.columns.items()}


_DTYPES = {"row": np.uint32, "target": np.uint64, "anchor": np.uint64, "first": np.uint32, "last": np.uint32}


def scan(piece: Piece, settings: Settings, out: Path, budget: int, file_name: str = "") -> dict:
    """Scan one piece into `out` (a new directory); returns the piece's counters. `file_name` is the piece's file
    as the merge orders it (its path under the shard's input), for sharded builds."""
    out.mkdir(parents=True)
    titles, anchors = StringTable(out, "titles", budget // 3), StringTable(out, "anchors", budget // 3)
    pages = {"title": array("Q"), "page_id": array("q"), "kind": array("B"), "has_text": array("B"),
             "target": array("Q"), "title_anchor": array("Q")}
    links = _Links(out)
    counts = {"pages": 0, "redirects": 0, "disambiguation_pages": 0, "articles": 0, "link_rows": 0}
    tokenizer = settings.tokenizer
    with open_piece(piece) as handle, open(out / "tokens.txt", "w", encoding="utf-8") as tokens_out:
        for page in wikipedia.pages(handle, piece.where):
            if page.namespace != 0:
                continue
            title = wikipedia.normalize_title(page.title)
            row = len(pages["title"])
            kind, target, has_text = PAGE, 0, 0
            if page.redirect is not None:
                kind, target = REDIRECT, titles.add(wikipedia.normalize_title(page.redirect))
                counts["redirects"] += 1
            elif wikipedia.is_disambiguation(page):
                kind = DISAMBIGUATION
                counts["disambiguation_pages"] += 1
            else:
                counts["pages"] += 1
                if wikipedia.is_article(page):
                    has_text = 1
                    counts["articles"] += 1
                    counts["link_rows"] += _article(page.text, row, tokenizer, titles, anchors, links, tokens_out)
            with_title_anchor = settings.title_links > 0 and kind != DISAMBIGUATION
            for name, value in (("title", titles.add(title)), ("page_id", page.page_id), ("kind", kind),
                                ("has_text", has_text), ("target", target),
                                ("title_anchor", anchors.add(title_anchor(title, tokenizer)) if with_title_anchor
                                 else 0)):
                pages[name].append(value)
    links.flush()
    save_batch(out / "pages", {name: np.array(values, dtype=_PAGE_DTYPES[name]) for name, values in pages.items()})
    titles.finish()
    anchors.finish()
    (out / DONE).write_text(json.dumps({"piece": piece.where, "file": file_name, "start": piece.start,
                                        "settings": settings.to_json(), "counts": counts},
                                       indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return counts


_PAGE_DTYPES = {"title": np.uint64, "page_id": np.int64, "kind": np.uint8, "has_text": np.uint8,
                "target": np.uint64, "title_anchor": np.uint64}


def _article(wikitext: str, row: int, tokenizer: Tokenizer, titles: StringTable, anchors: StringTable,
             links: _Links, tokens_out) -> int:
    """An article's link rows and token line; the token range of a link is the one the dict builder used:
    tokens starting inside the link, trimmed while the last one runs past its end."""
    text, found = wikipedia.parse_article(wikitext)
    tokens, ranges = tokenizer.tokens_and_ranges(text, [(start, end) for start, end, _ in found])
    for (_, _, target), (first, last) in zip(found, ranges):
        anchor = anchors.add(" ".join(tokens[first:last])) if last > first else 0
        links.add(row, titles.add(target), anchor, first, last)
    tokens_out.write(" ".join(tokens) + "\n")
    return len(found)
