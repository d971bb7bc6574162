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
        self.flusher_pid = None  # a thread does not survive fork: start one per worker process

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record) + "\n"
        self.lines.append(line)
        self.size += len(line)
        if self.size >= self.limit:
            self.flush()
        if self.flusher_pid != os.getpid():
            self.flusher_pid = os.getpid()
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


class AccessLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        if cfg.accesslog == "-":
            for handler in list(self.access_log.handlers):
                self.access_log.removeHandler(handler)
            handler = BufferedLineHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self.access_log.addHandler(handler)

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        instances = "-"
        for name, value in resp.headers:
            if name.lower() == INSTANCE_HEADER:
                instances = value
                break
        milliseconds = request_time.seconds * 1000 + request_time.microseconds / 1000
        self.access_log.info("access %s %s %s %dB %.1fms instances=%s", req.method, req.path, resp.status_code,
                             resp.sent, milliseconds, instances)
