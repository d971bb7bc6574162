"""The model bundle: manifest.json plus the artifacts it names, the only contract between train and serve.

Writing is all-or-nothing: artifacts are built in a hidden staging directory inside the model
directory (same filesystem, so renames are atomic even when /opt/ml/model is its own mount), then
renamed into place with manifest.json last. A failed job removes its staging directory and leaves
whatever was in the model directory before untouched; a reader trusts only what a manifest names.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import shutil
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Mapping

from container.disk import is_write_error, write_error
from container.errors import KindlingError

MANIFEST = "manifest.json"
FORMAT = "kindling-bundle"
FORMAT_VERSION = 1
STAGING_PREFIX = ".staging-"

log = logging.getLogger(__name__)


def file_hexdigest(path: Path, digest) -> str:
    """A file's digest with the given hashlib object, read in 1 MB blocks."""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    return file_hexdigest(path, hashlib.sha256())


def safe_relative(name: str, where: str) -> str:
    """Reject names that would escape the bundle directory (absolute, '..', backslashes)."""
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise KindlingError(
            f"{where} names the file {name!r}, which is not a plain path inside the bundle.",
            code="bad_bundle", status=500, hint="Bundle files must be relative paths without '..'.",
        )
    return str(pure)


@contextlib.contextmanager
def staged_bundle(model_dir: Path) -> Iterator[Path]:
    """Yield an empty staging directory; on normal exit its contents replace the bundle atomically.

    The body writes artifacts and finally `manifest.json` into the staging directory. Any exception
    removes the staging directory and propagates, so the model directory stays as it was.
    """
    model_dir = Path(model_dir)
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        for stale in model_dir.glob(STAGING_PREFIX + "*"):  # left by a run that was killed (SIGKILL, OOM)
            log.info("removing %s, left behind by an earlier run that did not finish", stale)
            shutil.rmtree(stale, ignore_errors=True)
        stage = model_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        stage.mkdir()
    except OSError as exc:
        raise KindlingError(
            f"Cannot write to the model directory {model_dir}: {exc.strerror}.", code="model_dir_not_writable",
            status=500, hint="Mount /opt/ml/model writable for the container's user (or run with --user root).",
        ) from exc
    try:
        yield stage
        if not (stage / MANIFEST).is_file():
            raise KindlingError("Training finished without writing a bundle manifest.", code="internal", status=500)
        _commit(stage, model_dir)
    except OSError as exc:
        if is_write_error(exc):  # a full /opt/ml/model: say where, and how much space is left there
            raise write_error(model_dir, exc) from exc
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, model_dir: Path) -> None:
    names = sorted(p.name for p in stage.iterdir() if p.name != MANIFEST)
    for name in names:
        target = model_dir / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(stage / name, target)
    os.replace(stage / MANIFEST, model_dir / MANIFEST)


def digest_in_background(path: Path) -> Future:
    """The sha256 of a finished artifact, computed on a thread while the job does other work (hashlib
    releases the GIL): hashing an 800 MB model takes most of a second."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    try:
        return executor.submit(sha256_of, path)
    finally:
        executor.shutdown(wait=False)


def describe_files(stage: Path, names: list[str], digests: Mapping[str, Future] | None = None) -> dict:
    """Size and checksum of each artifact, recorded in the manifest so a reader can verify it;
    `digests` holds checksums already being computed (see digest_in_background)."""
    digests = digests or {}
    return {name: {"bytes": (stage / name).stat().st_size,
                   "sha256": digests[name].result() if name in digests else sha256_of(stage / name)}
            for name in names}


def versions() -> dict:
    """Versions of what produced the bundle, so a reader can tell why two bundles differ."""
    import platform
    from importlib import metadata

    from container import __version__

    found = {"kindling": __version__, "python": platform.python_version()}
    for package in ("fasttext-numpy2", "numpy", "sagemaker-training"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def write_manifest(stage: Path, manifest: dict) -> None:
    """Write manifest.json last into the staging directory, stamped with format, time and versions."""
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_at": created, "versions": versions(),
            **manifest}
    (stage / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Bundle:
    """A bundle read from disk: its directory and manifest, with every named file checked to exist."""

    directory: Path
    manifest: dict

    @property
    def tasks(self) -> dict:
        return self.manifest["tasks"]

    def path(self, name: str) -> Path:
        return self.directory / safe_relative(name, "The manifest")


def read_bundle(model_dir: Path, verify: bool = True) -> Bundle:
    model_dir = Path(model_dir)
    manifest_path = model_dir / MANIFEST
    if not manifest_path.is_file():
        raise KindlingError(
            f"No bundle in {model_dir}: {MANIFEST} is missing.", code="no_bundle", status=503,
            hint="Train first (python -m container train) or mount a directory that holds a kindling bundle.",
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KindlingError(f"{manifest_path} is not valid JSON ({exc}).", code="bad_bundle", status=503,
                            hint="The bundle is damaged; train again.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise KindlingError(f"{manifest_path} is not a kindling bundle manifest.", code="bad_bundle", status=503)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise KindlingError(
            f"{manifest_path} has format_version {manifest.get('format_version')!r}; this image reads {FORMAT_VERSION}.",
            code="bad_bundle", status=503, hint="Serve the bundle with the kindling version that trained it.",
        )
    if not isinstance(manifest.get("tasks"), dict) or not manifest["tasks"]:
        raise KindlingError(f"{manifest_path} lists no tasks.", code="bad_bundle", status=503)
    bundle = Bundle(directory=model_dir, manifest=manifest)
    verified: set[tuple[int, int]] = set()  # hard links (vectors.bin = model.bin) are checked once
    for name, info in (manifest.get("files") or {}).items():
        path = bundle.path(name)
        if not path.is_file():
            raise KindlingError(f"The bundle in {model_dir} names {name}, which is missing.", code="bad_bundle",
                                status=503, hint="Copy the whole model directory (model.tar.gz), not single files.")
        stat = path.stat()
        if stat.st_size != info.get("bytes"):
            raise KindlingError(f"{path} has {stat.st_size} bytes; the manifest says {info.get('bytes')}.",
                                code="bad_bundle", status=503, hint="The file was truncated or replaced; train again.")
        # A damaged model file can crash a native loader outright; a checksum (about 2 GB/s) costs
        # far less than a crash-looping endpoint.
        identity = (stat.st_dev, stat.st_ino)
        if verify and info.get("sha256") and identity not in verified and sha256_of(path) != info["sha256"]:
            raise KindlingError(f"{path} does not match the checksum in the manifest.", code="bad_bundle",
                                status=503, hint="The file was corrupted or replaced; train again.")
        verified.add(identity)
    return bundle
