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
JSONLINES = "application/jsonlines"
CSV = "text/csv"
TEXT = "text/plain"
READS = (JSON, JSONLINES, CSV, TEXT)
WRITES = (JSON, JSONLINES)
LINE_TYPES = (JSONLINES, CSV, TEXT)  # one record per line: SageMaker batch transform with SplitType=Line
EXAMPLE = '{"instances": ["some text"], "configuration": {"k": 2}}'


def mimetype_of(content_type: str) -> str:
    """'application/json; charset=utf-8' -> 'application/json'."""
    return content_type.split(";", 1)[0].strip().lower()


def check_content_type(mimetype: str) -> None:
    if mimetype not in READS:
        shown = mimetype or "no Content-Type"
        raise KindlingError(f"/invocations cannot read {shown}.", code="unsupported_media_type", status=415,
                            hint=f"Send Content-Type: {', '.join(READS)} with a body like {EXAMPLE}.")


def choose_response_type(accept_mimetypes, request_type: str = JSON) -> str:
    """The best type we can write for the Accept header. Without a preference, line-based requests get
    JSON Lines back (one output line per input line, as batch transform's AssembleWith=Line needs)."""
    default = JSONLINES if request_type in LINE_TYPES else JSON
    if not accept_mimetypes:
        return default
    if accept_mimetypes.best == "*/*":
        return default
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


def _lines(body: bytes) -> list[str]:
    """The body's lines; one final newline ends the last line rather than starting an empty one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[:exc.start].count(b"\n") + 1
        raise KindlingError(f"Line {line} of the request body is not UTF-8.", code="bad_encoding",
                            hint="Encode the body as UTF-8.") from None
    if not text:
        raise KindlingError("The request body is empty.", code="empty_body", hint="Send one record per line.")
    if text.endswith("\n"):
        text = text[:-1]
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def decode_lines(body: bytes, mimetype: str) -> tuple[list[str], list[dict]]:
    """Line-based bodies -> (instances, per-line configuration), one instance per line, order kept.

    application/jsonlines: BlazingText's `{"source": "text", "k": 2}` per line (any other key is the
    task's configuration, checked later). text/plain: each line is a text. text/csv: the first column
    of each line is the text (CSV quoting allowed).
    """
    lines = _lines(body)
    if mimetype == TEXT:
        return lines, [{} for _ in lines]
    if mimetype == CSV:
        import csv

        instances = []
        for number, line in enumerate(lines, start=1):
            try:
                row = next(csv.reader([line]), [])
            except csv.Error as exc:
                raise KindlingError(f"Line {number} of the CSV body cannot be read: {exc}.", code="bad_csv",
                                    hint="One text per line; quote texts that contain commas or quotes.") from None
            if len(row) > 1:
                raise KindlingError(f"Line {number} of the CSV body has {len(row)} columns; one text per line is read.",
                                    code="bad_csv", hint='Quote texts that contain commas: "a, b".')
            instances.append(row[0] if row else "")
        return instances, [{} for _ in instances]
    instances, configurations = [], []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise KindlingError(f"Line {number} is not a JSON object ({exc}).", code="bad_json",
                                hint='Each line must be like {"source": "some text"}.') from None
        if not isinstance(record, dict) or not isinstance(record.get("source"), str):
            raise KindlingError(f'Line {number} has no "source" text.', code="bad_instances",
                                hint='Each line must be like {"source": "some text", "k": 2}.')
        instances.append(record.pop("source"))
        configurations.append(record)
    return instances, configurations


def encode(predictions: list, mimetype: str) -> bytes:
    if mimetype == JSONLINES:
        # no newline after the last line: batch transform's AssembleWith=Line appends one to every response,
        # and a trailing one here would leave a blank line per mini-batch (seen with the SDK's local mode)
        return "\n".join(json.dumps(item, separators=(",", ":")) for item in predictions).encode("utf-8")
    return encode_json(predictions)
