"""`serve`: load the bundle once, then hand the app to gunicorn, which forks the workers.

The bundle is loaded here, in the master, before any worker exists (gunicorn's preload), so N workers
share one copy of the model pages instead of loading N copies. If loading fails the server still
starts and /ping answers 503 with the reason, so the orchestrator's health check and the log say why.
"""

from __future__ import annotations

import gc
import logging
import os
import time

from container import logs
from container.errors import KindlingError
from container.paths import Paths
from container.settings import ServeSettings
from serve.listeners import own_listeners

log = logging.getLogger("kindling.serve")



def gunicorn_options(settings: ServeSettings) -> dict:
    return {
        "bind": f"0.0.0.0:{settings.port}",
        "workers": settings.workers,
        # gthread reads whole requests in its event loop first (serve/worker.py): slow clients cost no thread
        "worker_class": "serve.worker.KindlingWorker" if settings.worker_class == "gthread" else "sync",
        "threads": settings.threads if settings.worker_class == "gthread" else 1,
        "timeout": settings.timeout,
        "graceful_timeout": 20,  # ECS and SageMaker send SIGKILL 30 s after SIGTERM
        "preload_app": True,
        "accesslog": "-" if settings.access_log else None,
        "errorlog": "-",
        "logger_class": "serve.access_log.AccessLogger",  # one line per request: method path status bytes ms instances
        "loglevel": settings.log_level.lower(),
        # heartbeat files off the (possibly read-only) root filesystem, where there is a /dev/shm
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "limit_request_field_size": 16384,
        "proc_name": "kindling",
        "control_socket_disable": True,  # gunicorn >= 25 would create $HOME/.gunicorn: not on a read-only root
        # a listening socket per worker: the kernel spreads connections (serve/listeners.py)
        "reuse_port": True,
        "post_fork": own_listeners,
    }


def build_app(paths: Paths, settings: ServeSettings):
    from serve.app import create_app
    from serve.predictors import load_predictors

    from container.s3_staging import fetch_model

    started = time.monotonic()
    model_dir = paths.model
    try:
        model_dir = fetch_model(paths.model)  # KINDLING_MODEL_S3 (ECS, plain Docker); SageMaker mounts it
        predictors = load_predictors(model_dir)
    except KindlingError as exc:
        log.error("cannot serve the bundle in %s: %s", model_dir, exc)
        return create_app(None, settings, load_error=exc)
    except Exception as exc:  # never crash-loop: stay up and say why on /ping and in the log
        log.exception("cannot serve the bundle in %s", model_dir)
        error = KindlingError(f"Loading the model failed: {type(exc).__name__}: {exc}.", code="load_failed",
                              status=503, hint="This is a kindling bug or a damaged model; the log has the details.")
        return create_app(None, settings, load_error=error)
    log.info("loaded bundle %s in %.2f s: tasks %s; port %d, %d %s workers x %d threads, timeout %d s, "
             "deadline %.0f s, max payload %d bytes, max instances %d", model_dir, time.monotonic() - started,
             ", ".join(predictors), settings.port, settings.workers, settings.worker_class,
             settings.threads if settings.worker_class == "gthread" else 1, settings.timeout,
             settings.request_deadline, settings.max_payload_bytes, settings.max_instances)
    return create_app(predictors, settings)


def main() -> int:
    logs.setup()
    try:
        settings = ServeSettings.from_env()
    except KindlingError as exc:
        log.error("%s", exc)
        return 1
    logs.setup(settings.log_level)
    app = build_app(Paths.from_env(), settings)
    # Everything loaded so far lives as long as the server: move it out of the garbage collector's
    # reach, so workers neither re-scan it on every full collection nor copy its pages by touching
    # their headers (copy-on-write stays shared).
    gc.collect()
    gc.freeze()

    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()
    return 0
