"""A training job from start to exit code: environment -> task -> bundle, or a failure file.

SageMaker marks the job Failed on a non-zero exit and shows the first 1024 characters of
/opt/ml/output/failure as FailureReason, so that file starts with the human sentence; the traceback
(for unexpected errors only) goes to the log, never to the user-facing reason.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from typing import Callable

from container import logs, tracking
from container.bundle import staged_bundle
from container.errors import KindlingError
from container.paths import Paths, sample_input_dir
from train import classifier, embeddings, entities
from train import environment as environment_module
from train.isolated import Stopped

log = logging.getLogger("kindling.train")

# mode -> function(env, stage_dir) -> metrics. One entry per task the image can train.
TASKS: dict[str, Callable] = {"supervised": classifier.train, **{mode: embeddings.train for mode in embeddings.MODES},
                              "vectors": embeddings.import_vectors, "entities": entities.train}


def _write_failure(paths: Paths, message: str) -> None:
    try:
        paths.output.mkdir(parents=True, exist_ok=True)
        paths.failure.write_text(message + "\n", encoding="utf-8")
    except OSError as exc:
        log.error("could not write %s: %s", paths.failure, exc)


def run(paths: Paths) -> int:
    started = time.monotonic()
    try:
        paths.failure.unlink(missing_ok=True)  # a retried job must not keep the last run's reason
    except OSError:
        pass
    try:
        from container.s3_staging import stage_inputs, upload_outputs

        stage_inputs(paths)  # KINDLING_CHANNEL_* / KINDLING_HYPERPARAMETERS (ECS, plain Docker)
        env = environment_module.load(paths)
        task = TASKS.get(env.mode)
        if task is None:
            raise KindlingError(
                f"mode={env.mode!r} is not a mode this image trains.", code="bad_hyperparameters",
                hint=f"Use one of: {', '.join(sorted(TASKS))}.")
        log.info("mode=%s: training into %s", env.mode, paths.model)
        with tracking.run(env.mode, env.hyperparameters, env.job_name):  # MLflow, when MLFLOW_TRACKING_URI is set
            with staged_bundle(paths.model) as stage:
                task(env, stage)
            tracking.log_bundle(paths.model)
        upload_outputs(paths)  # KINDLING_OUTPUT_S3: only a finished bundle leaves the machine
    except Stopped as stop:
        message = (f"Training was stopped by {stop.signal_name} before it finished; no model was written "
                   "and /opt/ml/model was left as it was.")
        log.error("%s", message)
        _write_failure(paths, message)
        return 128 + getattr(signal, stop.signal_name, signal.SIGTERM)
    except KindlingError as exc:
        log.error("training failed: %s", exc)
        _write_failure(paths, str(exc))
        return 1
    except Exception as exc:  # an unexpected failure still gets a sentence and leaves no partial model
        log.error("training failed unexpectedly:\n%s", traceback.format_exc())
        _write_failure(paths, f"Internal error during training: {type(exc).__name__}: {exc}. "
                              "This is a kindling bug; the job log has the traceback.")
        return 1
    log.info("training finished in %.1f s; bundle written to %s", time.monotonic() - started, paths.model)
    return 0


def _raise_stopped(signum, _frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def main(sample: str | None = None) -> int:
    logs.setup()
    # SageMaker StopTrainingJob, ECS StopTask and `docker stop` send SIGTERM (then SIGKILL 120/30/10 s
    # later): stop the fastText child, clean the staging directory and say so in the failure file.
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)
    paths = Paths.from_env()
    if sample:
        paths = paths.with_input(sample_input_dir(name=sample))
        log.info("using the sample baked into the image: %s", paths.input)
    return run(paths)
