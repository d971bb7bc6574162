"""Experiment tracking with MLflow, only when MLFLOW_TRACKING_URI is set (nothing changes otherwise).

A training job opens one run (experiment MLFLOW_EXPERIMENT_NAME, default "kindling"; run name = the
SageMaker job name when there is one) with the hyperparameters as parameters; every metric line the job
prints (container/logs.metric) and every per-epoch value it records (early stopping's candidates) is
logged as a metric; at the end eval.json and manifest.json go up as artifacts and the run is marked
FINISHED, or FAILED with the reason. mlflow is imported only when tracking is on.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)
_active = None  # the mlflow module while a run is open


def enabled() -> bool:
    return bool(os.environ.get("MLFLOW_TRACKING_URI"))


def record(name: str, value: float, step: int | None = None) -> None:
    """Log a metric to the open run, if any; tracking trouble never fails the job."""
    if _active is None:
        return
    try:
        _active.log_metric(name, float(value), step=step)
    except Exception as exc:  # noqa: BLE001 - a tracking server hiccup must not cost the model
        log.warning("MLflow: could not log %s (%s)", name, exc)


@contextlib.contextmanager
def run(mode: str, hyperparameters: dict, job_name: str | None) -> Iterator[None]:
    global _active
    if not enabled():
        yield
        return
    import mlflow

    try:
        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "kindling"))
        started = mlflow.start_run(run_name=job_name or f"kindling-{mode}")
    except Exception as exc:  # noqa: BLE001 - an unreachable tracking store must not cost the model
        log.warning("MLflow: tracking is off for this job: %s", str(exc).splitlines()[0][:300])
        yield
        return
    with started as active:
        log.info("MLflow: tracking this job as run %s at %s", active.info.run_id, os.environ["MLFLOW_TRACKING_URI"])
        mlflow.log_params({key: str(value)[:500] for key, value in hyperparameters.items()})
        mlflow.set_tag("kindling.mode", mode)
        _active = mlflow
        try:
            yield
        except BaseException:
            mlflow.set_tag("kindling.outcome", "failed")
            mlflow.end_run(status="FAILED")
            raise
        finally:
            _active = None


def log_bundle(model_dir: Path) -> None:
    if not enabled():
        return
    import mlflow

    if mlflow.active_run() is None:
        return
    for name in ("eval.json", "manifest.json"):
        if (model_dir / name).is_file():
            mlflow.log_artifact(str(model_dir / name))
