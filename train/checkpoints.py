"""Finished sub-steps kept in /opt/ml/checkpoints, so a restarted spot job does not redo them.

SageMaker syncs /opt/ml/checkpoints to the job's checkpoint S3 URI and restores it when a managed spot
job restarts. A step's result is stored under a key made from everything it depends on (the input
files' names, sizes and modification times, and the step's settings); a restarted job with the same
inputs and settings finds it and says so in the log; anything else is recomputed. Entries are written
to a temporary name and renamed, so a job stopped mid-write leaves no half entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def fingerprint(files: list[Path], settings: dict) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


class CheckpointStore:
    def __init__(self, directory: Path):
        self.directory = directory

    def _entry(self, step: str, key: str) -> Path:
        return self.directory / "kindling" / f"{step}-{key}"

    def find(self, step: str, key: str) -> Path | None:
        entry = self._entry(step, key)
        if (entry / "complete").is_file():
            log.info("checkpoint: reusing the %s finished by an earlier run (%s)", step, entry)
            return entry
        return None

    def save(self, step: str, key: str, source: Path) -> None:
        """Copy a finished step's directory into the store (best effort: a full disk costs only the reuse)."""
        entry = self._entry(step, key)
        partial = entry.with_name(entry.name + ".partial")
        try:
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(source, partial)
            (partial / "complete").write_text("ok\n")
            shutil.rmtree(entry, ignore_errors=True)
            os.replace(partial, entry)
            log.info("checkpoint: saved the %s to %s", step, entry)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            log.warning("checkpoint: could not save the %s (%s); a restart would redo it", step, exc)
