"""Hash -> text tables: the builder moves 64-bit hashes of titles and anchors around, and keeps each text
once per run on disk, so that only the texts the KB ends up holding are ever looked up together.

A table is a dict while it fits its share of the working budget, then a run sorted by hash (hash.npy,
offsets.npy, text.npy). The same hash with two texts is refused wherever it is seen: in a table, or
between runs when looked up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from container.entity_kb import anchor_hash
from container.errors import KindlingError


def collision(first: bytes, second: bytes) -> KindlingError:
    return KindlingError(f"The texts {first.decode(errors='replace')!r} and {second.decode(errors='replace')!r} share "
                         "a 64-bit hash; this KB cannot be written.", code="internal", status=500,
                         hint="Report the two texts: the builder needs another hash for this dump.")


class StringTable:
    def __init__(self, directory: Path, name: str, budget: int):
        self.directory, self.name, self.budget = directory, name, max(budget, 1)
        self.texts: dict[int, bytes] = {}
        self.bytes = 0
        self.runs: list[Path] = []

    def add(self, text: str) -> int:
        """The text's hash (0 for no text); the text is kept for lookups."""
        if not text:
            return 0
        encoded = text.encode("utf-8")
        key = anchor_hash(text)
        if key == 0:  # 0 stands for "no text" in every hash column
            raise collision(b"", encoded)
        known = self.texts.setdefault(key, encoded)
        if known is encoded:
            self.bytes += len(encoded) + 100  # the dict entry and its objects, roughly
            if self.bytes >= self.budget:
                self.spill()
        elif known != encoded:
            raise collision(known, encoded)
        return key

    def spill(self) -> None:
        if not self.texts:
            return
        run = self.directory / f"{self.name}-{len(self.runs):05d}"
        run.mkdir(parents=True)
        keys = np.array(sorted(self.texts), dtype=np.uint64)
        encoded = [self.texts[k] for k in keys.tolist()]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        np.save(run / "hash.npy", keys)
        np.save(run / "offsets.npy", offsets)
        np.save(run / "text.npy", np.frombuffer(b"".join(encoded), dtype=np.uint8))
        self.runs.append(run)
        self.texts, self.bytes = {}, 0

    def finish(self) -> list[Path]:
        self.spill()
        return self.runs


def lookup(runs: list[Path], wanted: np.ndarray) -> list[bytes]:
    """The texts of the wanted hashes (in their order) from every run; a hash no run holds is an internal error."""
    keys, inverse = np.unique(np.asarray(wanted, dtype=np.uint64), return_inverse=True)
    found: list[bytes | None] = [None] * len(keys)
    for run in runs:
        hashes = np.load(run / "hash.npy", mmap_mode="r")
        if not len(hashes) or not len(keys):
            continue
        rows = np.minimum(np.searchsorted(hashes, keys), len(hashes) - 1)
        positions = np.flatnonzero(hashes[rows] == keys)
        if not len(positions):
            continue
        # Plain lists and a memoryview: per-text indexing of np.memmap objects cost more than the rest of write.
        offsets = np.asarray(np.load(run / "offsets.npy", mmap_mode="r"))
        starts, ends = offsets[rows[positions]].tolist(), offsets[rows[positions] + 1].tolist()
        text = memoryview(np.asarray(np.load(run / "text.npy", mmap_mode="r")))
        for position, start, end in zip(positions.tolist(), starts, ends):
            value = text[start:end].tobytes()
            known = found[position]
            if known is None:
                found[position] = value
            elif known != value:
                raise collision(known, value)
    if any(value is None for value in found):
        raise KindlingError("A title or anchor hash has no text in the scanned pieces.", code="internal", status=500)
    return [found[i] for i in inverse.tolist()]
