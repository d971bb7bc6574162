"""Content types: what /invocations reads and writes, and the checks around the bytes.

Requests are `application/json` in BlazingText's shape:
    {"instances": ["text", ...], "configuration": {"k": 2}, "task": "classification"}
Parsing is strict JSON (no NaN/Infinity), and anything a parser can choke on (invalid UTF-8, deep
nesting, numbers too long to convert) is a 400 with a sentence, never a 500. What the parsed body must
look like is checked against the schemas in serve/api.py.
"""

from __future__ import annotations

import json

from container.errors import KindlingError

JSON = "application/json"
READS = (JSON,)
WRITES = (JSON,)
EXAMPLE = '{"instances": ["some text"], "configuration": {"k": 2}}'


def mimetype_of(content_type: str) -> str:
    """'application/json; charset=utf-8' -> 'application/json'."""
    return content_type.split(";", 1)[0].strip().lower()


def check_content_type(mimetype: str) -> None:
    if mimetype not in READS:
        shown = mimetype or "no Content-Type"
        raise KindlingError(f"/invocations cannot read {shown}.", code="unsupported_media_type", status=415,
                            hint=f"Send Content-Type: {', '.join(READS)} with a body like {EXAMPLE}.")


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


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: bytes):
    """Parse a request body as strict JSON, or raise a 400 that says what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KindlingError(f"The request body is not UTF-8 (byte {exc.start + 1}).", code="bad_encoding",
                            hint="Encode the JSON body as UTF-8.") from None
    if not text.strip():
        raise KindlingError("The request body is empty.", code="empty_body", hint=f"Send {EXAMPLE}.")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise KindlingError(f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                            code="bad_json", hint=f"Send {EXAMPLE}.") from None
    except RecursionError:
        raise KindlingError("The request body is nested too deeply to read.", code="bad_json",
                            hint=f"Send {EXAMPLE}.") from None
    except ValueError as exc:  # NaN/Infinity, integers with thousands of digits
        raise KindlingError(f"The request body is not valid JSON: {exc}.", code="bad_json",
                            hint=f"Send {EXAMPLE}.") from None
    if isinstance(data, str):
        raise KindlingError("The request body is a JSON string, not an object: it looks JSON-encoded twice.",
                            code="double_encoded_json", hint="Serialize the request once (json.dumps once).")
    return data


def encode_json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
