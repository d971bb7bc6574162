"""Line-oriented logging for CloudWatch / awslogs / docker logs: one event per line, on stdout."""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(level: str | None = None) -> None:
    level = (level or os.environ.get("KINDLING_LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level if level in {"DEBUG", "INFO", "WARNING", "ERROR"} else "INFO")


def metric(name: str, value: float) -> None:
    """Print a metric line that SageMaker MetricDefinitions and HPO regexes read: `#name: value`
    (and log it to MLflow when tracking is on)."""
    from container import tracking

    print(f"#{name}: {value:.6g}", flush=True)
    tracking.record(name, value)
