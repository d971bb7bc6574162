"""The HTTP API as data: request schemas the server validates with, and the OpenAPI document built from them.

The same dictionaries drive validation (serve/schemas.py) and the description clients read at
GET /openapi.json (and in docs/openapi.json), so the two cannot disagree.
"""

from __future__ import annotations

from container import __version__
from container.settings import ServeSettings
from serve.schemas import validate, with_defaults

FIELD_CODES = {"instances": "bad_instances", "configuration": "bad_configuration", "task": "bad_task"}
LINES = {
    "jsonlines": 'one {"source": "text", "k": 2} object per line (batch transform, SplitType=Line)',
    "csv": "one text per line, in the first column",
    "text": "one text per line",
    "answers": "one result object per input line, same order (the default answer to line-based requests)",
}
HINT = 'Send e.g. {"instances": ["first text", "second text"], "configuration": {"k": 2}}.'


def request_schema(tasks: list[str], max_instances: int, configuration: dict | None = None) -> dict:
    task_schema = {"type": "string", "description": "which of the bundle's tasks to run; optional with one task"}
    if tasks:
        task_schema["enum"] = list(tasks)
    return {
        "type": "object",
        "required": ["instances"],
        "additionalProperties": False,
        "properties": {
            "instances": {"type": "array", "minItems": 1, "maxItems": max_instances, "items": {"type": "string"},
                          "description": "the texts to predict for, one result each, in order"},
            "configuration": configuration or {"type": "object"},
            "task": task_schema,
        },
    }


REQUEST_KEYS = frozenset(request_schema([], 1)["properties"])  # the schema is the one list of keys


def is_plain_request(data, tasks: list[str], max_instances: int) -> bool:
    """True for the common, obviously valid shape, which then skips the generic validator.

    Conservative by construction: whatever it accepts, request_schema accepts too (a property test
    checks this); anything unusual goes through check_request for a precise message. Instances must
    also encode as UTF-8 (no lone surrogates), which the generic path checks separately.
    """
    if type(data) is not dict or not data.keys() <= REQUEST_KEYS:
        return False
    instances = data.get("instances")
    if type(instances) is not list or not 0 < len(instances) <= max_instances:
        return False
    if type(data.get("configuration", {})) is not dict or ("task" in data and data["task"] not in tasks):
        return False
    for text in instances:
        if type(text) is not str or not text.isascii():
            return False
    return True


def check_request(data, schema: dict) -> None:
    """data against a schema from request_schema() (built once per app, not per request)."""
    validate(data, schema, codes=FIELD_CODES, hint=HINT)


def check_configuration(configuration: dict, schema: dict) -> dict:
    """The request's configuration validated against the task's schema, defaults filled in."""
    validate({"configuration": configuration}, {"type": "object", "properties": {"configuration": schema}},
             codes=FIELD_CODES, hint=HINT)
    return with_defaults(configuration, schema)


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _any_of(schemas: list[dict]) -> dict:
    """One schema, or anyOf the tasks' schemas (anyOf, not oneOf: `{}` is a valid configuration of
    every task), nested alternatives flattened."""
    flat = [branch for schema in schemas for branch in schema.get("anyOf", schema.get("oneOf", [schema]))]
    return flat[0] if len(flat) == 1 else {"anyOf": flat}


def openapi(task_kinds: dict[str, type], settings: ServeSettings) -> dict:
    """OpenAPI 3.0 for these tasks ({task name: predictor class}) and these limits."""
    configurations = [cls.configuration_schema for cls in task_kinds.values()]
    responses = [cls.response_schema for cls in task_kinds.values()]
    body = request_schema(list(task_kinds), settings.max_instances, _any_of(configurations))
    limit = settings.max_payload_bytes
    return {
        "openapi": "3.0.3",
        "info": {"title": "kindling", "version": __version__,
                 "description": "fastText models behind the SageMaker container contract (BlazingText formats)."},
        "paths": {
            "/ping": {"get": {"summary": "Health: 200 once the bundle is loaded, 503 with the reason otherwise",
                              "responses": {"200": {"description": "healthy", "content": {"application/json": {
                                  "schema": {"$ref": "#/components/schemas/Health"}}}},
                                  "503": _error_response("no usable bundle")}}},
            "/invocations": {"post": {
                "summary": "Predict for a batch of texts",
                "requestBody": {"required": True, "description": f"at most {limit} bytes", "content": {
                    "application/json": {"schema": body},
                    # The patterns describe a safe subset of each line format, so generated "valid" bodies are
                    # valid; the prose says what is accepted in full.
                    "application/jsonlines": {"schema": {"type": "string", "description": LINES["jsonlines"],
                                                         "pattern": r'^(\{"source": "[a-z ]{0,40}"\}\n){1,50}$'}},
                    "text/csv": {"schema": {"type": "string", "description": LINES["csv"],
                                            "pattern": r'^[^,"\r]{1,2000}$'}},
                    "text/plain": {"schema": {"type": "string", "description": LINES["text"],
                                              "pattern": r"^[^\r]{1,2000}$"}}}},
                "responses": {
                    "200": {"description": "one result per instance, in order", "content": {
                        "application/json": {"schema": {"type": "array", "items": _any_of(responses)}},
                        "application/jsonlines": {"schema": {"type": "string", "description": LINES["answers"]}}}},
                    "400": _error_response(f"the body is not valid JSON, not of this shape, or has more than "
                                           f"{settings.max_instances} instances; or it ended before its "
                                           "Content-Length (incomplete_body), or its chunking is malformed"),
                    "406": _error_response("Accept names no type the server writes"),
                    "408": _error_response(f"the headers took over {settings.header_timeout:g} s, or the body "
                                           f"paused over {settings.body_timeout:g} s"),
                    "413": _error_response(f"body over {limit} bytes (request_entity_too_large), or an answer "
                                           f"over {settings.max_response_bytes} bytes (response_too_large)"),
                    "415": _error_response("Content-Type is not application/json"),
                    "503": _error_response("no usable bundle, or the request ran past its deadline"),
                }}},
            "/execution-parameters": {"get": {
                "summary": "Batch transform settings",
                "responses": {"200": {"description": "what SageMaker batch transform should use",
                                      "content": {"application/json": {"schema": {
                                          "$ref": "#/components/schemas/ExecutionParameters"}}}}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": "string"}}}}},
            "Health": {"type": "object", "required": ["status", "tasks"], "properties": {
                "status": {"type": "string", "enum": ["healthy"]}, "tasks": {"type": "array", "items": {"type": "string"}}}},
            "ExecutionParameters": {"type": "object", "required": ["MaxConcurrentTransforms", "BatchStrategy",
                                                                   "MaxPayloadInMB"], "properties": {
                "MaxConcurrentTransforms": {"type": "integer", "minimum": 1},
                "BatchStrategy": {"type": "string", "enum": ["MULTI_RECORD", "SINGLE_RECORD"]},
                "MaxPayloadInMB": {"type": "integer", "minimum": 1}}},
        }},
    }


def shipped_document() -> dict:
    """The description kept in docs/openapi.json: every task kind, default limits."""
    from serve.predictors import PREDICTORS

    return openapi(dict(PREDICTORS), ServeSettings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}))


if __name__ == "__main__":  # `python -m serve.api > docs/openapi.json` (make openapi)
    import json
    import sys

    json.dump(shipped_document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
