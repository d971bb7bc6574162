"""fastText's progress output, made CloudWatch-friendly.

fastText's C++ core writes its progress to file descriptor 2 with carriage returns, which logs
systems show as one endless line (or not at all until the end). While fastText trains, fd 2 is
pointed at a pipe; a thread splits what arrives on CR/LF and logs it as ordinary lines, at most one
progress line per `interval` seconds (plus the last one), and every other line (vocabulary counts,
warnings) as it comes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import sys
import threading
import time
from typing import Iterator

log = logging.getLogger("fasttext")
_PROGRESS = re.compile(r"^Progress:")
_SPACES = re.compile(r"\s+")


class _Forwarder(threading.Thread):
    def __init__(self, read_fd: int, interval: float, markers: tuple[str, ...] = ()):
        super().__init__(name="fasttext-progress", daemon=True)
        self.read_fd = read_fd
        self.interval = interval
        self.markers = markers
        self.seen: set[str] = set()  # the markers that some line contained
        self.last_progress = ""
        self.last_emit = float("-inf")  # the first progress line is shown at once
        self.stopping = threading.Event()

    def run(self) -> None:
        buffer = b""
        try:
            while True:
                ready, _, _ = select.select([self.read_fd], [], [], 0.1)
                if not ready:
                    if self.stopping.is_set():
                        break  # another process (e.g. multiprocessing's tracker) may hold the pipe open
                    continue
                chunk = os.read(self.read_fd, 65536)
                if not chunk:
                    break
                buffer += chunk
                *pieces, buffer = re.split(rb"[\r\n]", buffer)
                for piece in pieces:
                    self._line(piece.decode("utf-8", "replace"))
        finally:
            os.close(self.read_fd)
        self._line(buffer.decode("utf-8", "replace"))
        if self.last_progress:
            log.info("%s", self.last_progress)

    def _line(self, text: str) -> None:
        text = _SPACES.sub(" ", text).strip()
        if not text:
            return
        self.seen.update(marker for marker in self.markers if marker in text)
        if _PROGRESS.match(text):
            self.last_progress = text
            now = time.monotonic()
            if now - self.last_emit >= self.interval:
                self.last_emit = now
                log.info("%s", text)
                self.last_progress = ""
            return
        log.info("%s", text)


@contextlib.contextmanager
def line_progress(interval: float = 10.0, markers: tuple[str, ...] = ()) -> Iterator[_Forwarder]:
    """Route fd 2 through a line splitter for the duration of the block; yields the splitter, whose
    `seen` tells which of `markers` have appeared in a line so far."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    forwarder = _Forwarder(read_fd, interval, markers)
    forwarder.start()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield forwarder
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        forwarder.stopping.set()
        forwarder.join(timeout=10)
