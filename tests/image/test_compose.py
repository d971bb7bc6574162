"""The laptop demo: `docker compose up` trains on the baked-in sample, then serves it.

CI's engine has no bridge network, so the CI override puts both services on the host network and
serve on a free port; the compose file itself is the one laptops use.
"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from tests.image.docker import IMAGE, free_port, wait_for_ping

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker", "compose"]


def test_compose_demo_trains_then_serves():
    if not shutil.which("docker-compose") and subprocess.run([*compose_command(), "version"],
                                                             capture_output=True).returncode != 0:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail("REQUIRE_DOCKER=1 but neither docker-compose nor `docker compose` is installed")
        pytest.skip("no docker compose")
    port = free_port()
    project = f"kindling-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KINDLING_PORT": str(port), "KINDLING_IMAGE": IMAGE}
    compose = [*compose_command(), "-p", project, "-f", str(ROOT / "docker-compose.yml"),
               "-f", str(ROOT / "docker-compose.ci.yml")]
    try:
        up = subprocess.run([*compose, "up", "-d", "--no-build"], env=env, capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
        assert up.returncode == 0, up.stdout + up.stderr
        try:
            wait_for_ping(f"http://127.0.0.1:{port}", 120)
        except AssertionError:
            logs = subprocess.run([*compose, "logs", "--no-color"], env=env, capture_output=True, text=True,
                                  timeout=60, cwd=ROOT)
            raise AssertionError(logs.stdout[-4000:] + logs.stderr[-2000:]) from None
        response = requests.post(f"http://127.0.0.1:{port}/invocations", timeout=10,
                                 json={"instances": ["a gripping, beautifully acted film"], "configuration": {"k": 2}})
        assert response.status_code == 200
        record = response.json()[0]
        assert sorted(record["label"]) == ["__label__neg", "__label__pos"]
        train_log = subprocess.run([*compose, "logs", "--no-color", "train"], env=env, capture_output=True,
                                   text=True, timeout=60, cwd=ROOT).stdout
        assert "#validation_accuracy:" in train_log
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], env=env, capture_output=True, timeout=120,
                       cwd=ROOT)
