"""Save a fastText model so that a failed write is an error, and check the file before it is kept.

Why: fastText's C++ `saveModel` writes through an std::ofstream and never checks it, so on a full
/opt/ml/model it left a truncated model.bin and returned as if all was well. Here fastText writes into a
FIFO and a forked copier moves the bytes to the real file with plain write(2) calls, which fail loudly on
ENOSPC; the bytes fastText produced are counted, and the file must hold exactly that many after fsync.
(A thread cannot be the copier: fastText's binding holds the GIL while it writes, so a Python thread
would never run and fastText would block on the full pipe for ever.)
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from typing import Callable

from container.disk import write_error


def _copy(fifo: str, target: Path, report: int) -> None:
    """In the forked copier: FIFO -> target; reports 'errno copied strerror' and exits; never returns."""
    failure, copied, reason = 0, 0, ""
    try:
        source = os.open(fifo, os.O_RDONLY)
        try:
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                while block := os.read(source, 1 << 20):
                    view = memoryview(block)
                    while view:
                        view = view[os.write(out, view):]
                    copied += len(block)
                os.fsync(out)
            finally:
                os.close(out)
        except OSError as exc:
            failure, reason = exc.errno or 0, exc.strerror or str(exc)
            while os.read(source, 1 << 20):  # keep reading, or fastText would block on a full pipe
                pass
        os.write(report, f"{failure} {copied} {reason}".encode())
    finally:
        os._exit(0)


def save_checked(save: Callable[[str], None], target: Path) -> int:
    """Call save(path) (e.g. model.save_model) with a FIFO for path, the copier writing target. Returns the
    size; raises a KindlingError naming target (and the free space) when the write fails or sizes differ."""
    target = Path(target)
    with tempfile.TemporaryDirectory(prefix="kindling-save-") as scratch:
        fifo = os.path.join(scratch, "model.fifo")
        os.mkfifo(fifo)
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            _copy(fifo, target, writer)
        os.close(writer)
        try:
            save(fifo)
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            raise
        finally:
            with os.fdopen(reader, "rb") as answer:
                text = answer.read().decode()
            os.waitpid(pid, 0)
    failure, copied, reason = (text.split(" ", 2) + ["", ""])[:3] if text else ("-1", "0", "the copier died")
    if int(failure):
        raise write_error(target, OSError(int(failure), reason))
    size = os.path.getsize(target)
    if size != int(copied) or size == 0:
        raise write_error(target, OSError(0, f"{size} bytes on disk where {copied} were written"))
    return size
