"""The image recipe: lint-clean, exec-form entry point, no secrets baked in."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "docker" / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_entrypoint_is_exec_form_without_a_shell_or_tini():
    assert 'ENTRYPOINT ["python", "-m", "container"]' in DOCKERFILE
    assert "tini" not in DOCKERFILE


def test_the_ca_bundle_only_ever_arrives_as_a_build_secret():
    assert "--mount=type=secret,id=pip_cert" in DOCKERFILE
    for line in DOCKERFILE.splitlines():
        if line.startswith(("ENV", "ARG", "COPY", "ADD")):
            assert "cert" not in line.lower(), line


def test_dependencies_install_only_from_the_hash_locked_file():
    assert "--require-hashes" in DOCKERFILE
    lock = (ROOT / "docker" / "requirements.lock").read_text()
    blocks, current = [], None
    for line in lock.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = [line]
            blocks.append(current)
        elif current is not None and line.strip().startswith("--hash"):
            current.append(line)
    assert len(blocks) > 10
    for block in blocks:
        assert "==" in block[0] and len(block) > 1, f"{block[0]} is not pinned with a hash"
