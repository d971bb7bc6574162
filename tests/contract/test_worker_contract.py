"""serve/worker.py on the host: `python -m container serve` in a subprocess on 127.0.0.1, spoken to with
raw sockets, for what HTTP libraries hide (pipelining, Expect: 100-continue, chunking, stalls)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.image.attackers import chunked, raw_exchange
from tests.image.docker import free_port, wait_for_ping

pytestmark = pytest.mark.contract
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(trained_bundle, tmp_path_factory):
    base = tmp_path_factory.mktemp("serve")
    (base / "model").symlink_to(trained_bundle)
    port = free_port()
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SAGEMAKER_BIND_TO_PORT": str(port),
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "KINDLING_THREADS": "2", "KINDLING_HEADER_TIMEOUT": "2",
           "KINDLING_BODY_TIMEOUT": "2", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "container", "serve"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_ping(url, 30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _connect(url: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)


def _read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """Read `count` whole responses (each with a Content-Length) from a kept-alive connection."""
    data, answers = b"", []
    deadline = time.monotonic() + 10
    while len(answers) < count and time.monotonic() < deadline:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep and not head.startswith(b"HTTP/1.1 100"):
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            if len(rest) >= length:
                answers.append(head + sep + rest[:length])
                data = rest[length:]
                continue
        elif sep:  # an interim 100 Continue
            answers.append(head)
            data = rest
            continue
        data += sock.recv(65536)
    return answers


def post(text: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(text) + text)


def test_pipelined_requests_on_one_connection_are_all_answered_in_order(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" + post(b"rocket orbit planet\n") +
                     post(b"football goal\nbutter garlic\n"))
        answers = _read_responses(sock, 3)
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200"] * 3
    assert b"__label__space" in answers[1] and answers[2].count(b'"label"') == 2


def test_expect_100_continue_gets_its_interim_answer_then_the_prediction(server):
    with _connect(server) as sock:
        body = b"rocket orbit planet\n"
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert _read_responses(sock, 1)[0].startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        final = _read_responses(sock, 1)[0]
    assert final.startswith(b"HTTP/1.1 200") and b"__label__space" in final


def test_a_chunked_body_within_the_limit_is_predicted_whole(server):
    lines = b"rocket orbit planet\n" * 3000
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    with _connect(server) as sock:
        sock.sendall(head + chunked(lines, 1000))
        answer = _read_responses(sock, 1)[0]
    assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"__label__") == 3000


def test_headers_that_stop_arriving_get_a_408_after_the_header_timeout(server):
    started = time.monotonic()
    with _connect(server) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") and b'"request_timeout"' in answer
    assert 1.5 < time.monotonic() - started < 6


def test_a_body_that_stops_arriving_gets_a_408_and_is_never_predicted(server):
    with _connect(server) as sock:
        sock.sendall(post(b"rocket orbit planet\n" * 10)[:-50])
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") and b"KINDLING_BODY_TIMEOUT" in answer


def test_a_short_body_with_a_half_close_is_a_400(server):
    answer = raw_exchange(server, post(b"rocket orbit planet\n" * 10)[:-50], half_close=True, timeout=10)
    assert answer.startswith(b"HTTP/1.1 400") and b'"incomplete_body"' in answer


def test_the_server_still_answers_after_every_refusal(server):
    assert requests.get(f"{server}/ping", timeout=2).status_code == 200
    response = requests.post(f"{server}/invocations", data="rocket orbit planet", timeout=5,
                             headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
