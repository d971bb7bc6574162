"""Content types: what /invocations reads and writes, and the checks around them.

Requests are `application/json` in BlazingText's shape:
    {"instances": ["text", ...], "configuration": {"k": 2}, "task": "classification"}
`task` is optional when the bundle holds one task. Responses are JSON lists, one entry per instance.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

from container.errors import KindlingError

JSON = "application/json"
READS = (JSON,)
WRITES = (JSON,)
REQUEST_KEYS = ("instances", "configuration", "task")


@dataclass(frozen=True)
class Request:
    instances: list[str]
    configuration: dict = field(default_factory=dict)
    task: str | None = None


def check_content_type(mimetype: str) -> None:
    if mimetype not in READS:
        shown = mimetype or "no Content-Type"
        raise KindlingError(
            f"/invocations cannot read {shown}.", code="unsupported_media_type", status=415,
            hint=f"Send Content-Type: {', '.join(READS)} with a body like "
                 '{"instances": ["some text"], "configuration": {"k": 2}}.')


def choose_response_type(accept_mimetypes) -> str:
    """The best type we can write for the Accept header; no header or */* means JSON."""
    if not accept_mimetypes:
        return JSON
    best = accept_mimetypes.best_match(WRITES)
    if best is None:
        raise KindlingError(
            f"/invocations cannot answer with any type in Accept: {accept_mimetypes}.", code="not_acceptable",
            status=406, hint=f"Accept one of: {', '.join(WRITES)} (or */*).")
    return best


def decode_json_request(body: bytes) -> Request:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KindlingError(f"The request body is not UTF-8 (byte {exc.start + 1}).", code="bad_encoding",
                            hint="Encode the JSON body as UTF-8.") from None
    if not text.strip():
        raise KindlingError("The request body is empty.", code="empty_body",
                            hint='Send {"instances": ["some text"]}.')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KindlingError(f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                            code="bad_json", hint='Send {"instances": ["some text"]}.') from None
    if isinstance(data, str):
        raise KindlingError("The request body is a JSON string, not an object: it looks JSON-encoded twice.",
                            code="double_encoded_json", hint="Serialize the request once (json.dumps once).")
    if not isinstance(data, dict):
        raise KindlingError(f"The request body is a JSON {type(data).__name__}, not an object.", code="bad_request",
                            hint='Send {"instances": ["some text"]}.')
    unknown = sorted(set(data) - set(REQUEST_KEYS))
    if unknown:
        tips = [f"{key!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(key, REQUEST_KEYS, 1))
                else repr(key) for key in unknown]
        raise KindlingError(f"The request has unknown key(s) {', '.join(tips)}.", code="bad_request",
                            hint=f"Use only: {', '.join(REQUEST_KEYS)}.")
    instances = data.get("instances")
    if not isinstance(instances, list) or not instances:
        raise KindlingError("The request needs a non-empty list 'instances'.", code="bad_instances",
                            hint='Send {"instances": ["first text", "second text"]}.')
    for index, item in enumerate(instances):
        if not isinstance(item, str):
            raise KindlingError(f"instances[{index}] is a {type(item).__name__}, not a string.",
                                code="bad_instances", hint="Every instance is one text, as a JSON string.")
    configuration = data.get("configuration", {})
    if configuration is None:
        configuration = {}
    if not isinstance(configuration, dict):
        raise KindlingError("'configuration' must be an object.", code="bad_configuration",
                            hint='Send e.g. {"configuration": {"k": 2}}.')
    task = data.get("task")
    if task is not None and not isinstance(task, str):
        raise KindlingError("'task' must be a string naming one of the bundle's tasks.", code="bad_task")
    return Request(instances=instances, configuration=configuration, task=task)


def encode_json(predictions: list[dict]) -> bytes:
    return json.dumps(predictions, separators=(",", ":")).encode("utf-8")
