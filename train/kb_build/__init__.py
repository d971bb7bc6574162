"""The entity KB from Wikipedia dumps in bounded memory: scan, resolve, count, write.

1. scan (per dump piece, in parallel): pages and links as hashes, token lines; the only read of the dump;
2. resolve (one process): entity ids, link counts and in-links as sorted runs on disk;
3. count (per token file, in parallel): in how many articles each anchor occurs;
4. write (one process): thresholds, ranking, the KB arrays.

Memory is the working budget (shared by the processes) plus arrays the size of the final KB, never the
dump. Every phase orders its inputs by piece, and pieces by (file, offset), so the KB is the same bytes
for any number of processes, pieces or budget. The dict builder that came before gave the same bytes
(tests/contract/test_entity_kb_equivalence.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from container.dump_pieces import MIN_PIECE_BYTES, Piece, pieces
from container.errors import KindlingError
from train.isolated import forked_pool
from train.kb_build import count as counting
from train.kb_build.resolve import resolve
from train.kb_build.scan import Settings, scan
from train.kb_build.write import Thresholds, write
from train.sorted_runs import spilling

log = logging.getLogger(__name__)
PIECES_PER_PROCESS = 4  # pieces differ in size; more of them than processes evens the load
_ANCHORS: counting.AnchorSet | None = None  # set before the count pool forks: workers inherit it


@dataclass(frozen=True)
class Built:
    counts: dict  # the dump's counters, as logged
    meta: dict  # kb.json
    pieces: list[Path]  # scan outputs, in dump order (token lines, links)
    resolved: Path


def worker_pool(processes: int, phase: str):
    """Forked workers (settings and anchors come along for free); a dead worker is a named error, not a hang."""
    return forked_pool(processes, KindlingError(
        f"A process died during the entity KB's {phase}.", code="kb_build_crashed", status=500,
        hint="If the machine ran out of memory, use fewer processes, a smaller working_budget_mb or a larger "
             "instance; the job log has the details."))


def _map(function, items: list, processes: int, phase: str) -> list:
    """Always in worker processes, one too: the dump's readers then run where an out-of-memory kill is a
    named error and the job can still write its failure file."""
    if not items:
        return []
    with worker_pool(min(processes, len(items)), phase) as pool:
        return list(pool.map(function, *zip(*items)))


def _count(tokens: Path) -> np.ndarray:
    return counting.count(_ANCHORS, [tokens])


def scan_pieces(cut: list[Piece], names: list[str], settings: Settings, piece_dirs: list[Path], processes: int,
                budget: int) -> list[dict]:
    """Scan every piece (processes at a time); each process gets its share of the budget."""
    started = time.monotonic()
    scanned = _map(scan, [(p, settings, d, budget // processes, n) for p, d, n in zip(cut, piece_dirs, names)],
                   processes, "scan")
    log.info("entity KB: %d piece(s) scanned by %d process(es) in %.1f s", len(cut), processes,
             time.monotonic() - started)
    return scanned


def document_frequencies(resolved: Path, piece_dirs: list[Path], processes: int) -> np.ndarray:
    """For every anchor of the resolved KB, the articles of these pieces whose text holds it."""
    global _ANCHORS
    texts = (resolved / "anchors.txt").read_bytes().decode("utf-8").split("\n")[:-1]
    _ANCHORS = counting.AnchorSet(texts)
    try:
        return sum(_map(_count, [(d / "tokens.txt",) for d in piece_dirs], processes, "count"),
                   np.zeros(len(texts), dtype=np.int64))
    finally:
        _ANCHORS = None


def counters(summary: dict) -> dict:
    """The dump's counters as the log line and the manifest give them."""
    return {**summary["counts"], "articles": summary["articles"], "entities": summary["entities"],
            "anchors": summary["anchors"], "links": summary["links"]}


def build(files: list[Path], settings: Settings, thresholds: Thresholds, workdir: Path, kb_dir: Path,
          processes: int = 1, budget: int = 256 << 20, min_piece_bytes: int = MIN_PIECE_BYTES) -> Built:
    """The four phases in this process and its pool: what mode=entities runs."""
    started = time.monotonic()
    cut = pieces(files, processes * PIECES_PER_PROCESS, min_piece_bytes)
    piece_dirs = [workdir / "pieces" / f"{index:05d}" for index in range(len(cut))]
    with spilling(workdir, "set TMPDIR to a folder on a larger file system, or give this one more room (Docker: a "
                           "larger volume or --tmpfs size)"):  # the KB itself goes to kb_dir: the bundle's errors
        scanned = scan_pieces(cut, [""] * len(cut), settings, piece_dirs, processes, budget)
        if not sum(counts["pages"] for counts in scanned):
            raise KindlingError(f"The dump(s) {', '.join(map(str, files))} hold no articles.", code="empty_dump",
                                hint="Give a pages-articles dump.")
        summary = resolve(piece_dirs, settings, workdir / "resolved", budget)
        documents = document_frequencies(workdir / "resolved", piece_dirs, processes)
    meta = write(workdir / "resolved", documents, piece_dirs, kb_dir, thresholds, budget)
    log.info("entity KB: built in %.1f s", time.monotonic() - started)
    return Built(counters(summary), meta, piece_dirs, workdir / "resolved")
