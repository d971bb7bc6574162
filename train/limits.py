"""Bounds on what a training job reads: the longest line and the most (decompressed) input.

Why: the readers used to take whole lines (`for line in handle`, `readlines(hint)`), so one 200 MB
line without a newline was read, decoded and split whole, and the kernel's out-of-memory killer ended a
2 GB job in seconds with no reason given. The readers here look at no more than `max_line_bytes` of a
line before deciding, and name the file and line when it is longer. The meter counts the bytes that
come out of a (possibly compressed) file, logs how far reading has got at least every 30 s (a
compression bomb used to expand for minutes without a log line) and stops at `max_input_bytes`.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from container.compressed import open_binary
from container.errors import KindlingError

log = logging.getLogger(__name__)

# text8, the corpus of BlazingText's word2vec examples, is one line of 100,000,000 bytes: it must pass.
DEFAULT_MAX_LINE_MB = 100.0
PROGRESS_SECONDS = 30.0
MB = 1 << 20
GB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """How long a line and how much input (after decompression, 0 = no cap) a job reads."""

    max_line_bytes: int = int(DEFAULT_MAX_LINE_MB * MB)
    max_input_bytes: int = 0

    @classmethod
    def from_params(cls, params) -> "Limits":
        """From the `max_line_mb` and `max_input_gb` hyperparameters of a mode's params."""
        return cls(int(params.max_line_mb * MB), int(params.max_input_gb * GB))


def _size(limit: int) -> str:
    return f"{limit / MB:g} MB" if limit >= MB // 10 else f"{limit:,} bytes"


READING_OOM_HINT = ("lower max_line_mb (a line is held in memory whole) or max_input_gb, split the input into "
                    "more lines, or use an instance with more memory.")


def line_too_long(path, number: int, limit: int) -> KindlingError:
    return KindlingError(
        f"{path}, line {number}: the line is longer than {_size(limit)} (max_line_mb), which kindling will not "
        "read whole.", code="line_too_long",
        hint="Break the text into lines (one sentence, paragraph or document per line), or raise max_line_mb "
             "(a line is held in memory whole, about 15 bytes for each byte of text, so also give the job "
             "enough memory).")


def bounded_lines(handle: IO[bytes], path, limit: int, first: int = 1) -> Iterator[tuple[int, bytes]]:
    """(number, line) for each line of a binary stream, reading no more than limit + 1 bytes of any."""
    number = first - 1
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise line_too_long(path, number, limit)
        yield number, line


def line_blocks(handle: IO[bytes], path, limit: int, block_bytes: int) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, whole lines) in blocks of about block_bytes, read in fixed-size chunks;
    what `readlines(block_bytes)` gave, without ever holding more than one over-long line's limit."""
    number, carry = 1, b""
    while chunk := handle.read(block_bytes):
        data = carry + chunk if carry else chunk
        end = data.rfind(b"\n") + 1
        carry = data[end:]
        parts = data[:end].split(b"\n")[:-1] if end else []
        if end > limit:
            for index, part in enumerate(parts):
                if len(part) > limit:
                    raise line_too_long(path, number + index, limit)
        if len(carry) > limit:
            raise line_too_long(path, number + len(parts), limit)
        if parts:
            yield number, [part + b"\n" for part in parts]
            number += len(parts)
    if carry:
        yield number, [carry]


def longest_line_check(data: bytes, path, limit: int, state: list[int]) -> None:
    """Raise when a line in a stream read in chunks is longer than limit. `state` = [lines so far, length
    of the unfinished line] carries over from chunk to chunk; numpy finds the newlines at memory speed."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if newlines.size == 0:
        state[1] += len(data)
        if state[1] > limit:
            raise line_too_long(path, state[0] + 1, limit)
        return
    lengths = np.diff(newlines) - 1
    first = state[1] + int(newlines[0])
    if first > limit:
        raise line_too_long(path, state[0] + 1, limit)
    if lengths.size and int(lengths.max()) > limit:
        raise line_too_long(path, state[0] + 2 + int(np.argmax(lengths > limit)), limit)
    state[0] += int(newlines.size)
    state[1] = len(data) - int(newlines[-1]) - 1
    if state[1] > limit:
        raise line_too_long(path, state[0] + 1, limit)


class InputMeter:
    """Counts the bytes and lines read from one channel or corpus, across its files; logs progress and
    enforces max_input_bytes."""

    def __init__(self, what: str, limits: Limits, interval: float = PROGRESS_SECONDS):
        self.what, self.limits, self.interval = what, limits, interval
        self.bytes = self.lines = 0
        self.started = self.last_report = time.monotonic()

    def add(self, path, data: bytes) -> None:
        self.bytes += len(data)
        self.lines += data.count(b"\n")
        if self.limits.max_input_bytes and self.bytes > self.limits.max_input_bytes:
            raise KindlingError(
                f"Reading {self.what} stopped at {path}: more than max_input_gb="
                f"{self.limits.max_input_bytes / GB:.3g} GB of input after decompression.", code="input_too_large",
                hint="Raise max_input_gb if the input really is that large; a small compressed file that expands "
                     "this much is a compression bomb.")
        now = time.monotonic()
        if now - self.last_report >= self.interval:
            self.last_report = now
            log.info("reading %s: %.1f MB, %d lines so far (%.1f MB/s; now %s)", self.what, self.bytes / 1e6,
                     self.lines, self.bytes / 1e6 / (now - self.started), path)


class _Metered(io.RawIOBase):
    def __init__(self, inner: IO[bytes], meter: InputMeter, path):
        self.inner, self.meter, self.path = inner, meter, path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.meter.add(self.path, data)
        return size

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


def open_metered(path: Path, meter: InputMeter | None) -> IO[bytes]:
    """open_binary(path), its decompressed bytes counted by meter (a buffered stream with peek and readline)."""
    if meter is None:
        return open_binary(path)
    return io.BufferedReader(_Metered(open_binary(path), meter, path), 1 << 20)


def max_line_param():
    """The `max_line_mb` hyperparameter, the same in every mode that reads text."""
    from container import hyperparameters as hp

    return hp.param(DEFAULT_MAX_LINE_MB, "the longest line (or RecordIO record) read, in MB; a longer one is an "
                    "error naming its file and line", minimum=0, exclusive_minimum=True, maximum=100000)


def max_input_param():
    """The `max_input_gb` hyperparameter: 0 reads everything."""
    from container import hyperparameters as hp

    return hp.param(0.0, "stop with an error after this many GB of input, counted after decompression "
                    "(0 = no cap)", minimum=0)


# fastText keeps `bucket` in an int32 (src/args.h) and allocates its input matrix as nwords + bucket rows of
# dim floats (src/fasttext.cc), nwords itself an int32 of at most 30,000,000 (MAX_VOCAB_SIZE in
# src/dictionary.h): past this the row count overflows. (buckets=3e9 failed inside fastText's binding and
# 2e9 asked for 800 GB; both ended as "kindling bug".)
MAX_BUCKETS = 2**31 - 1 - 30_000_000


def memory_bytes() -> int:
    """The memory this process may use: the container's cgroup limit (v2 or v1) or the machine's RAM."""
    found = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            found.append(int(text))
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return min(found) if found else 0


def check_input_matrix(buckets: int, vector_dim: int) -> None:
    """Refuse, before any data is read, hash buckets whose matrix alone (buckets x vector_dim float32) is
    larger than the memory the container has: fastText would be killed (or throw std::bad_alloc) later."""
    needed, available = buckets * vector_dim * 4, memory_bytes()
    if available and needed > available:
        raise KindlingError(
            f"buckets={buckets} x vector_dim={vector_dim} x 4 bytes is a {needed / 1e9:,.1f} GB n-gram matrix, "
            f"more than the {available / 1e9:,.1f} GB of memory this container has.", code="model_too_large",
            hint="Lower buckets (2000000 is the default; 100000 is plenty for a small data set) or vector_dim, "
                 "or use an instance with more memory.")
