"""Settings that come from the environment, declared once.

The same table validates the values, fills in defaults and prints `python -m container help`, so
the documentation cannot drift from what the code reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from container.errors import KindlingError

REALTIME_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time endpoints reject larger bodies


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SAGEMAKER_BASE_DIR", "/opt/ml", "root of the SageMaker tree (input/, model/, output/)"),
    Setting("SAGEMAKER_BIND_TO_PORT", "8080", "port `serve` listens on (all interfaces)"),
    Setting("SAGEMAKER_MODEL_SERVER_WORKERS", "number of CPUs", "gunicorn worker processes"),
    Setting("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60", "seconds a request may take before its worker is restarted"),
    Setting("SAGEMAKER_BATCH", "false", "true when running as a batch transform"),
    Setting("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6", "largest request body in MB (batch transform; at most 100)"),
    Setting("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "workers", "MaxConcurrentTransforms in /execution-parameters"),
    Setting("KINDLING_MAX_INSTANCES", "100000", "most instances (texts) one request may carry; more is a 413"),
    Setting("KINDLING_WORKER_CLASS", "gthread", "gunicorn worker class: gthread (threads per worker) or sync"),
    Setting("KINDLING_THREADS", "4", "threads per gthread worker"),
    Setting("KINDLING_MAX_RESPONSE_MB", "6 (100 in batch)", "largest answer in MB, estimated before computing; a request "
            "that would get more is a 413 (6 MB is SageMaker's real-time limit; raise it for asynchronous endpoints)"),
    Setting("KINDLING_HEADER_TIMEOUT", "10", "seconds a client may take to send a request's headers; then 408"),
    Setting("KINDLING_BODY_TIMEOUT", "10", "seconds a request body (or an answer the client reads) may make no "
            "progress; then 408 (or the connection is closed)"),
    Setting("KINDLING_ACCESS_LOG", "true", "one log line per request (false saves CPU under heavy load)"),
    Setting("KINDLING_SAMPLE_DIR", "/opt/kindling/sample", "sample data and config used by `train --sample`"),
    Setting("KINDLING_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
)


def _positive_int(name: str, raw: str, *, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1 or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum else ""
        raise KindlingError(
            f"Environment variable {name}={raw!r} is not a whole number of at least 1{upper}.",
            code="bad_setting", status=500, hint=f"Set {name} to a number such as 2, or unset it to use the default.",
        )
    return value


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def cpu_count() -> int:
    """CPUs this process may run on (honours cgroup CPU sets, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServeSettings:
    port: int
    workers: int
    timeout: int
    batch: bool
    max_payload_bytes: int
    max_concurrent_transforms: int
    log_level: str
    max_instances: int = 100000
    worker_class: str = "gthread"
    threads: int = 4
    access_log: bool = True
    header_timeout: float = 10.0
    max_response_bytes: int = 6 * 1024 * 1024
    body_timeout: float = 10.0

    @property
    def request_deadline(self) -> float:
        """Seconds a request may compute: below the server timeout, so a slow batch gets an error, not a kill."""
        return max(1.0, self.timeout * 0.9 - 1)

    @classmethod
    def from_env(cls, environ: dict | os._Environ | None = None) -> "ServeSettings":
        env = os.environ if environ is None else environ
        get: Callable[[str, str], str] = lambda k, d: (env.get(k) or d)  # noqa: E731
        workers = _positive_int("SAGEMAKER_MODEL_SERVER_WORKERS", get("SAGEMAKER_MODEL_SERVER_WORKERS", str(cpu_count())))
        batch = _flag(get("SAGEMAKER_BATCH", "false"))
        payload_mb = _positive_int("SAGEMAKER_MAX_PAYLOAD_IN_MB", get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6"), maximum=100)
        max_payload = payload_mb * 1024 * 1024 if batch else min(payload_mb * 1024 * 1024, REALTIME_MAX_PAYLOAD_BYTES)
        level = get("KINDLING_LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise KindlingError(f"KINDLING_LOG_LEVEL={level!r} is not a log level.", code="bad_setting", status=500,
                                hint="Use DEBUG, INFO, WARNING or ERROR.")
        worker_class = get("KINDLING_WORKER_CLASS", "gthread").strip().lower()
        if worker_class not in {"gthread", "sync"}:
            raise KindlingError(f"KINDLING_WORKER_CLASS={worker_class!r} is not a supported worker class.",
                                code="bad_setting", status=500, hint="Use gthread or sync.")
        return cls(
            port=_positive_int("SAGEMAKER_BIND_TO_PORT", get("SAGEMAKER_BIND_TO_PORT", "8080"), maximum=65535),
            workers=workers,
            timeout=_positive_int("SAGEMAKER_MODEL_SERVER_TIMEOUT", get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60")),
            batch=batch,
            max_payload_bytes=max_payload,
            max_concurrent_transforms=_positive_int(
                "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", get("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", str(workers))),
            log_level=level,
            max_instances=_positive_int("KINDLING_MAX_INSTANCES", get("KINDLING_MAX_INSTANCES", "100000")),
            worker_class=worker_class,
            threads=_positive_int("KINDLING_THREADS", get("KINDLING_THREADS", "4"), maximum=256),
            access_log=_flag(get("KINDLING_ACCESS_LOG", "true")),
            max_response_bytes=_positive_int("KINDLING_MAX_RESPONSE_MB", get("KINDLING_MAX_RESPONSE_MB",
                                                                             "100" if batch else "6"),
                                             maximum=100_000) * 1024 * 1024,
            header_timeout=_positive_int("KINDLING_HEADER_TIMEOUT", get("KINDLING_HEADER_TIMEOUT", "10"), maximum=3600),
            body_timeout=_positive_int("KINDLING_BODY_TIMEOUT", get("KINDLING_BODY_TIMEOUT", "10"), maximum=3600),
        )
