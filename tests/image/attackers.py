"""Hostile and careless clients for the image tier and `make bench`: every one bounded in count and time,
and every one talks only to 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import requests


def address(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    assert parsed.hostname in ("127.0.0.1", "localhost"), "tests talk to loopback only"
    return "127.0.0.1", parsed.port


SLOW_HEADER_START = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
SLOW_BODY_START = SLOW_HEADER_START + b"Content-Length: 100000\r\n\r\n{\"instances\": [\""


@dataclass
class SlowClients:
    """`headers` connections that send their headers a byte at a time and `bodies` that send a declared body a
    byte at a time, one byte per connection every `interval` seconds; a connection the server closes is
    opened again, so the attack holds its count for as long as it runs."""
    url: str
    headers: int
    bodies: int
    interval: float = 1.0
    opened: int = 0
    cut_off: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _open(self, start: bytes) -> socket.socket:
        sock = socket.create_connection(address(self.url), timeout=5)
        sock.sendall(start)
        sock.setblocking(False)
        self.opened += 1
        return sock

    def run(self, seconds: float) -> None:
        kinds = [SLOW_HEADER_START] * self.headers + [SLOW_BODY_START] * self.bodies
        sockets = [self._open(start) for start in kinds]
        deadline = time.monotonic() + seconds
        try:
            while not self._stop.wait(self.interval) and time.monotonic() < deadline:
                for index, sock in enumerate(sockets):
                    try:
                        answered = sock.recv(65536)
                    except BlockingIOError:
                        answered = None
                    except OSError:
                        answered = b""
                    if answered is not None:  # the server answered (408) or closed: come back
                        self.cut_off += 1
                        sock.close()
                        sockets[index] = sock = self._open(kinds[index])
                    try:
                        sock.send(b"x" if kinds[index] is SLOW_HEADER_START else b"a")  # a header name / body that never end
                    except OSError:
                        pass
        finally:
            for sock in sockets:
                sock.close()

    @contextmanager
    def running(self, seconds: float):
        thread = threading.Thread(target=self.run, args=(seconds,), daemon=True)
        thread.start()
        time.sleep(min(2.0, seconds))  # every connection is open before the caller measures
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(30)


@contextmanager
def looping_senders(url: str, clients: int, body: bytes, content_type: str, seconds: float):
    """`clients` threads that post `body` back to back until the block ends (at most `seconds`)."""
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    counts = {"sent": 0, "errors": 0}

    def send() -> None:
        with requests.Session() as session:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    status = session.post(f"{url}/invocations", data=body, timeout=60,
                                          headers={"Content-Type": content_type}).status_code
                    counts["sent"] += 1
                    counts["errors"] += status >= 500
                except requests.RequestException:
                    counts["errors"] += 1

    threads = [threading.Thread(target=send, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield counts
    finally:
        stop.set()
        for thread in threads:
            thread.join(90)


def probe(url: str, seconds: float, every: float, request) -> list[float | None]:
    """Call request() every `every` seconds for `seconds`; the latency of each success, None for a failure."""
    latencies: list[float | None] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            ok = request()
        except requests.RequestException:
            ok = False
        latencies.append(time.monotonic() - started if ok else None)
        time.sleep(max(0.0, every - (time.monotonic() - started)))
    return latencies


def raw_exchange(url: str, data: bytes, *, half_close: bool = False, timeout: float = 30) -> bytes:
    """Send bytes exactly as given (chunked or short bodies that HTTP libraries would not send) and read the
    whole answer until the server closes or `timeout` passes."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                part = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not part:
                break
            answer += part
            if b"\r\n\r\n" in answer and b"Connection: close" not in answer.split(b"\r\n\r\n")[0] \
                    and _complete(answer):
                break
        return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def chunked(body: bytes, size: int = 65536) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"
