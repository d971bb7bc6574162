"""Resolve: the scanned pieces, in dump order, become entity ids, (anchor, entity, count) runs and
(entity, source) in-link runs. Reads piece outputs only, a link chunk at a time.

The rules are the dict builder's, vectorized: page entities are numbered in dump order, targets resolved
through at most 10 redirect hops (cycles included), a link to a disambiguation page is dropped and
counted, a target with no page is dropped (drop_missing_targets) or becomes an entity numbered in the
order of its first link in the dump (also when the link has no tokens), self-links are dropped and
counted, and only links with an anchor count and give in-links. Title pseudo-links go to pages and,
through their resolved target, redirects.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

from container.errors import KindlingError
from train.kb_build.scan import DISAMBIGUATION, DONE, PAGE, REDIRECT, Settings
from train.kb_build.strings import lookup
from train.sorted_runs import Batch, RunWriter, concat, load_batch, merge, save_batch

COUNT_COLUMNS, INLINK_COLUMNS = ["anchor", "entity", "count"], ["entity", "source"]
REDIRECT_HOPS = 10


def markers(piece_dirs: list[Path], settings: Settings) -> list[dict]:
    """Every piece's done marker; an unfinished piece or one scanned with other settings is refused."""
    found = []
    for directory in piece_dirs:
        if not (directory / DONE).exists():
            raise KindlingError(f"The scan of {directory} did not finish (it has no {DONE}).", code="unfinished_shard",
                                hint="Run the scan of that piece or shard again, then resolve.")
        marker = json.loads((directory / DONE).read_text(encoding="utf-8"))
        expected = settings.to_json()
        differing = [f"{key}: {marker['settings'].get(key)!r} there, {expected[key]!r} here"
                     for key in expected if marker["settings"].get(key) != expected[key]]
        if differing:
            raise KindlingError(f"{directory} was scanned with other settings ({'; '.join(differing)}).",
                                code="shard_mismatch", hint="Scan every shard with the same hyperparameters.")
        found.append(marker)
    return found


def _find(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position of each value in the sorted keys, -1 where absent."""
    if not len(keys):
        return np.full(len(values), -1, dtype=np.int64)
    rows = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return np.where(keys[rows] == values, rows, -1)


class Registry:
    """Pages, redirects and disambiguation pages of the whole dump, as sorted hash arrays."""

    def __init__(self, pages: Batch):
        title, kind = pages["title"], pages["kind"]
        self.page_rows = np.flatnonzero(kind == PAGE)
        self.entity_of_row = np.full(len(kind), -1, dtype=np.int64)
        self.entity_of_row[self.page_rows] = np.arange(len(self.page_rows))
        order = np.argsort(title[self.page_rows], kind="stable")
        self.page_keys, self.page_entities = title[self.page_rows][order], order
        redirects = np.flatnonzero(kind == REDIRECT)
        order = np.argsort(title[redirects], kind="stable")
        self.redirect_keys, self.redirect_targets = title[redirects][order], pages["target"][redirects][order]
        self.disambiguation = np.sort(title[kind == DISAMBIGUATION])

    def resolve(self, targets: np.ndarray) -> np.ndarray:
        for _ in range(REDIRECT_HOPS if len(self.redirect_keys) else 0):  # the dict builder's loop: a cycle
            found = _find(self.redirect_keys, targets)                      # stops after as many hops
            targets = np.where(found >= 0, self.redirect_targets[np.maximum(found, 0)], targets)
        return targets

    def page_entity(self, targets: np.ndarray) -> np.ndarray:
        if not len(self.page_keys):
            return np.full(len(targets), -1, dtype=np.int64)
        found = _find(self.page_keys, targets)
        return np.where(found >= 0, self.page_entities[np.maximum(found, 0)], -1)

    def is_disambiguation(self, targets: np.ndarray) -> np.ndarray:
        return _find(self.disambiguation, targets) >= 0


def read_pages(piece_dirs: list[Path]) -> tuple[Batch, np.ndarray]:
    """Every piece's page rows, concatenated in dump order, and the piece index of each row."""
    batches = [{name: np.asarray(c) for name, c in load_batch(d / "pages").items()} for d in piece_dirs]
    piece = np.repeat(np.arange(len(batches)), [len(b["title"]) for b in batches])
    return concat(batches) if batches else {}, piece


def refuse_duplicates(pages: Batch, piece: np.ndarray, piece_dirs: list[Path], found: list[dict]) -> None:
    """The same title twice among the dump's pages: refused (in one file or in two shards alike), never guessed."""
    order = np.argsort(pages["title"], kind="stable")
    titles = pages["title"][order]
    twice = np.flatnonzero(titles[1:] == titles[:-1])
    if len(twice):
        first, second = order[twice[0]], order[twice[0] + 1]
        text = lookup([run for d in piece_dirs for run in sorted(d.glob("titles-*"))], titles[twice[:1]])[0].decode()
        raise KindlingError(f"The page {text!r} is in the dump twice ({found[piece[first]]['piece']} and "
                            f"{found[piece[second]]['piece']}).", code="duplicate_page",
                            hint="Give every dump file to exactly one shard; a dump holds each title once.")


def link_chunks(piece_dirs: list[Path], row_offsets: np.ndarray) -> Iterator[tuple[str, Batch]]:
    """Every link chunk in dump order, with rows numbered across the whole dump."""
    for index, directory in enumerate(piece_dirs):
        for chunk in sorted(directory.glob("links-*")):
            batch = {name: np.asarray(c) for name, c in load_batch(chunk).items()}
            batch["row"] = batch["row"].astype(np.int64) + row_offsets[index]
            yield f"{index:05d}-{chunk.name}", batch


def missing_entities(registry: Registry, chunks: Iterator[tuple[str, Batch]]) -> np.ndarray:
    """Hashes of the targets without a page, in the order of their first link in the dump."""
    hashes, positions, seen = [], [], 0
    for _, batch in chunks:
        targets = registry.resolve(batch["target"])
        missing = ~registry.is_disambiguation(targets) & (registry.page_entity(targets) < 0)
        unique, first = np.unique(targets[missing], return_index=True)
        hashes.append(unique)
        positions.append(seen + np.flatnonzero(missing)[first])
        seen += len(targets)
    if not hashes:
        return np.zeros(0, dtype=np.uint64)
    hashes, positions = np.concatenate(hashes), np.concatenate(positions)
    order = np.lexsort((positions, hashes))
    hashes, positions = hashes[order], positions[order]
    keep = np.ones(len(hashes), dtype=bool)
    keep[1:] = hashes[1:] != hashes[:-1]
    hashes, positions = hashes[keep], positions[keep]
    return hashes[np.argsort(positions, kind="stable")]


def resolve(piece_dirs: list[Path], settings: Settings, out: Path, budget: int) -> dict:
    """Write out/: count and in-link runs, entities/, link-entities/, anchors.npy + anchors.txt, resolve.json."""
    found = markers(piece_dirs, settings)
    pages, piece = read_pages(piece_dirs)
    refuse_duplicates(pages, piece, piece_dirs, found)
    registry = Registry(pages)
    row_offsets = np.concatenate([[0], np.cumsum(np.bincount(piece, minlength=len(piece_dirs)))])
    drop = settings.drop_missing_targets
    missing = np.zeros(0, dtype=np.uint64) if drop else missing_entities(registry, link_chunks(piece_dirs, row_offsets))
    pages_count = len(registry.page_rows)
    order = np.argsort(missing, kind="stable")
    missing_keys, missing_ids = missing[order], pages_count + order
    counts = RunWriter(out, "counts", ("anchor", "entity"), "count", budget // 2)
    inlinks = RunWriter(out, "inlinks", ("entity", "source"), None, budget // 2)
    counters = Counter()
    (out / "link-entities").mkdir(parents=True)
    for name, batch in link_chunks(piece_dirs, row_offsets):
        targets = registry.resolve(batch["target"])
        disambiguation = registry.is_disambiguation(targets)
        entity = registry.page_entity(targets)
        without_page = ~disambiguation & (entity < 0)
        if not drop:
            entity[without_page] = missing_ids[_find(missing_keys, targets[without_page])]
        dropped = disambiguation | (without_page if drop else False)
        source = registry.entity_of_row[batch["row"]]
        self_link = ~dropped & (entity == source)
        counted = ~dropped & ~self_link & (batch["anchor"] != 0)
        counters["links_to_disambiguation"] += int(disambiguation.sum())
        counters["links_to_missing_pages"] += int((without_page & drop).sum())
        counters["self_links"] += int(self_link.sum())
        counts.add({"anchor": batch["anchor"][counted], "entity": entity[counted].astype(np.int32),
                    "count": np.ones(int(counted.sum()), dtype=np.int64)})
        inlinks.add({"entity": entity[counted].astype(np.int32), "source": source[counted].astype(np.int32)})
        np.save(out / "link-entities" / f"{name}.npy", np.where(counted, entity, -1).astype(np.int32))
    if settings.title_links > 0:
        counts.add(title_links(registry, pages, settings.title_links))
    entities = {"title": np.concatenate([pages["title"][registry.page_rows], missing]),
                "page_id": np.concatenate([pages["page_id"][registry.page_rows], np.zeros(len(missing), np.int64)]),
                "has_page": np.concatenate([np.ones(pages_count, np.uint8), np.zeros(len(missing), np.uint8)])}
    save_batch(out / "entities", entities)
    anchors, links = anchor_links(counts.finish(), budget)
    texts = lookup([run for d in piece_dirs for run in sorted(d.glob("anchors-*"))], anchors)
    np.save(out / "anchors.npy", anchors)
    (out / "anchors.txt").write_bytes(b"".join(text + b"\n" for text in texts))
    for key in ("pages", "redirects", "disambiguation_pages"):
        counters[key] = sum(marker["counts"][key] for marker in found)
    summary = {"counts": {key: value for key, value in sorted(counters.items()) if value},
               "articles": int(pages["has_text"].sum()), "entities": len(entities["title"]),
               "anchors": len(anchors), "links": int(links.sum()), "settings": settings.to_json(),
               "pieces": [marker["piece"] for marker in found], "inlink_runs": [p.name for p in inlinks.finish()],
               "count_runs": [p.name for p in counts.runs]}
    (out / "resolve.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def title_links(registry: Registry, pages: Batch, count: int) -> Batch:
    """A page's title and each redirect to it, as anchors of the page with `count` pseudo-links."""
    rows = registry.page_rows
    redirects = np.flatnonzero(pages["kind"] == REDIRECT)
    target = registry.page_entity(registry.resolve(pages["target"][redirects]))
    anchor = np.concatenate([pages["title_anchor"][rows], pages["title_anchor"][redirects]])
    entity = np.concatenate([registry.entity_of_row[rows], target])
    keep = (anchor != 0) & (entity >= 0)
    return {"anchor": anchor[keep], "entity": entity[keep].astype(np.int32),
            "count": np.full(int(keep.sum()), count, dtype=np.int64)}


def anchor_links(runs: list[Path], budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Every anchor (sorted hashes) and its links, pseudo-links included."""
    anchors, links = [np.zeros(0, dtype=np.uint64)], [np.zeros(0, dtype=np.int64)]
    for batch in merge(runs, COUNT_COLUMNS, ("anchor", "entity"), "count", budget):
        starts = np.flatnonzero(np.concatenate([[True], batch["anchor"][1:] != batch["anchor"][:-1]]))
        anchors.append(batch["anchor"][starts])
        links.append(np.add.reduceat(batch["count"], starts))
    return np.concatenate(anchors), np.concatenate(links)
