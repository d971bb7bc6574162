"""The entity knowledge base: anchor statistics and entity in-links, built by training, read by serving.

Statistics (the builder's view, plain dictionaries) hold for every anchor text (tokens of the shared
tokenizer joined by spaces) how often it links to each entity and in how many documents it occurs as
text, and for every entity the set of pages linking to it. CompactKB writes them as flat numpy arrays
(.npy) — anchors found by a sorted 64-bit hash with the text kept to rule out collisions, candidates
and in-links in CSR layout — which serving memory-maps: every gunicorn worker shares the same pages,
nothing is copied per worker, and loading takes milliseconds.

Both implement the small interface the ranker (container/tagme.py) needs: anchor(text) ->
(link probability, link count, [(entity, commonness), ...] by commonness), inlinks(entity) (sorted
array), title/entity_id(entity), vector(entity), entity_count.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from container.errors import KindlingError

KB_DIR = "kb"
FILES = ("anchor_hash", "anchor_text_offsets", "anchor_text", "anchor_link_probability", "anchor_links",
         "candidate_offsets", "candidate_entity", "candidate_commonness", "entity_id_offsets", "entity_id",
         "entity_title_offsets", "entity_title", "inlink_offsets", "inlink_source")
VECTORS = "entity_vectors"
# What every request reads at once: the binary search over anchor hashes and the offsets into everything else.
# Only these are faulted in at load; a Wikipedia-scale KB's texts, candidates, in-links and vectors (GBs)
# stay mapped and come in page by page as requests reach them (issue 13, Deliver 5).
TOUCHED = ("anchor_hash", "anchor_text_offsets", "candidate_offsets", "inlink_offsets")
META = "kb.json"


def anchor_hash(text: str) -> int:
    """A hash that is the same in every process (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Anchor:
    link_probability: float
    links: int
    candidates: list[tuple[int, float]]  # (entity, commonness): highest first, ties by more in-links


@dataclass
class Statistics:
    """What a dump or alias table says, before thresholds."""

    titles: list[str] = field(default_factory=list)
    ids: list = field(default_factory=list)  # page id (int), an alias table's id (str), None: no page in the dump
    index: dict[str, int] = field(default_factory=dict)
    links: dict[str, Counter] = field(default_factory=dict)  # anchor -> Counter(entity -> link count)
    documents_with: Counter = field(default_factory=Counter)  # anchor -> documents containing it as text
    inlinks: dict[int, set] = field(default_factory=dict)  # entity -> pages (entities) linking to it
    pages: int = 0  # documents read: W in Milne-Witten

    def entity(self, key: str, entity_id=None, title: str | None = None) -> int:
        """The index of the entity known by `key` (a title, or an alias table's id), made on first use."""
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.titles)
            self.titles.append(title or key)
            self.ids.append(entity_id)
        elif entity_id is not None and self.ids[found] is None:
            self.ids[found] = entity_id
        return found

    def add_link(self, anchor: str, entity: int, count: int = 1) -> None:
        if anchor:
            self.links.setdefault(anchor, Counter())[entity] += count

    def max_anchor_tokens(self) -> int:
        """The tokens in the longest anchor: no longer n-gram can be one."""
        return max((a.count(" ") + 1 for a in self.links), default=1)

    def link_probability(self, anchor: str, links: int) -> float:
        """Pr(link | the anchor's text occurs): links over the documents holding it (at least the links)."""
        return links / max(self.documents_with.get(anchor, 0), links)

    def ranked(self, counts: Counter) -> list[tuple[int, int]]:
        """An anchor's (entity, links), most linked first; ties: the entity with more in-links, then the
        lower index. The one order of candidates, for the evaluation's KB and the served one alike."""
        return sorted(counts.items(), key=lambda item: (-item[1], -len(self.inlinks.get(item[0], ())), item[0]))


class MemoryKB:
    """The ranker's interface over Statistics (used in training, for evaluation folds)."""

    def __init__(self, stats: Statistics, max_candidates: int = 50, vectors: np.ndarray | None = None):
        self.stats = stats
        self.max_candidates = max_candidates
        self.entity_count = max(stats.pages, 1)
        self.vectors = vectors
        self.max_anchor_tokens = stats.max_anchor_tokens()
        self._inlinks = {e: np.array(sorted(s), dtype=np.int32) for e, s in stats.inlinks.items()}
        self._empty = np.zeros(0, dtype=np.int32)

    def anchor(self, text: str) -> Anchor | None:
        counts = self.stats.links.get(text)
        if not counts:
            return None
        links = sum(counts.values())
        ranked = self.stats.ranked(counts)[:self.max_candidates]
        return Anchor(self.stats.link_probability(text, links), links, [(e, c / links) for e, c in ranked])

    def inlinks(self, entity: int) -> np.ndarray:
        return self._inlinks.get(entity, self._empty)

    def title(self, entity: int) -> str:
        return self.stats.titles[entity]

    def entity_id(self, entity: int):
        return self.stats.ids[entity]

    def vector(self, entity: int) -> np.ndarray | None:
        return None if self.vectors is None else self.vectors[entity]


def _blob(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8)


def write_compact(directory: Path, stats: Statistics, *, min_anchor_links: int = 1, min_link_probability: float = 0.0,
                  max_candidates: int = 20, vectors: np.ndarray | None = None) -> dict:
    """Apply the thresholds and write the arrays; returns counts for the log and the manifest."""
    kept = []
    for anchor, counts in stats.links.items():
        links = sum(counts.values())
        probability = stats.link_probability(anchor, links)
        if links >= min_anchor_links and probability >= min_link_probability:
            kept.append((anchor_hash(anchor), anchor, probability, links, counts))
    kept.sort(key=lambda item: item[0])
    hashes = np.array([k[0] for k in kept], dtype=np.uint64)
    if len(hashes) != len(set(hashes.tolist())):
        raise KindlingError("Two anchors share a 64-bit hash; this KB cannot be written.", code="internal", status=500)
    candidate_offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    entities, commonness = [], []
    for position, (_, _, _, links, counts) in enumerate(kept):
        ranked = stats.ranked(counts)[:max_candidates]
        entities += [e for e, _ in ranked]
        commonness += [c / links for _, c in ranked]
        candidate_offsets[position + 1] = len(entities)
    inlink_offsets = np.zeros(len(stats.titles) + 1, dtype=np.int64)
    sources = []
    for entity in range(len(stats.titles)):
        sources += sorted(stats.inlinks.get(entity, ()))
        inlink_offsets[entity + 1] = len(sources)
    text_offsets, text = _blob([k[1] for k in kept])
    title_offsets, titles = _blob(stats.titles)
    id_offsets, ids = _blob([json.dumps(i) for i in stats.ids])
    arrays = {
        "anchor_hash": hashes, "anchor_text_offsets": text_offsets, "anchor_text": text,
        "anchor_link_probability": np.array([k[2] for k in kept], dtype=np.float32),
        "anchor_links": np.array([k[3] for k in kept], dtype=np.int64),
        "candidate_offsets": candidate_offsets, "candidate_entity": np.array(entities, dtype=np.int32),
        "candidate_commonness": np.array(commonness, dtype=np.float32),
        "entity_id_offsets": id_offsets, "entity_id": ids, "entity_title_offsets": title_offsets,
        "entity_title": titles, "inlink_offsets": inlink_offsets, "inlink_source": np.array(sources, dtype=np.int32),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", array)
    if vectors is not None:
        np.save(directory / f"{VECTORS}.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    meta = {"anchors": len(kept), "entities": len(stats.titles), "candidates": len(entities), "inlinks": len(sources),
            "pages": stats.pages, "max_anchor_tokens": max((k[1].count(" ") + 1 for k in kept), default=1),
            "vectors": vectors is not None}
    (directory / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return meta


def entity_titles(directory: Path) -> list[str]:
    """Every entity's title, in index order (the builder's view of a written KB)."""
    offsets = np.load(directory / "entity_title_offsets.npy").tolist()
    blob = np.load(directory / "entity_title.npy").tobytes()
    return [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]


def touch(arrays: list[np.ndarray]) -> None:
    """Read one byte of every page of these arrays once, in the gunicorn master before it forks: they are then
    resident and mapped in every worker (shared, counted once), and no request waits for their page faults.
    They are clean file pages: under memory pressure the kernel can drop and re-read them. Start-up time
    and memory therefore grow with the anchor and entity counts, not with the KB's bytes."""
    for array in arrays:
        if array.size:
            int(np.asarray(array).reshape(-1).view(np.uint8)[::4096].sum())


class CompactKB:
    """The written KB, memory-mapped."""

    def __init__(self, directory: Path):
        try:
            meta = json.loads((directory / META).read_text(encoding="utf-8"))
            self.arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in FILES}
            vectors_path = directory / f"{VECTORS}.npy"
            self.vectors = np.load(vectors_path, mmap_mode="r") if vectors_path.exists() else None
        except (OSError, ValueError, KeyError) as exc:
            raise KindlingError(f"The entity KB in {directory} cannot be read ({exc}).", code="bad_bundle", status=503,
                                hint="Train again or mount the whole model.tar.gz.") from exc
        self.meta = meta
        touch([self.arrays[name] for name in TOUCHED])
        self.entity_count = max(int(meta["pages"]), 1)
        self.max_anchor_tokens = int(meta["max_anchor_tokens"])
        a = self.arrays
        self._hash, self._text_offsets, self._text = a["anchor_hash"], a["anchor_text_offsets"], a["anchor_text"]

    def _row(self, text: str) -> int | None:
        key = np.uint64(anchor_hash(text))
        row = int(np.searchsorted(self._hash, key))
        if row >= len(self._hash) or self._hash[row] != key:
            return None
        stored = self._text[self._text_offsets[row]:self._text_offsets[row + 1]].tobytes()
        return row if stored == text.encode("utf-8") else None

    def anchor(self, text: str) -> Anchor | None:
        row = self._row(text)
        if row is None:
            return None
        a = self.arrays
        start, end = int(a["candidate_offsets"][row]), int(a["candidate_offsets"][row + 1])
        return Anchor(float(a["anchor_link_probability"][row]), int(a["anchor_links"][row]),
                      list(zip(a["candidate_entity"][start:end].tolist(), a["candidate_commonness"][start:end].tolist())))

    def inlinks(self, entity: int) -> np.ndarray:
        offsets = self.arrays["inlink_offsets"]
        return self.arrays["inlink_source"][offsets[entity]:offsets[entity + 1]]

    def title(self, entity: int) -> str:
        offsets = self.arrays["entity_title_offsets"]
        return self.arrays["entity_title"][offsets[entity]:offsets[entity + 1]].tobytes().decode("utf-8")

    def entity_id(self, entity: int):
        offsets = self.arrays["entity_id_offsets"]
        return json.loads(self.arrays["entity_id"][offsets[entity]:offsets[entity + 1]].tobytes())

    def vector(self, entity: int) -> np.ndarray | None:
        return None if self.vectors is None else self.vectors[entity]

    def files(self) -> list[str]:
        names = [f"{name}.npy" for name in FILES] + [META]
        return names + ([f"{VECTORS}.npy"] if self.vectors is not None else [])
