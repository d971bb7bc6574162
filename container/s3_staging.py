"""S3 staging for ECS and plain Docker, where nothing mounts /opt/ml: the container fetches and stores itself.

Environment (all optional; SageMaker never sets them, so under SageMaker nothing changes):
- KINDLING_CHANNEL_<NAME>=s3://bucket/prefix   every object under the prefix is downloaded into
  /opt/ml/input/data/<name>/ (relative paths kept) before training;
- KINDLING_HYPERPARAMETERS='{"mode": "skipgram"}'   written as input/config/hyperparameters.json when
  the tree has none;
- KINDLING_OUTPUT_S3=s3://bucket/prefix   after a successful job, <prefix>/model.tar.gz (the model
  directory, files at the archive root, as SageMaker packs it) and <prefix>/output.tar.gz
  (/opt/ml/output/data) are uploaded; a failed job uploads nothing;
- KINDLING_MODEL_S3=s3://bucket/key/model.tar.gz   `serve` downloads and unpacks it before loading.
Credentials and region come from boto3's standard chain (an ECS task role needs no setting);
AWS_ENDPOINT_URL points at another S3 (tests use a moto server on 127.0.0.1). Transfers use boto3's
transfer manager (multipart, retries); sizes are checked after every download, and single-part
objects' MD5 against their ETag.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from container.bundle import file_hexdigest, safe_relative
from container.errors import KindlingError

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "KINDLING_CHANNEL_"


def parse_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise KindlingError(f"{uri!r} is not an S3 URI.", code="bad_s3_uri", hint="Write it as s3://bucket/prefix.")
    return parsed.netloc, parsed.path.lstrip("/")


def _client():
    import boto3
    from botocore.config import Config

    # a session of its own: the environment (credentials, region, endpoint) is read now, not cached
    return boto3.session.Session().client("s3", config=Config(retries={"max_attempts": 10, "mode": "standard"}))


def _explain(exc: Exception, uri: str, action: str) -> KindlingError:
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return KindlingError(f"No AWS credentials to {action} {uri}.", code="no_credentials",
                             hint="Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or give the ECS task a "
                                  "task role.")
    if isinstance(exc, NoRegionError):
        return KindlingError(f"No AWS region to {action} {uri}.", code="no_region", hint="Set AWS_REGION.")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return KindlingError(f"S3 refused to {action} {uri}: {code} ({exc.response.get('Error', {}).get('Message', '')}).",
                             code="s3_error", hint="Check that the bucket and prefix exist and that the credentials "
                                                   "(task role) may read and write them.")
    return KindlingError(f"Could not {action} {uri}: {exc}.", code="s3_error", hint="Check the network and the URI.")


def _verify(path: Path, size: int, etag: str, uri: str) -> None:
    if path.stat().st_size != size:
        raise KindlingError(f"{uri} arrived with {path.stat().st_size} bytes instead of {size}.", code="s3_error",
                            hint="Run the job again; the transfer was cut.")
    etag = etag.strip('"')
    # a single-part object's ETag is its MD5
    if etag and "-" not in etag and file_hexdigest(path, hashlib.md5(usedforsecurity=False)) != etag:
        raise KindlingError(f"{uri} does not match its checksum after download.", code="s3_error",
                            hint="Run the job again; the object or the transfer is damaged.")


def download_prefix(uri: str, target: Path) -> int:
    """Every object under an S3 prefix into target/ (relative paths kept); returns the object count."""
    bucket, prefix = parse_uri(uri)
    client = _client()
    found = 0
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue  # a "folder" marker
                rest = key[len(prefix):]
                relative = rest.lstrip("/") if prefix.endswith("/") or rest.startswith("/") else PurePosixPath(key).name
                relative = safe_relative(relative, f"The S3 object s3://{bucket}/{key}")
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, key, str(destination))
                _verify(destination, item["Size"], item.get("ETag", ""), f"s3://{bucket}/{key}")
                found += 1
    except KindlingError:
        raise
    except Exception as exc:  # botocore's errors, named for people
        raise _explain(exc, uri, "read") from exc
    if not found:
        raise KindlingError(f"Nothing under {uri}.", code="empty_s3_prefix",
                            hint="Check the prefix (it is case-sensitive) and that the upload finished.")
    return found


def stage_inputs(paths, environ=None) -> list[str]:
    """Download the channels named in KINDLING_CHANNEL_* and write KINDLING_HYPERPARAMETERS; returns the
    channels staged."""
    environ = os.environ if environ is None else environ
    staged = []
    for name, uri in sorted(environ.items()):
        if not name.startswith(CHANNEL_PREFIX) or not uri:
            continue
        channel = name[len(CHANNEL_PREFIX):].lower()
        count = download_prefix(uri, paths.channel(channel))
        log.info("staged channel %r: %d object(s) from %s", channel, count, uri)
        staged.append(channel)
    raw = environ.get("KINDLING_HYPERPARAMETERS")
    if raw and not paths.hyperparameters.is_file():
        try:
            values = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise KindlingError(f"KINDLING_HYPERPARAMETERS is not JSON ({exc}).", code="bad_hyperparameters",
                                hint='Set it to a JSON object, e.g. {"mode": "skipgram"}.') from None
        paths.hyperparameters.parent.mkdir(parents=True, exist_ok=True)
        paths.hyperparameters.write_text(json.dumps({k: str(v) for k, v in values.items()}), encoding="utf-8")
    if staged:
        config = paths.input / "config" / "inputdataconfig.json"
        if not config.is_file():
            config.write_text(json.dumps({c: {"TrainingInputMode": "File"} for c in staged}), encoding="utf-8")
    return staged


def _tar(directory: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.iterdir()):
            if not path.name.startswith("."):
                tar.add(path, arcname=path.name)


def upload_outputs(paths, environ=None) -> list[str]:
    """After a successful job: model.tar.gz (and output.tar.gz when there is output data) to KINDLING_OUTPUT_S3."""
    environ = os.environ if environ is None else environ
    uri = environ.get("KINDLING_OUTPUT_S3")
    if not uri:
        return []
    bucket, prefix = parse_uri(uri)
    client, uploaded = _client(), []
    with tempfile.TemporaryDirectory(prefix="kindling-upload-") as scratch:
        archives = [("model.tar.gz", paths.model)]
        if paths.output_data.is_dir() and any(paths.output_data.iterdir()):
            archives.append(("output.tar.gz", paths.output_data))
        for name, directory in archives:
            archive = Path(scratch) / name
            _tar(directory, archive)
            key = f"{prefix.rstrip('/')}/{name}" if prefix else name
            try:  # an object appears in S3 only once its upload completed: never a partial model
                client.upload_file(str(archive), bucket, key)
            except Exception as exc:
                raise _explain(exc, f"s3://{bucket}/{key}", "write") from exc
            uploaded.append(f"s3://{bucket}/{key}")
            log.info("uploaded %s (%.1f MB)", uploaded[-1], archive.stat().st_size / 1e6)
    return uploaded


def fetch_model(model_dir: Path, environ=None) -> Path:
    """KINDLING_MODEL_S3: download model.tar.gz and unpack it (into model_dir, or /tmp/model when the
    model directory is read-only); returns the directory to serve."""
    environ = os.environ if environ is None else environ
    uri = environ.get("KINDLING_MODEL_S3")
    if not uri:
        return model_dir
    bucket, key = parse_uri(uri)
    target = model_dir if os.access(model_dir, os.W_OK) else Path(tempfile.gettempdir()) / "model"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kindling-model-") as scratch:
        archive = Path(scratch) / "model.tar.gz"
        client = _client()
        try:
            head = client.head_object(Bucket=bucket, Key=key)
            client.download_file(bucket, key, str(archive))
        except Exception as exc:
            raise _explain(exc, uri, "read") from exc
        _verify(archive, head["ContentLength"], head.get("ETag", ""), uri)
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:  # checked here: Debian 12's Python 3.11.2 predates tarfile's filters
                safe_relative(member.name, f"{uri} (member {member.name!r})")
                if member.islnk():
                    safe_relative(member.linkname, f"{uri} (link {member.name!r})")
                if not (member.isfile() or member.isdir() or member.islnk()):
                    raise KindlingError(f"{uri} holds {member.name!r}, which is not a file or folder; refusing to "
                                        "unpack it.", code="bad_bundle", status=503,
                                        hint="Upload the model.tar.gz kindling wrote.")
            tar.extractall(target, members=members)  # noqa: S202 - every member checked above
    log.info("unpacked %s into %s", uri, target)
    return target
