"""What the platform does to a running container: stop it, starve it, lock its filesystem."""

import json
import socket
import time

import requests

from tests.image.docker import IMAGE, docker, run_image, serving, wait_for_ping
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, make_tree, open_permissions

BODY = json.dumps({"instances": ["rocket orbit planet"], "configuration": {"k": 1}}).encode()


def partial_request(url: str, body: bytes, sent: int) -> socket.socket:
    """Open a connection and send the headers and the first `sent` bytes of the body only."""
    host, port = url.rsplit("/", 1)[-1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (f"POST /invocations HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    sock.sendall(head + body[:sent])
    return sock


def read_response(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def exited_within(container: str, seconds: float) -> float:
    started = time.monotonic()
    result = docker("wait", container, timeout=seconds + 5)
    assert result.returncode == 0, result.stderr
    return time.monotonic() - started


def test_sigterm_lets_the_in_flight_request_finish(image_bundle):
    paths, _ = image_bundle
    with serving(paths.model) as (url, container):
        wait_for_ping(url, 10, container)
        sock = partial_request(url, BODY, sent=10)
        time.sleep(0.5)  # the worker is now inside the request, waiting for the rest of the body
        assert docker("kill", "-s", "TERM", container).returncode == 0
        time.sleep(1)
        sock.sendall(BODY[10:])
        response = read_response(sock)
        sock.close()
        assert response.startswith(b"HTTP/1.1 200"), response[:300]
        assert b"__label__space" in response
        assert exited_within(container, 30) < 25


def test_a_slow_client_does_not_block_other_requests(image_bundle):
    paths, _ = image_bundle
    with serving(paths.model, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}) as (url, container):
        wait_for_ping(url, 10, container)
        slow = [partial_request(url, BODY, sent=5) for _ in range(2)]
        try:
            for _ in range(20):
                response = requests.post(f"{url}/invocations", data=BODY, timeout=3,
                                         headers={"Content-Type": "application/json"})
                assert response.status_code == 200
        finally:
            for sock in slow:
                sock.close()


def test_read_only_root_filesystem_as_non_root(tmp_path):
    root = make_tree(tmp_path / "ml", hyperparameters=dict(FAST_HYPERPARAMETERS))
    open_permissions(root)
    trained = run_image("train", volumes={root: "/opt/ml"}, user="1000:1000",
                        extra=["--read-only", "--tmpfs", "/tmp"])
    assert trained.returncode == 0, trained.stdout + trained.stderr
    with serving(root / "model", user="1000:1000", extra=["--read-only", "--tmpfs", "/tmp"]) as (url, container):
        wait_for_ping(url, 10, container)
        response = requests.post(f"{url}/invocations", data=BODY, timeout=5, headers={"Content-Type": "application/json"})
        assert response.status_code == 200 and response.json()[0]["label"] == ["__label__space"]


def test_sigterm_during_training_stops_within_25_seconds(tmp_path):
    root = make_tree(tmp_path / "ml", hyperparameters={**FAST_HYPERPARAMETERS, "epochs": "100000",
                                                       "learning_rate": "0.01"})
    open_permissions(root)
    started = docker("run", "-d", "--network", "host", "-v", f"{root}:/opt/ml", IMAGE, "train")
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        deadline = time.monotonic() + 60
        while "Number of labels" not in docker("logs", container).stdout and time.monotonic() < deadline:
            time.sleep(0.2)
        assert docker("kill", "-s", "TERM", container).returncode == 0
        assert exited_within(container, 30) < 25
        assert docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip() == "143"
        assert "stopped by SIGTERM" in (root / "output" / "failure").read_text()
        assert list((root / "model").iterdir()) == []
    finally:
        docker("rm", "-f", container)
