"""The gunicorn worker: gthread, except that a request is read whole in the event loop first.

gunicorn's gthread worker gives a connection to a thread as soon as it has bytes, and the thread blocks
until the request is read: 8 slow clients (2 workers x 4 threads) stopped the server. Here every
connection is read without blocking in the worker's event loop (serve/request_reader.py): slow clients
cost a file descriptor and a buffer, not a thread, and are cut off by the header and body timeouts
(KINDLING_HEADER_TIMEOUT, KINDLING_BODY_TIMEOUT). Only whole requests reach the threads. One more thread
is held in reserve for quick requests (a GET such as /ping, or a body of at most 64 KiB) that arrive
while large requests take every request thread, so a health check or a small invocation never queues
behind large batches. Quick requests among themselves share the request threads as before: a fifth
thread taking turns for the GIL cost kindling about 8 % of its small-request throughput.

Refusals decided here (413, 400, 408, 431) are written from the loop as the app writes its errors
(`{"error": {"code", "message", "hint"}}`), logged on one line, and followed by a lingering close: the
rest of what the client sends is read and dropped for a few seconds, so the kernel does not reset the
connection and the client gets to read its answer.
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from gunicorn import http, util
from gunicorn.workers.gthread import TConn, ThreadWorker

from container.errors import KindlingError
from container.settings import ServeSettings
from serve.request_reader import ReadLimits, Request, RequestReader

RECEIVE_BYTES = 262144
LINGER_SECONDS = 5.0  # after a refusal: time for the client to finish sending and read it
GRACEFUL_CLOSE_SECONDS = 2.0  # after an answer with Connection: close, as gunicorn's close_graceful
REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large"}


def error_response(exc: KindlingError) -> bytes:
    body = json.dumps({"error": exc.to_dict()}).encode("utf-8")
    head = (f"HTTP/1.1 {exc.status} {REASONS.get(exc.status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + body


def timed_out(reading_body: bool, seconds: float) -> KindlingError:
    part, setting = ("body", "KINDLING_BODY_TIMEOUT") if reading_body else ("headers", "KINDLING_HEADER_TIMEOUT")
    return KindlingError(f"The request {part} did not arrive in time (no progress for {seconds:g} s).",
                         code="request_timeout", status=408,
                         hint=f"Send the whole request without pausing; the server's limit is {setting}.")


class HeadWithBody:
    """The socket as the request thread's response sees it: gunicorn sends the status line and headers in one
    `sendall` and the body in another, two system calls and two packets for every answer; on loopback the
    header write alone was 20 % of a worker's samples (py-spy, single-sentence classification). Here the
    first write is held and goes out with the next one; whatever is held when the thread is done goes out
    then (an answer without a body)."""

    __slots__ = ("sock", "held", "first")

    def __init__(self, sock: socket.socket):
        self.sock, self.held, self.first = sock, b"", True

    def sendall(self, data: bytes) -> None:
        if self.first:
            self.first, self.held = False, bytes(data)
            return
        if self.held:
            data, self.held = self.held + data, b""
        self.sock.sendall(data)

    def flush(self) -> None:
        if self.held:
            data, self.held = self.held, b""
            self.sock.sendall(data)

    def send(self, data: bytes) -> int:
        self.flush()
        return self.sock.send(data)

    def sendfile(self, *args, **kwargs):
        self.flush()
        return self.sock.sendfile(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.sock, name)


class Reading:
    """A connection in the event loop: its next request still arriving (or, lingering, its close under way),
    with the moment it will be given up."""

    __slots__ = ("conn", "reader", "deadline", "lingering", "fileno", "closed")

    def __init__(self, conn: TConn, reader: RequestReader, deadline: float):
        self.conn, self.reader, self.deadline, self.lingering = conn, reader, deadline, False
        self.fileno, self.closed = -1, False


class KindlingWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = ServeSettings.from_env()
        self.limits = ReadLimits(settings.max_payload_bytes)
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout
        self.reading: dict[int, Reading] = {}  # by file descriptor
        self.reserve_pool: ThreadPoolExecutor | None = None
        self.large = 0  # large requests queued or running in the request threads (counted in the loop thread)

    def init_process(self):
        self.reserve_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reserve")
        super().init_process()

    # --- reading requests in the event loop --------------------------------------------------------
    def accept(self, listener):
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        self._send_timeout(conn.sock)
        self._await_request(conn, b"", time.monotonic() + self.header_timeout)

    def _send_timeout(self, sock: socket.socket) -> None:
        """A client that stops reading its answer frees the thread after KINDLING_BODY_TIMEOUT (blocking sends
        in the threads would otherwise wait forever); Python's own timeouts are reset by gunicorn."""
        seconds = int(self.body_timeout)
        microseconds = int((self.body_timeout - seconds) * 1e6)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, microseconds))

    def _await_request(self, conn: TConn, data: bytes, deadline: float) -> None:
        state = Reading(conn, RequestReader(self.limits), deadline)
        self._watch(state)
        if data:
            self._take(state, data)

    def _watch(self, state: Reading) -> None:
        state.fileno = state.conn.sock.fileno()
        self.reading[state.fileno] = state
        self.poller.register(state.conn.sock, selectors.EVENT_READ, partial(self._on_readable, state))

    def _on_readable(self, state: Reading, _sock) -> None:
        try:
            data = state.conn.sock.recv(RECEIVE_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._forget(state)
            return
        if state.lingering:
            if not data:
                self._forget(state)
            return
        if not data:
            if state.reader.started:
                self._refuse(state, state.reader.incomplete())
            else:
                self._forget(state)
            return
        self._take(state, data)

    def _take(self, state: Reading, data: bytes) -> None:
        reader = state.reader
        first_bytes = not reader.started
        try:
            request = reader.feed(data)
        except KindlingError as exc:
            self._refuse(state, exc)
            return
        if request is not None:
            self._dispatch(state, request)
        elif reader.reading_body:
            state.deadline = time.monotonic() + self.body_timeout  # the body made progress
            if reader.continue_due:
                reader.continue_due = False
                self._write_quietly(state.conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        elif first_bytes:
            state.deadline = time.monotonic() + self.header_timeout  # the headers' time starts with their first byte

    def _dispatch(self, state: Reading, request: Request) -> None:
        conn = state.conn
        self.poller.unregister(conn.sock)
        del self.reading[conn.sock.fileno()]
        state.fileno = -1
        conn.parser = http.get_parser(self.cfg, [request.raw], conn.client)
        conn.initialized = True
        conn.leftover = request.leftover
        reserved = request.light and self.large >= self.cfg.threads
        self.large += not request.light
        future = (self.reserve_pool if reserved else self.tpool).submit(self.handle, conn)
        future.add_done_callback(lambda done: self.method_queue.defer(self.finish_request, conn, done,
                                                                      not request.light))

    def handle(self, conn):
        """In a request thread: gunicorn's handling, with the answer's head and body in one write."""
        sock = conn.sock
        conn.sock = HeadWithBody(sock)
        try:
            return super().handle(conn)
        finally:
            try:
                conn.sock.flush()
            except OSError:
                pass  # the client is gone; finish_request closes the connection
            conn.sock = sock

    def finish_request(self, conn, fs, large: bool = False):
        """Back in the loop after a response: wait for the next request (keep-alive) or close."""
        self.large -= large
        try:
            keep = fs.result() if not fs.cancelled() else False
        except Exception:
            keep = False
        try:
            conn.sock.setblocking(False)
        except OSError:
            keep = False
        if not keep:
            self._linger(Reading(conn, RequestReader(self.limits), 0.0), GRACEFUL_CLOSE_SECONDS)
            return
        idle = self.cfg.keepalive if self.alive else min(self.cfg.keepalive, 2.0)
        self._await_request(conn, getattr(conn, "leftover", b""), time.monotonic() + idle)

    # --- refusals and timeouts ---------------------------------------------------------------------
    def _refuse(self, state: Reading, exc: KindlingError) -> None:
        self.log.info("refused %s: %d %s: %s", _peer(state.conn), exc.status, exc.code, exc.message)
        self._write_quietly(state.conn.sock, error_response(exc))
        self._linger(state, LINGER_SECONDS)

    def _linger(self, state: Reading, seconds: float) -> None:
        """Close the way RFC 9112 9.6 asks, without blocking the loop: send FIN, then read and drop what the
        client still sends until it closes or `seconds` pass (gunicorn's close_graceful waits in the loop)."""
        sock = state.conn.sock
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._forget(state)
            return
        state.lingering = True
        state.deadline = time.monotonic() + seconds
        if state.fileno < 0:
            self._watch(state)

    @staticmethod
    def _write_quietly(sock: socket.socket, data: bytes) -> None:
        try:
            sock.send(data)
        except OSError:
            pass  # the client is gone; closing is all that is left

    def _forget(self, state: Reading) -> None:
        """Close the connection, once: also one whose socket a request thread already closed (gunicorn does
        after an error in the middle of an answer), which must still leave the connection count."""
        if state.closed:
            return
        state.closed = True
        if state.fileno >= 0 and self.reading.get(state.fileno) is state:
            del self.reading[state.fileno]
            try:
                self.poller.unregister(state.conn.sock)
            except (KeyError, ValueError, OSError):
                pass
        self.nr_conns -= 1
        util.close(state.conn.sock)

    def murder_pending(self):
        """Called by gthread's loop about once a second: give up on requests that stopped arriving, and on
        idle connections when the worker stops (a request already arriving keeps its own deadline)."""
        super().murder_pending()
        now = time.monotonic()
        for state in list(self.reading.values()):
            expired = state.deadline <= now
            if state.lingering or not state.reader.started:
                if expired or not (self.alive or state.lingering):
                    self._forget(state)
            elif expired:
                seconds = self.body_timeout if state.reader.reading_body else self.header_timeout
                self._refuse(state, timed_out(state.reader.reading_body, seconds))

    def run(self):
        try:
            super().run()
        finally:
            for state in list(self.reading.values()):
                self._forget(state)
            if self.reserve_pool is not None:
                self.reserve_pool.shutdown(wait=False)


def _peer(conn: TConn) -> str:
    client = conn.client
    return f"{client[0]}:{client[1]}" if isinstance(client, tuple) and len(client) >= 2 else str(client)
