"""Small helpers to drive the built image through the Docker CLI, on the host network, loopback only."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import requests

IMAGE = os.environ.get("KINDLING_IMAGE", "kindling:latest")
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else (shutil.which("docker") or "docker")


def docker(*args: str, timeout: float = 300, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=check)


def engine_problem() -> str | None:
    """None when the engine answers and the image exists, else why not."""
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker CLI unusable: {exc}"
    if info.returncode != 0:
        return f"no Docker engine answers: {info.stderr.strip()[:200]}"
    if docker("image", "inspect", IMAGE, timeout=20).returncode != 0:
        return f"image {IMAGE} is not built (run `make build`)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def writable(path: Path) -> Path:
    """A folder any container user may write (the image runs as root, `kindling` or any --user)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


def run_image(*args: str, volumes: dict[Path, str] | None = None, env: dict | None = None,
              user: str | None = None, extra: list[str] | None = None, timeout: float = 300
              ) -> subprocess.CompletedProcess:
    """`docker run --rm --network host` the image with args; waits for it to exit. On a timeout the
    container is killed too (killing the CLI alone would leave it running for the rest of the session)."""
    name = f"kindling-test-{uuid.uuid4().hex[:8]}"
    command = ["run", "--rm", "--network", "host", "--name", name, *(extra or [])]
    for host, target in (volumes or {}).items():
        command += ["-v", f"{host}:{target}"]
    for key, value in (env or {}).items():
        command += ["-e", f"{key}={value}"]
    if user:
        command += ["--user", user]
    try:
        return docker(*command, IMAGE, *args, timeout=timeout)
    except subprocess.TimeoutExpired:
        docker("kill", name, timeout=60)
        raise


def wait_for_ping(url: str, seconds: float, container: str | None = None) -> float:
    """Poll GET url/ping (bounded by time); return seconds until 200, or raise with the container log."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                return time.monotonic() - started
        if container and docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip() == "false":
            break
        time.sleep(0.1)
    logs = docker("logs", container).stdout + docker("logs", container).stderr if container else ""
    raise AssertionError(f"{url}/ping did not answer 200 within {seconds} s\n{logs[-3000:]}")


@contextlib.contextmanager
def serving(model_dir: Path | None = None, command: tuple[str, ...] = ("serve",), env: dict | None = None,
            user: str | None = None, extra: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """Start `IMAGE command` detached on a free loopback port; yield (base_url, container id)."""
    port = free_port()
    options = ["run", "-d", "--network", "host", "-e", f"SAGEMAKER_BIND_TO_PORT={port}", *(extra or [])]
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", **(env or {})}
    if model_dir is not None:
        options += ["-v", f"{model_dir}:/opt/ml/model:ro"]
    for key, value in env.items():
        options += ["-e", f"{key}={value}"]
    if user:
        options += ["--user", user]
    started = docker(*options, IMAGE, *command, timeout=60)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        yield f"http://127.0.0.1:{port}", container
    finally:
        docker("rm", "-f", container, timeout=60)
