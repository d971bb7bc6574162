"""The Flask application factory: a loaded bundle (or the reason it failed to load) in, an app out.

Built once in the gunicorn master before workers fork, so the model is loaded once and shared
copy-on-write. Every error leaves as JSON `{"error": {"code", "message", "hint"}}` with a 4xx/5xx
status; no HTML page and no traceback reaches a client.
"""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from container.errors import KindlingError
from container.settings import ServeSettings
from serve import codecs
from serve.predictors import Predictor

log = logging.getLogger("kindling.serve")
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, mimetype=codecs.JSON)


def _error(exc: KindlingError) -> Response:
    import json

    return _json(json.dumps({"error": exc.to_dict()}).encode("utf-8"), exc.status)


def create_app(predictors: dict[str, Predictor] | None, settings: ServeSettings,
               load_error: KindlingError | None = None) -> Flask:
    app = Flask("kindling")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    predictors = predictors or {}

    def pick(task: str | None) -> Predictor:
        if load_error is not None:
            raise load_error
        if task is None:
            if len(predictors) == 1:
                return next(iter(predictors.values()))
            raise KindlingError(f"This bundle holds several tasks ({', '.join(predictors)}); the request must name one.",
                                code="task_required", hint='Add "task": "<name>" to the request.')
        if task not in predictors:
            raise KindlingError(f"This bundle has no task {task!r}.", code="unknown_task", status=400,
                                hint=f"Tasks in this bundle: {', '.join(predictors)}.")
        return predictors[task]

    @app.get("/ping")
    def ping() -> Response:
        if load_error is not None:
            return _error(load_error)
        return _json(b'{"status":"healthy","tasks":%s}' % codecs.encode_json(list(predictors)))

    @app.post("/invocations")
    def invocations() -> Response:
        codecs.check_content_type(request.mimetype)
        response_type = codecs.choose_response_type(request.accept_mimetypes)
        parsed = codecs.decode_json_request(request.get_data(cache=False))
        predictor = pick(parsed.task)
        configuration = predictor.parse_configuration(parsed.configuration)
        predictions = predictor.predict(parsed.instances, configuration)
        response = Response(codecs.encode_json(predictions), mimetype=response_type)
        if CUSTOM_ATTRIBUTES in request.headers:
            response.headers[CUSTOM_ATTRIBUTES] = request.headers[CUSTOM_ATTRIBUTES]
        return response

    @app.get("/execution-parameters")
    def execution_parameters() -> Response:
        import json

        body = {"MaxConcurrentTransforms": settings.max_concurrent_transforms, "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, math.floor(settings.max_payload_bytes / (1024 * 1024)))}
        return _json(json.dumps(body).encode("utf-8"))

    @app.errorhandler(KindlingError)
    def kindling_error(exc: KindlingError) -> Response:
        if exc.status >= 500:
            log.error("%s %s -> %d %s", request.method, request.path, exc.status, exc)
        return _error(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        hints = {404: "The server answers GET /ping, POST /invocations and GET /execution-parameters.",
                 405: "Check the method: GET /ping, POST /invocations, GET /execution-parameters.",
                 413: f"Send at most {settings.max_payload_bytes} bytes per request; split larger batches."}
        code = (exc.name or "http_error").lower().replace(" ", "_")
        return _error(KindlingError(f"{exc.code} {exc.name}: {request.method} {request.path}.", code=code,
                                    status=exc.code or 500, hint=hints.get(exc.code)))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _error(KindlingError("The server failed while handling this request.", code="internal", status=500,
                                    hint="This is a kindling bug; the container log has the details."))

    return app
