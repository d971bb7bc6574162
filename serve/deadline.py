"""The per-request deadline every predictor checks between chunks of work."""

from __future__ import annotations

import time

from container.errors import KindlingError


def check_deadline(deadline: float, done: int, total: int) -> None:
    if time.monotonic() > deadline:
        raise KindlingError(
            f"The request ran out of time after {done} of {total} instances.", code="deadline_exceeded",
            status=503, hint="Send fewer instances per request, or raise SAGEMAKER_MODEL_SERVER_TIMEOUT.")
