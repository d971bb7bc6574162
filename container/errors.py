"""The one error type: what went wrong, where, and how to fix it.

HTTP handlers turn it into `{"error": {"code", "message", "hint"}}` with its status; the trainer
writes the same sentence to /opt/ml/output/failure and exits non-zero. One type means a check written
once reads the same whether it fails in a training job or in a request.
"""

from __future__ import annotations


class KindlingError(Exception):
    """A failure a person can act on.

    status: the HTTP status when raised while serving (4xx: the caller's fault, 5xx: ours).
    code: a stable machine-readable identifier, e.g. "bad_hyperparameters".
    message: one sentence saying what is wrong and where.
    hint: how to fix it (optional, shown after the message).
    """

    def __init__(self, message: str, *, code: str = "bad_request", status: int = 400, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body
