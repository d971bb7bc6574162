"""The Flask application factory: loaded predictors (or the reason loading failed) in, an app out.

Built once in the gunicorn master before workers fork, so the model is loaded once and shared
copy-on-write. Every error leaves as JSON `{"error": {"code", "message", "hint"}}` with a 4xx/5xx
status; no HTML page and no traceback reaches a client.
"""

from __future__ import annotations

import json
import logging
import math
import time

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from container.errors import KindlingError
from container.settings import ServeSettings
from serve import api, codecs
from serve.predictors import PREDICTORS, Predictor
from serve.response_size import check_response_size

log = logging.getLogger("kindling.serve")
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INSTANCE_COUNT = "X-Instance-Count"  # read by the access log line


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, mimetype=codecs.JSON)


def _error(exc: KindlingError) -> Response:
    return _json(json.dumps({"error": exc.to_dict()}).encode("utf-8"), exc.status)


def _check_encodable(instances: list[str]) -> None:
    for index, text in enumerate(instances):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise KindlingError(f"instances[{index}] contains an unpaired surrogate ({text[exc.start]!r}).",
                                code="bad_instances", hint="Send valid Unicode text.") from None


def _predict(predictor: Predictor, instances: list[str], configuration: dict, deadline: float,
             settings: ServeSettings) -> list[dict]:
    """Refuse an answer over KINDLING_MAX_RESPONSE_MB before computing it, then predict."""
    check_response_size(predictor.response_bytes(instances, configuration), settings.max_response_bytes)
    return predictor.predict(instances, configuration, deadline, settings.max_response_bytes)


def _predict_lines(predictor: Predictor, instances: list[str], per_line: list[dict], deadline: float,
                   settings: ServeSettings) -> list[dict]:
    """Batch-transform lines may each carry their own configuration (BlazingText's per-line "k"):
    predict each group of equal configuration at once, then put every answer back on its line."""
    groups: dict[str, tuple[dict, list[int]]] = {}
    for index, overrides in enumerate(per_line):
        try:
            configuration = api.check_configuration(overrides, predictor.configuration_schema) if overrides \
                else predictor.default_configuration
        except KindlingError as exc:
            raise KindlingError(f"Line {index + 1}: {exc.message}", code=exc.code, status=exc.status,
                                hint=exc.hint) from None
        key = json.dumps(configuration, sort_keys=True)
        groups.setdefault(key, (configuration, []))[1].append(index)
    total = sum(predictor.response_bytes([instances[i] for i in indices], configuration)
                for configuration, indices in groups.values())
    check_response_size(total, settings.max_response_bytes)
    results: list = [None] * len(instances)
    for configuration, indices in groups.values():
        answers = predictor.predict([instances[i] for i in indices], configuration, deadline,
                                    settings.max_response_bytes)
        for index, answer in zip(indices, answers):
            results[index] = answer
    return results


def create_app(predictors: dict[str, Predictor] | None, settings: ServeSettings,
               load_error: KindlingError | None = None) -> Flask:
    app = Flask("kindling")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    predictors = predictors or {}
    tasks = list(predictors)
    health = codecs.encode_json({"status": "healthy", "tasks": tasks})
    kinds = {name: type(p) for name, p in predictors.items()} or dict(PREDICTORS)
    body_schema = api.request_schema(tasks, settings.max_instances)
    description = codecs.encode_json(api.openapi(kinds, settings))

    def pick(task: str | None) -> Predictor:
        if load_error is not None:
            raise load_error
        if task is None:
            if len(predictors) == 1:
                return next(iter(predictors.values()))
            raise KindlingError(f"This bundle holds several tasks ({', '.join(tasks)}); the request must name one.",
                                code="task_required", hint='Add "task": "<name>" to the request.')
        return predictors[task]  # the request schema allows only this bundle's tasks

    @app.get("/ping")
    def ping() -> Response:
        if load_error is not None:
            return _error(load_error)
        return _json(health)

    @app.post("/invocations")
    def invocations() -> Response:
        # The hot path: headers are read from the WSGI environ directly and the common request shape
        # is checked without the generic validator (see api.is_plain_request); ~2x less Python per call.
        deadline = time.monotonic() + settings.request_deadline
        environ = request.environ
        mimetype = codecs.mimetype_of(environ.get("CONTENT_TYPE", ""))
        codecs.check_content_type(mimetype)
        accept = environ.get("HTTP_ACCEPT")
        response_type = codecs.JSON if mimetype == codecs.JSON and accept in (None, "", "*/*", codecs.JSON) else \
            codecs.choose_response_type(request.accept_mimetypes, mimetype)
        body = request.get_data(cache=False)
        if mimetype == codecs.JSON:
            instances, predictions = _predict_json(codecs.decode_json(body), deadline)
        else:
            instances, per_line = codecs.decode_lines(body, mimetype)
            if load_error is not None:
                raise load_error
            api.check_request({"instances": instances}, body_schema)
            _check_encodable(instances)
            predictions = _predict_lines(pick(None), instances, per_line, deadline, settings)
        headers = [(INSTANCE_COUNT, str(len(instances)))]
        custom = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
        if custom is not None:
            headers.append((CUSTOM_ATTRIBUTES, custom))
        return Response(codecs.encode(predictions, response_type), mimetype=response_type, headers=headers)

    def _predict_json(data, deadline: float) -> tuple[list[str], list[dict]]:
        if load_error is not None:
            raise load_error
        if not api.is_plain_request(data, tasks, settings.max_instances):
            api.check_request(data, body_schema)
            _check_encodable(data["instances"])
        predictor = pick(data.get("task"))
        configuration = data.get("configuration")
        configuration = predictor.default_configuration if not configuration else \
            api.check_configuration(configuration, predictor.configuration_schema)
        return data["instances"], _predict(predictor, data["instances"], configuration, deadline, settings)

    @app.get("/execution-parameters")
    def execution_parameters() -> Response:
        body = {"MaxConcurrentTransforms": settings.max_concurrent_transforms, "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, math.floor(settings.max_payload_bytes / (1024 * 1024)))}
        return _json(codecs.encode_json(body))

    @app.get("/openapi.json")
    def openapi() -> Response:
        return _json(description)

    @app.errorhandler(KindlingError)
    def kindling_error(exc: KindlingError) -> Response:
        if exc.status >= 500:
            log.error("%s %s -> %d %s", request.method, request.path, exc.status, exc)
        return _error(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        hints = {404: "The server answers GET /ping, POST /invocations, GET /execution-parameters, GET /openapi.json.",
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
