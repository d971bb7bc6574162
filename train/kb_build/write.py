"""Write: the resolved runs and the document frequencies become the KB's arrays (container/entity_kb.py's
format), with the thresholds applied here and only here.

An anchor's link probability is links / max(documents, links) and a candidate's commonness count /
links, both float64 divisions stored as float32 (the dict builder's arithmetic). Candidates are ranked
by links, then in-links, then the lower entity index, and cut at max_candidates. Anchors come from the
merge in hash order, whole, so every array is written in one pass over the counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from container.entity_kb import META
from train.kb_build.resolve import COUNT_COLUMNS, INLINK_COLUMNS
from train.kb_build.strings import lookup
from train.sorted_runs import Batch, load_batch, merge, save_array


@dataclass(frozen=True)
class Thresholds:
    min_anchor_links: int = 1
    min_link_probability: float = 0.0
    max_candidates: int = 20


def _blob(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8)


def inlink_arrays(resolved: Path, entities: int, runs: list[str], budget: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, sources): each entity's distinct linking pages, sorted."""
    sources, indegree = [np.zeros(0, dtype=np.int32)], np.zeros(entities, dtype=np.int64)
    for batch in merge([resolved / run for run in runs], INLINK_COLUMNS, ("entity", "source"), None, budget):
        sources.append(batch["source"].astype(np.int32))
        indegree += np.bincount(batch["entity"], minlength=entities)
    return np.concatenate([[0], np.cumsum(indegree)]).astype(np.int64), np.concatenate(sources)


def ranked(batch: Batch, links: np.ndarray, keep: np.ndarray, indegree: np.ndarray,
           max_candidates: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kept anchors' candidates (entity, commonness) in rank order, and how many each anchor has."""
    starts = np.flatnonzero(np.concatenate([[True], batch["anchor"][1:] != batch["anchor"][:-1]]))
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(batch["anchor"]))))
    entity, count = batch["entity"], batch["count"]
    order = np.lexsort((entity, -indegree[entity], -count, group))
    rank = np.arange(len(order)) - starts[group[order]]
    chosen = order[(rank < max_candidates) & keep[group[order]]]
    per_anchor = np.bincount(group[chosen], minlength=len(starts))[keep]
    return entity[chosen].astype(np.int32), (count[chosen] / links[group[chosen]]).astype(np.float32), per_anchor


def write(resolved: Path, documents: np.ndarray, piece_dirs: list[Path], kb_dir: Path, thresholds: Thresholds,
          budget: int = 64 << 20) -> dict:
    summary = json.loads((resolved / "resolve.json").read_text(encoding="utf-8"))
    inlink_offsets, inlink_source = inlink_arrays(resolved, summary["entities"], summary["inlink_runs"], budget)
    indegree = np.diff(inlink_offsets)
    texts = (resolved / "anchors.txt").read_bytes().split(b"\n")[:-1]
    out = {"hash": [], "probability": [], "links": [], "entity": [], "commonness": [], "per_anchor": [], "text": []}
    done = 0
    for batch in merge([resolved / run for run in summary["count_runs"]], COUNT_COLUMNS, ("anchor", "entity"), "count",
                       budget):
        starts = np.flatnonzero(np.concatenate([[True], batch["anchor"][1:] != batch["anchor"][:-1]]))
        links = np.add.reduceat(batch["count"], starts)
        frequency = documents[done:done + len(starts)]
        probability = links / np.maximum(frequency, links)
        keep = (links >= thresholds.min_anchor_links) & (probability >= thresholds.min_link_probability)
        entity, commonness, per_anchor = ranked(batch, links, keep, indegree, thresholds.max_candidates)
        for name, values in (("hash", batch["anchor"][starts][keep]), ("probability", probability[keep]),
                             ("links", links[keep]), ("entity", entity), ("commonness", commonness),
                             ("per_anchor", per_anchor)):
            out[name].append(values)
        out["text"] += [texts[done + i] for i in np.flatnonzero(keep).tolist()]
        done += len(starts)
    joined = {name: np.concatenate(values) if values else np.zeros(0) for name, values in out.items() if name != "text"}
    entities = load_batch(resolved / "entities")
    titles = lookup([run for d in piece_dirs for run in sorted(d.glob("titles-*"))], entities["title"])
    ids = [json.dumps(int(i)).encode() if has else b"null" for i, has in zip(entities["page_id"].tolist(),
                                                                              entities["has_page"].tolist())]
    text_offsets, text = _blob(out["text"])
    title_offsets, title = _blob(titles)
    id_offsets, id_text = _blob(ids)
    arrays = {
        "anchor_hash": joined["hash"].astype(np.uint64), "anchor_text_offsets": text_offsets, "anchor_text": text,
        "anchor_link_probability": joined["probability"].astype(np.float32),
        "anchor_links": joined["links"].astype(np.int64),
        "candidate_offsets": np.concatenate([[0], np.cumsum(joined["per_anchor"])]).astype(np.int64),
        "candidate_entity": joined["entity"].astype(np.int32),
        "candidate_commonness": joined["commonness"].astype(np.float32),
        "entity_id_offsets": id_offsets, "entity_id": id_text, "entity_title_offsets": title_offsets,
        "entity_title": title, "inlink_offsets": inlink_offsets, "inlink_source": inlink_source,
    }
    kb_dir.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():  # a full disk is an OSError with its errno (the bundle names the folder)
        save_array(kb_dir / f"{name}.npy", array)
    meta = {"anchors": len(out["text"]), "entities": summary["entities"], "candidates": len(arrays["candidate_entity"]),
            "inlinks": len(inlink_source), "pages": summary["articles"],
            "max_anchor_tokens": max((t.count(b" ") + 1 for t in out["text"]), default=1), "vectors": False}
    (kb_dir / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return meta
