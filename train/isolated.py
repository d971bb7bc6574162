"""Run one fastText training in a fresh child process whose new memory reads as zeros.

fastText (src/densematrix.cc, in fasttext 0.9.3 and fasttext-numpy2 0.10.4) initialises only
`min(thread, 10)` tenths of the input matrix (`uniformThread` fills one tenth per thread) and
allocates it with posix_memalign, which does not zero memory. valgrind (--track-origins) shows
training reading that uninitialised heap memory; wherever the allocator hands back memory freed
earlier, the rest of the matrix is garbage and training turns non-deterministic or fails with
"Encountered NaN" (measured: 8 of 8 runs in one process on a 200-line set). fastText's older
std::vector storage gave zeros there, so the child sets glibc's M_PERTURB to 0xFF: every allocation
is then filled with the complement, 0x00 (fresh mmap pages are zero anyway), and 8 of 8 runs agree.
The child process also turns a crash or an out-of-memory kill in the C++ core into an error message,
and lets a stop request end training at once. Channel preparation runs in a child for the same reason:
a reader that exhausts memory is killed there, and this process is still alive to write the failure file.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

from container.errors import KindlingError


M_PERTURB = -6  # glibc mallopt parameter: fill allocations with ~byte, freed memory with byte


def zero_filled_allocations() -> bool:
    """Make every glibc allocation in this process start as zeros; False where that is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_PERTURB, 0xFF))
    except (OSError, AttributeError):
        return False


class Stopped(BaseException):
    """Raised in the job's main thread when the platform asks it to stop (SIGTERM/SIGINT).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way (ours or a
    library's) mistakes a stop request for a failure and carries on."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


def leave_stopping_to_parent() -> None:
    """In a child process: SIGTERM ends it at once and SIGINT (Ctrl-C reaches the whole process group)
    is ignored, because stopping is the parent's job. A forked child would otherwise inherit the job's
    handler that raises Stopped; multiprocessing.Pool's worker (the corpus tokenizers used it) caught
    that as a task failure and waited for the next task, and `Pool.terminate()` waited for that worker
    forever (a training job hung in 2 of 102 runs here until it was killed)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


TRAINING_OOM_HINT = "lower buckets or vector_dim, or use an instance with more memory."


@contextlib.contextmanager
def forked_pool(processes: int, crashed: KindlingError) -> Iterator[ProcessPoolExecutor]:
    """Forked workers (what the parent set up comes along for free) that leave stopping to the job.

    A process pool executor rather than multiprocessing.Pool: when a worker dies (the out-of-memory
    killer), Pool starts another and waits forever for the lost batch; the executor fails the batch,
    which becomes `crashed`, an error that names the cause. On the way out, work not yet started is dropped.
    """
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                               initializer=leave_stopping_to_parent)
    try:
        yield pool
    except BrokenProcessPool as exc:
        raise crashed from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _child(connection, function: Callable[..., Any], args: tuple) -> None:
    leave_stopping_to_parent()
    zero_filled_allocations()
    try:
        result = ("ok", function(*args))
    except KindlingError as exc:  # already a sentence: passed on whole (its keyword fields do not pickle)
        result = ("kindling", (exc.message, exc.code, exc.status, exc.hint))
    except BaseException as exc:  # everything goes back to the parent as data
        result = ("error", (type(exc).__name__, str(exc)))
    connection.send(result)
    connection.close()


def _descendants(pid: int) -> list[int]:
    """The processes a child started (the corpus tokenizers), read from /proc; [] where there is none."""
    try:
        children = [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []
    return children + [grandchild for child in children for grandchild in _descendants(child)]


def _stop(process) -> None:
    """End the child and the processes it started: SIGTERM, then SIGKILL if they have not gone within 5 s.
    (A preparation child's tokenizer workers would otherwise outlive it, waiting for work that never comes.)"""
    descendants = _descendants(process.pid) if process.pid else []
    if process.is_alive():
        process.terminate()
        process.join(5)
    if process.is_alive():
        process.kill()
        process.join(5)
    for pid in descendants:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:  # already gone
            pass


def run_isolated(function: Callable[..., Any], *args: Any, start_method: str = "spawn",
                 watchdog: Callable[[float, int], None] | None = None, what: str = "The fastText training process",
                 oom_hint: str = TRAINING_OOM_HINT, daemon: bool = True) -> Any:
    """Call function(*args) in a child process and return its result.

    A RuntimeError or ValueError in the child (what fastText raises) is raised again here with its
    message; a child that dies becomes a KindlingError; anything raised here while waiting (a stop
    signal) ends the child first. The child is spawned (a fresh interpreter) by default; a caller whose
    library has no use for a fresh heap may fork instead, so that modules it imported once are not
    imported again for every child (gensim takes a second). `watchdog(seconds, pid)`, when given, is called
    about five times a second while the child runs. `what` names the child and `oom_hint` says what to change
    when it runs out of memory (MemoryError, or killed by SIGKILL); a child that starts processes of its own
    (the corpus tokenizers) must not be a daemon.
    """
    context = multiprocessing.get_context(start_method)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, function, args), name="kindling-child", daemon=daemon)
    process.start()
    sender.close()
    started = time.monotonic()
    try:
        while not receiver.poll(0.2):
            if watchdog is not None:
                watchdog(time.monotonic() - started, process.pid)
            if not process.is_alive() and not receiver.poll(0):
                process.join()
                raise _died(process.exitcode, what, oom_hint)
        try:
            status, payload = receiver.recv()
        except EOFError:  # it closed the pipe without an answer: it died
            process.join(10)
            raise _died(process.exitcode, what, oom_hint) from None
        process.join(10)
    except BaseException:
        _stop(process)
        raise
    finally:
        receiver.close()
    if status == "ok":
        return payload
    if status == "kindling":
        message, code, status_code, hint = payload
        raise KindlingError(message, code=code, status=status_code, hint=hint)
    name, message = payload
    if name == "MemoryError":
        raise KindlingError(f"{what} ran out of memory (MemoryError{': ' + message if message else ''}).",
                            code="out_of_memory", status=500, hint=oom_hint[:1].upper() + oom_hint[1:])
    if name in {"RuntimeError", "ValueError"}:
        raise (RuntimeError if name == "RuntimeError" else ValueError)(message)
    raise KindlingError(f"Training failed: {name}: {message}.", code="training_failed", status=500,
                        hint="This is unexpected; the job log has the details.")


def _died(exitcode: int | None, what: str, oom_hint: str) -> KindlingError:
    return KindlingError(
        f"{what} died ({_describe(exitcode or 0)}).", code="training_crashed", status=500,
        hint=f"If it was killed (SIGKILL), the machine ran out of memory: {oom_hint}")


def _describe(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
