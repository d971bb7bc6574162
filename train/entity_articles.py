"""The evaluation's articles: the first `limit` articles of the dump, with text and character spans (the
scan keeps neither), their links resolved as the streaming build resolved them.

Nothing here reads the dump's registry again: the scan's page rows give each article's entity (pages are
numbered in dump order) and its link rows, resolve's link-entities/ each link's entity (-1: not counted,
as the dict view dropped it: a link to a disambiguation page, a missing page with drop_missing_targets,
a self-link, no tokens). The dump is read from its start and left as soon as `limit` articles are in:
memory is the kept articles plus one piece's page and link columns.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from container import wikipedia
from container.compressed import open_binary
from container.entity_kb import anchor_hash
from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.kb_build.scan import PAGE
from train.sorted_runs import load_batch


@dataclass
class Article:
    entity: int
    text: str
    tokens: list[str]
    links: list[tuple[int, int, int, str, int, int]]  # (first token, end token, entity, anchor, start, end chars)


@dataclass(frozen=True)
class _Planned:
    """What the build knows of one kept article: its title hash, its entity, every link row's token range and
    entity, in the order the article's links come."""
    title: int
    entity: int
    first: np.ndarray
    last: np.ndarray
    link_entity: np.ndarray


def page_batches(piece_dirs: list[Path], columns: list[str]) -> Iterator[tuple[int, dict]]:
    """Every piece's page columns (memory-mapped), in dump order, with the entity number of its first page."""
    entities = 0
    for directory in piece_dirs:
        batch = load_batch(directory / "pages", sorted(set(columns) | {"kind"}))
        yield entities, batch
        entities += int(np.count_nonzero(np.asarray(batch["kind"]) == PAGE))


def _planned(piece_dirs: list[Path], resolved: Path, limit: int) -> Iterator[_Planned]:
    """The first `limit` articles (pages with text) as the scan and resolve saw them; stops at the piece
    that holds the last one."""
    left = limit
    for index, (first_entity, pages) in enumerate(page_batches(piece_dirs, ["has_text", "title"])):
        if left <= 0:
            return
        kind, has_text = np.asarray(pages["kind"]), np.asarray(pages["has_text"])
        entity_of_row = first_entity + np.cumsum(kind == PAGE) - 1
        rows = np.flatnonzero((kind == PAGE) & (has_text == 1))[:left]
        left -= len(rows)
        if not len(rows):
            continue
        directory = piece_dirs[index]
        row, first, last, entity = [], [], [], []
        for chunk in sorted(directory.glob("links-*")):
            links = load_batch(chunk, ["row", "first", "last"])
            chunk_rows = np.asarray(links["row"])
            if len(chunk_rows) and chunk_rows[0] > rows[-1]:
                break
            row.append(chunk_rows)
            first.append(np.asarray(links["first"]))
            last.append(np.asarray(links["last"]))
            entity.append(np.load(resolved / "link-entities" / f"{index:05d}-{chunk.name}.npy", mmap_mode="r"))
        row, first, last, entity = (np.concatenate(c) if c else np.zeros(0, dtype=np.int64)
                                    for c in (row, first, last, entity))
        bounds = np.searchsorted(row, np.stack([rows, rows + 1]))
        titles = np.asarray(pages["title"])
        for number, page_row in enumerate(rows.tolist()):
            span = slice(int(bounds[0, number]), int(bounds[1, number]))
            yield _Planned(int(titles[page_row]), int(entity_of_row[page_row]), np.array(first[span]),
                           np.array(last[span]), np.array(entity[span]))


def dump_articles(files: list[Path]) -> Iterator[wikipedia.Page]:
    """The dump's articles that the scan gave text rows (not redirects, not disambiguation pages), in order."""
    for path in files:
        with open_binary(path) as handle:
            for page in wikipedia.pages(handle, str(path)):
                if wikipedia.is_article(page) and not wikipedia.is_disambiguation(page):
                    yield page


def kept_articles(files: list[Path], piece_dirs: list[Path], resolved: Path, tokenizer: Tokenizer,
                  limit: int) -> list[Article]:
    """The first `limit` articles, read from the dump (which is left there), links resolved by the build."""
    kept = []
    pages = dump_articles(files)
    try:
        for plan in _planned(piece_dirs, resolved, limit):
            page = next(pages, None)
            if page is None or anchor_hash(wikipedia.normalize_title(page.title)) != plan.title:
                raise _changed(files, page)
            kept.append(_article(plan, page, tokenizer, files))
    finally:
        pages.close()
    return kept


def _changed(files: list[Path], page) -> KindlingError:
    where = f"at the page {page.title!r}" if page is not None else "at its end"
    return KindlingError(f"The dump {', '.join(map(str, files))} differs {where} from what the KB build scanned.",
                         code="internal", status=500,
                         hint="The dump must not change during a training job; start the job again.")


def _article(plan: _Planned, page: wikipedia.Page, tokenizer: Tokenizer, files: list[Path]) -> Article:
    """The article's text, tokens and counted links; the token range of each link is the scan's (checked)."""
    text, links = wikipedia.parse_article(page.text)
    if len(links) != len(plan.link_entity):
        raise _changed(files, page)
    spans = tokenizer.spans(text)
    starts = [start for _, start, _ in spans]
    tokens = [token for token, _, _ in spans]
    resolved = []
    for (start, end, _), first, last, entity in zip(links, plan.first.tolist(), plan.last.tolist(),
                                                    plan.link_entity.tolist()):
        if first != bisect.bisect_left(starts, start):
            raise _changed(files, page)
        if entity >= 0:  # counted: a page or kept missing target, not a self-link, with tokens
            resolved.append((first, last, entity, " ".join(tokens[first:last]), spans[first][1], spans[last - 1][2]))
    return Article(plan.entity, text, tokens, resolved)
