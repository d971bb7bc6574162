"""Request schemas as data: the server validates with them and the OpenAPI description is built from them.

A small JSON-Schema subset (type, properties, required, additionalProperties, items, minItems,
maxItems, minimum, maximum, enum) is enough for kindling's requests, and checking it ourselves lets
every failure name the exact place (`instances[3]`, `configuration.k`) in a sentence a person can act
on, with status 400 and a code by field (too_many_instances for more than the documented limit).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from container.errors import KindlingError

TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "a whole number",
              "number": "a number", "boolean": "true or false"}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    keyword: str


def _type_of(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _matches_type(value, expected: str) -> bool:
    actual = _type_of(value)
    return actual == expected or (expected == "number" and actual == "integer")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def first_problem(value, schema: dict, path: str = "") -> Problem | None:
    """The first place where value breaks schema (depth first), or None."""
    where = path or "the request body"
    expected = schema.get("type")
    if expected and not _matches_type(value, expected):
        shown = TYPE_NAMES.get(_type_of(value), "null")
        return Problem(path, f"{where} must be {TYPE_NAMES[expected]}, not {shown}", "type")
    if "enum" in schema and value not in schema["enum"]:
        return Problem(path, f"{where} must be one of {', '.join(map(repr, schema['enum']))}, not {value!r}", "enum")
    if expected in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return Problem(path, f"{where} must be at least {schema['minimum']}, not {value!r}", "minimum")
        if "maximum" in schema and value > schema["maximum"]:
            return Problem(path, f"{where} must be at most {schema['maximum']}, not {value!r}", "maximum")
    if expected == "array":
        if len(value) < schema.get("minItems", 0):
            return Problem(path, f"{where} must have at least {schema['minItems']} item(s)", "minItems")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return Problem(path, f"{where} has {len(value)} items; at most {schema['maxItems']} are allowed",
                           "maxItems")
        for index, item in enumerate(value):
            problem = first_problem(item, schema.get("items", {}), _join(path, index))
            if problem:
                return problem
    if expected == "object":
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                return Problem(_join(path, key), f"{where} needs {key!r}", "required")
        if schema.get("additionalProperties") is False:
            unknown = sorted(set(value) - set(properties))
            if unknown:
                close = difflib.get_close_matches(unknown[0], list(properties), 1)
                tip = f" (did you mean {close[0]!r}?)" if close else ""
                allowed = ", ".join(properties) or "none"
                return Problem(_join(path, unknown[0]),
                               f"{where} has an unknown key {unknown[0]!r}{tip}; allowed: {allowed}",
                               "additionalProperties")
        for key, subschema in properties.items():
            if key in value:
                problem = first_problem(value[key], subschema, _join(path, key))
                if problem:
                    return problem
    return None


def validate(value, schema: dict, *, codes: dict[str, str], hint: str) -> None:
    """Raise KindlingError (400) for the first problem, with a code by field."""
    problem = first_problem(value, schema)
    if problem is None:
        return
    field = problem.path.split(".")[0].split("[")[0]
    status = 400  # too many instances too: the body is readable, it asks for more than the documented limit
    code = "too_many_instances" if problem.keyword == "maxItems" else codes.get(field, "bad_request")
    raise KindlingError(problem.message[0].upper() + problem.message[1:] + ".", code=code, status=status, hint=hint)


def with_defaults(value: dict, schema: dict) -> dict:
    """value with each missing property's schema default filled in."""
    filled = dict(value)
    for key, subschema in schema.get("properties", {}).items():
        if key not in filled and "default" in subschema:
            filled[key] = subschema["default"]
    return filled
