"""serve/worker.py's connection bookkeeping, without a running server: every connection leaves the count
exactly once, whoever closed its socket (a count that only grows stops a worker accepting for good)."""

from __future__ import annotations

import selectors
import socket
from concurrent.futures import Future
from unittest import mock

import pytest
from gunicorn.config import Config
from gunicorn.workers.gthread import TConn

from serve.worker import KindlingWorker


@pytest.fixture
def worker():
    cfg = Config()
    cfg.set("threads", 2)
    w = KindlingWorker(0, 0, [], mock.Mock(), 30, cfg, mock.Mock())
    w.poller = selectors.DefaultSelector()
    yield w
    w.poller.close()


def _connection(worker) -> tuple[TConn, socket.socket]:
    ours, theirs = socket.socketpair()
    worker.nr_conns += 1
    return TConn(worker.cfg, ours, ("127.0.0.1", 1), ("127.0.0.1", 2)), theirs


def _finished(keep: bool) -> Future:
    future = Future()
    future.set_result(keep)
    return future


def test_a_socket_closed_by_the_request_thread_still_leaves_the_count(worker):
    conn, peer = _connection(worker)
    conn.sock.close()  # as gunicorn's handle_request does after an error in the middle of an answer
    worker.finish_request(conn, _finished(False))
    assert worker.nr_conns == 0 and worker.reading == {}
    peer.close()


def test_a_closed_connection_lingers_then_leaves_the_count_once(worker):
    conn, peer = _connection(worker)
    worker.finish_request(conn, _finished(False))
    assert worker.nr_conns == 1 and len(worker.reading) == 1  # lingering: FIN sent, reading what is left
    peer.close()
    state = next(iter(worker.reading.values()))
    worker._on_readable(state, None)  # the peer's FIN
    worker._on_readable(state, None)
    worker.murder_pending()
    assert worker.nr_conns == 0 and worker.reading == {}


def test_a_kept_alive_connection_waits_in_the_loop_and_a_refusal_closes_it(worker):
    conn, peer = _connection(worker)
    worker.finish_request(conn, _finished(True))
    state = next(iter(worker.reading.values()))
    assert not state.lingering and worker.nr_conns == 1
    peer.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
    worker._on_readable(state, None)
    assert state.lingering and peer.recv(4096).startswith(b"HTTP/1.1 413")
    peer.close()
    worker._on_readable(state, None)
    assert worker.nr_conns == 0 and worker.reading == {}
