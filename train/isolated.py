"""Run one fastText training in a fresh child process with zero-filled matrices.

fastText (src/densematrix.cc, in fasttext 0.9.3 and fasttext-numpy2 0.10.4) initialises only
`min(thread, 10)` tenths of the input matrix (`uniformThread` fills one tenth per thread) and
allocates it with posix_memalign, which does not zero memory. valgrind shows training then reading
uninitialised heap memory: in a process that freed memory before (a second training, or a job that
imported much first) the rest of the matrix is garbage, and training turns non-deterministic or fails
with "Encountered NaN" (measured: 5 of 6 runs in one process on a 300-line set). Fresh pages from
mmap are zero, which is what fastText's older std::vector storage gave, so the child asks glibc to
serve every allocation of 4 KiB or more from mmap (M_MMAP_THRESHOLD): 6 of 6 runs then agree.
The child process also turns a crash or an out-of-memory kill in the C++ core into an error message
instead of taking the whole job down with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from container.errors import KindlingError


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
ZERO_FILLED_FROM_BYTES = 4096


def zero_filled_large_allocations() -> bool:
    """Make glibc serve allocations >= 4 KiB from fresh (zeroed) mmap pages; False where not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, ZERO_FILLED_FROM_BYTES))
    except (OSError, AttributeError):
        return False


def run_isolated(function: Callable[..., Any], *args: Any) -> Any:
    """Call function(*args) in a spawned child and return its result; its exceptions re-raise here."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=zero_filled_large_allocations) as pool:
        future = pool.submit(function, *args)
        try:
            return future.result()
        except BrokenProcessPool as exc:
            codes = [p.exitcode for p in getattr(pool, "_processes", {}).values()]
            died = ", ".join(_describe(code) for code in codes if code) or "it exited unexpectedly"
            raise KindlingError(
                f"The fastText training process died ({died}).", code="training_crashed", status=500,
                hint="If it was killed (SIGKILL), the machine ran out of memory: lower buckets or vector_dim, "
                     "or use a larger instance.") from exc


def _describe(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
