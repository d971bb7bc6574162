"""A failed write as a sentence: which path, what the system said, and how much space is left there.

Why: a full disk used to surface as "Cannot read the 'train' channel ... check the files' permissions"
(a write into scratch space filled it) or as "Internal error ... kindling bug" (a full /opt/ml/model).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

from container.errors import KindlingError

# errors that mean "this file system cannot take the bytes", as opposed to a bug or a bad input
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def is_write_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS


def free_space(path: Path) -> str:
    """'12.3 MB free of 1.0 GB' on the file system holding path (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        fs = os.statvfs(path)
    except OSError:
        return "free space unknown"
    return f"{fs.f_bavail * fs.f_frsize / 1e6:,.1f} MB free of {fs.f_blocks * fs.f_frsize / 1e6:,.1f} MB"


def write_error(path: Path, exc: OSError) -> KindlingError:
    path = Path(exc.filename) if getattr(exc, "filename", None) else Path(path)
    return KindlingError(
        f"Cannot write {path}: {exc.strerror or exc} ({free_space(path)} on its file system).", code="write_failed",
        status=500, hint="Give the job more disk space (SageMaker: VolumeSizeInGB; Docker: a larger volume or "
                         "tmpfs), or make the output smaller (buckets, vector_dim, max_input_gb).")


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Inside the block, a write error (full disk, quota, read-only) becomes write_error(path)."""
    try:
        yield
    except OSError as exc:
        if is_write_error(exc):
            raise write_error(path, exc) from exc
        raise
