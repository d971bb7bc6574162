"""Sorted runs: tables of integer columns that outgrow memory, sorted and reduced on disk.

Rows arrive in any order (link counts, in-link pairs). They are buffered up to a working budget, then
sorted by their key columns, reduced (equal keys summed, or kept once) and saved as a run: one .npy per
column, so a merge can memory-map a run and binary-search its first key without reading it. `merge`
then streams every run's rows in key order, reduced across runs, in batches that always hold whole
groups of the first key: a consumer sees all of an anchor's entities in one batch. Memory is the budget
while writing and about the budget while merging, whatever the number of rows.

Columns are dicts name -> 1-D array (a "batch"); the reduce of a batch is the same whether its rows
came in one run or in many, so the result never depends on the budget.

A full disk while spilling is a named error (container/disk.py's write_failed): `save_array` writes .npy
files whose failed writes keep their errno (numpy's own `tofile` reports "N requested and M written" and
nothing else), and `spilling` turns a full disk under a build's directory into a sentence naming it.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from container.disk import is_write_error, write_error
from container.errors import KindlingError

Batch = dict[str, np.ndarray]
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's tofile() on a full disk (no errno)


class _Writes:
    """A file as numpy's format writer sees an object that is not a file: it gets the bytes through write(), so
    a full disk raises OSError with its errno instead of numpy's short-write error."""

    def __init__(self, handle):
        self.write = handle.write


def save_array(path: Path, array: np.ndarray) -> None:
    """np.save(path, array), the same bytes; a failed write is an OSError with its errno and path."""
    try:
        with open(path, "wb") as handle:
            np.lib.format.write_array(_Writes(handle), np.asanyarray(array), allow_pickle=False)
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def disk_full(exc: BaseException) -> bool:
    """A write the file system refused (full, quota, too large, read-only), numpy's short write included."""
    return is_write_error(exc) or (isinstance(exc, OSError) and exc.errno is None
                                   and bool(_SHORT_WRITE.fullmatch(str(exc))))


def spill_error(directory: Path, exc: OSError, remedy: str) -> KindlingError:
    """write_failed naming the file, the free space and the build directory that filled; `remedy` says where else
    the build can go."""
    if exc.errno is None:  # numpy's short write: say what it means
        exc = OSError(0, f"the file system took only part of a write ({exc}), as when the disk is full")
    error = write_error(directory, exc)
    error.hint = (f"The entity KB build keeps its scanned pieces and sorted runs in {directory}: "
                  f"{remedy}.")
    return error


@contextlib.contextmanager
def spilling(directory: Path, remedy: str) -> Iterator[None]:
    """Inside the block, a full disk while writing under `directory` (or where the error names no file) becomes
    spill_error; writes elsewhere (the model directory) are left to their own handlers."""
    try:
        yield
    except OSError as exc:
        named = Path(exc.filename) if exc.filename else None
        if not disk_full(exc) or (named is not None and not named.is_relative_to(directory)):
            raise
        raise spill_error(Path(directory), exc, remedy) from exc


def rows(batch: Batch) -> int:
    return len(next(iter(batch.values()))) if batch else 0


def concat(batches: list[Batch]) -> Batch:
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


def reduce(batch: Batch, keys: tuple[str, ...], total: str | None) -> Batch:
    """Sorted by keys (first key first); rows with equal keys become one, `total` summed (None: kept once)."""
    if not rows(batch):
        return batch
    order = np.lexsort([batch[k] for k in reversed(keys)])
    batch = {name: column[order] for name, column in batch.items()}
    starts = np.ones(rows(batch), dtype=bool)
    starts[1:] = np.logical_or.reduce([batch[k][1:] != batch[k][:-1] for k in keys])
    first = np.flatnonzero(starts)
    out = {name: column[first] for name, column in batch.items()}
    if total is not None:
        out[total] = np.add.reduceat(batch[total], first)
    return out


def save_batch(directory: Path, batch: Batch) -> Path:
    """One .npy per column under directory (memory-mappable one column at a time)."""
    directory.mkdir(parents=True)
    for name, column in batch.items():
        save_array(directory / f"{name}.npy", column)
    return directory


def load_batch(directory: Path, columns: list[str] | None = None) -> Batch:
    names = columns or sorted(p.stem for p in directory.glob("*.npy"))
    return {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in names}


class RunWriter:
    """Buffers rows and spills a sorted, reduced run to `directory` each time the buffer passes `budget` bytes."""

    def __init__(self, directory: Path, name: str, keys: tuple[str, ...], total: str | None, budget: int):
        self.directory, self.name, self.keys, self.total = directory, name, keys, total
        self.budget = max(budget, 1)
        self.pending: list[Batch] = []
        self.pending_bytes = 0
        self.runs: list[Path] = []

    def add(self, batch: Batch) -> None:
        if not rows(batch):
            return
        self.pending.append(batch)
        self.pending_bytes += sum(column.nbytes for column in batch.values())
        if self.pending_bytes >= self.budget:
            self.spill()

    def spill(self) -> None:
        if not self.pending:
            return
        run = self.directory / f"{self.name}-{len(self.runs):05d}"
        self.runs.append(save_batch(run, reduce(concat(self.pending), self.keys, self.total)))
        self.pending, self.pending_bytes = [], 0

    def finish(self) -> list[Path]:
        """Every run written (the buffer spilled too)."""
        self.spill()
        return self.runs


def merge(runs: list[Path], columns: list[str], keys: tuple[str, ...], total: str | None,
          budget: int = 64 << 20) -> Iterator[Batch]:
    """Every run's rows in key order, reduced across runs; each batch ends where the first key changes.

    From each run, a chunk is read; the bound is the smallest last first-key among the chunks of runs that
    go on past their chunk. Every row up to the bound (in any run, found by binary search) is in this batch
    and no row after it, so a group of the first key never spans two batches."""
    opened = [load_batch(run, columns) for run in runs]
    opened = [run for run in opened if rows(run)]
    if not opened:
        return
    row_bytes = sum(opened[0][name].dtype.itemsize for name in columns)
    chunk = max(1024, budget // (row_bytes * len(opened)))
    first = keys[0]
    positions = [0] * len(opened)
    while True:
        live = [i for i, run in enumerate(opened) if positions[i] < rows(run)]
        if not live:
            return
        bounds = [opened[i][first][positions[i] + chunk - 1] for i in live if positions[i] + chunk < rows(opened[i])]
        parts = []
        for i in live:
            run, start = opened[i], positions[i]
            end = rows(run) if not bounds else \
                start + int(np.searchsorted(run[first][start:], min(bounds), side="right"))
            if end > start:
                parts.append({name: np.asarray(run[name][start:end]) for name in columns})
            positions[i] = end
        yield reduce(concat(parts), keys, total)
