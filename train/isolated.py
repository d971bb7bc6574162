"""Run one fastText training in a fresh child process.

fastText leaves state behind in a process: measured with fasttext-numpy2 0.10.4 and fasttext 0.9.3
alike, a second `train_supervised` in the same process fails with "Encountered NaN" about every
other time on data where a fresh process trains cleanly every time (10 of 10). A child process per
training gives every run a clean slate, and a crash or an out-of-memory kill inside the C++ core
becomes an error message instead of taking the whole job down with it.
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from container.errors import KindlingError


def run_isolated(function: Callable[..., Any], *args: Any) -> Any:
    """Call function(*args) in a spawned child and return its result; its exceptions re-raise here."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
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
