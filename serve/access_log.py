"""A lean, buffered gunicorn access log: one fixed line per request.

Measured with wrk at concurrency 16 on two cores, gunicorn's own access log cost kindling 40 % of
its throughput (7,460 req/s without it, 4,540 with it): it builds a dictionary of every header for
each line and writes and flushes each line separately. This logger formats a fixed line and hands
lines to stdout in batches, at least once a second (and when 64 KiB collect, and at exit), the way
nginx's `access_log ... buffer=` does. Lines stay whole and one per request; they reach the log at
most a second late, and a worker killed with SIGKILL can lose its last second of access lines.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from gunicorn.glogging import Logger

INSTANCE_HEADER = "x-instance-count"


class BufferedLineHandler(logging.Handler):
    def __init__(self, stream, interval: float = 1.0, limit: int = 65536):
        super().__init__()
        self.stream = stream
        self.interval = interval
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.flushing = False  # a thread does not survive fork: each worker process starts its own
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.flushing = False
        self.lines, self.size = [], 0

    def emit(self, record: logging.LogRecord) -> None:
        self.add(self.format(record) + "\n")

    def add(self, line: str) -> None:
        """Queue one finished line (the access logger's fast path skips LogRecord and formatting)."""
        self.lines.append(line)
        self.size += len(line)
        if self.size >= self.limit:
            self.flush()
        if not self.flushing:
            self.flushing = True
            threading.Thread(target=self._flush_periodically, name="access-log", daemon=True).start()

    def _flush_periodically(self) -> None:
        event = threading.Event()
        while not event.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self.lock:
            if not self.lines:
                return
            text, self.lines, self.size = "".join(self.lines), [], 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stdout gone (shutdown): nothing left to tell


class _Clock:
    """'2026-11-26 07:06:35,652' like logging's asctime, with the date part formatted once a second."""

    def __init__(self):
        self.second = -1
        self.prefix = ""

    def now(self) -> str:
        moment = time.time()
        second = int(moment)
        if second != self.second:
            self.second, self.prefix = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self.prefix},{int((moment - second) * 1000):03d}"


class AccessLogger(Logger):
    buffered: BufferedLineHandler | None = None

    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.buffered = None
        if cfg.accesslog == "-":
            for handler in list(self.access_log.handlers):
                self.access_log.removeHandler(handler)
            self.buffered = BufferedLineHandler(sys.stdout)
            self.buffered.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self.access_log.addHandler(self.buffered)
            self.clock = _Clock()

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        instances = "-"
        for name, value in resp.headers:
            if name.lower() == INSTANCE_HEADER:
                instances = value
                break
        milliseconds = request_time.seconds * 1000 + request_time.microseconds / 1000
        if self.buffered is None:
            self.access_log.info("access %s %s %s %dB %.1fms instances=%s", req.method, req.path, resp.status_code,
                                 resp.sent, milliseconds, instances)
            return
        line = (f"{self.clock.now()} access {req.method} {req.path} {resp.status_code} {resp.sent}B "
                f"{milliseconds:.1f}ms instances={instances}\n")
        with self.buffered.lock:
            self.buffered.add(line)
