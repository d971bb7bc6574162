"""Holds fastText's autotune to its time budget when fastText's own timer does not.

fastText's `Autotune::startTimer` (src/autotune.cc, fastText's main branch and fasttext-numpy2 0.10.4) starts
its timer thread before it sets `continueTraining_ = true`. When the new thread runs first, it finds
`continueTraining_` still false, skips its loop, and its `abort()` does nothing; the search then never
ends, because only that thread updates the elapsed time. Seen here in a fresh-clone CI run: after an
8 s budget the search was still running 15 minutes later, with 10,994 trials done and `elapsed_` still
0 (read with gdb); with both cores busy, 8 of 100 one-second searches on a small set lost the race.

The one other way into a running search is the one fastText gives Ctrl-C: its SIGINT handler ends the
search and trains the best candidate found so far. So when the budget plus a grace period has passed
and fastText has not yet said that the search is over, the training child gets one SIGINT. The signal
is sent only while the search runs: fastText's handler stays installed after the search and then
points at an object that no longer exists.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Callable

log = logging.getLogger(__name__)

SEARCH_OVER = "Training again with best arguments"  # fastText's own line when the search has ended


def grace_seconds(budget: float) -> float:
    """Time beyond the budget that reading the data and starting the child may take."""
    return max(10.0, 0.25 * budget)


class AutotuneDeadline:
    """A run_isolated watchdog: interrupts the search once `budget + grace` seconds have passed while
    `search_over()` is still false."""

    def __init__(self, budget: float, search_over: Callable[[], bool], grace: float | None = None):
        self.budget = budget
        self.deadline = budget + (grace_seconds(budget) if grace is None else grace)
        self.search_over = search_over
        self.interrupted = False

    def __call__(self, seconds: float, pid: int) -> None:
        if self.interrupted or seconds < self.deadline or self.search_over():
            return
        log.warning("autotune: the search is still running %.0f s after its %.0f s budget (fastText's timer "
                    "did not start; see train/autotune_deadline.py); interrupting it, as Ctrl-C would: the best "
                    "candidate so far is trained", seconds, self.budget)
        self.interrupted = True
        os.kill(pid, signal.SIGINT)
