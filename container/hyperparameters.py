"""Typed, strict hyperparameters: strings in, one frozen dataclass per mode out.

SageMaker passes every hyperparameter as a string; the SDK's generic Estimator sends `str(v)`
("True", "0.1"), framework estimators JSON-encode first ('"abc"'), and the training toolkit decodes
JSON. All of those spellings are accepted. Names are BlazingText's, with fastText's own names as
aliases. Unknown keys are errors (except the platform's `sagemaker_*` and `_tuning_objective_metric`)
and every bad key is reported in one message, so a user fixes their job once, not once per key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from typing import Any, Mapping, TypeVar

from container.errors import KindlingError

T = TypeVar("T")
TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no"}
PLATFORM_KEYS = {"_tuning_objective_metric"}


def param(default: Any, help: str, *, aliases: tuple[str, ...] = (), minimum: float | None = None,
          maximum: float | None = None, choices: tuple[str, ...] | None = None, exclusive_minimum: bool = False):
    """Declare one hyperparameter field with its documentation and bounds."""
    meta = {"help": help, "aliases": aliases, "minimum": minimum, "maximum": maximum, "choices": choices,
            "exclusive_minimum": exclusive_minimum}
    return dataclasses.field(default=default, metadata=meta)


def is_platform_key(key: str) -> bool:
    return key.startswith("sagemaker_") or key in PLATFORM_KEYS


def _unwrap(value: Any) -> Any:
    """Undo one level of JSON string encoding ('"abc"' -> 'abc'), as framework estimators add it."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _coerce(value: Any, kind: type) -> Any:
    """Return the value as `kind` or raise ValueError with the expectation in words."""
    value = _unwrap(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ValueError("is not a boolean (use true or false)")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError("is not a whole number")
        if isinstance(value, int):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError("is not a whole number") from None
        if not number.is_integer():
            raise ValueError("is not a whole number")
        return int(number)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError("is not a number")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError("is not a number") from None
        if not math.isfinite(number):
            raise ValueError("is not a finite number")
        return number
    if isinstance(value, (dict, list)):
        raise ValueError("is not a plain string")
    return str(value)


def _number(bound: float) -> str:
    """A bound as written: 2117483647, not 2.11748e+09; 0.5 stays 0.5."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _check_bounds(value: Any, meta: Mapping[str, Any]) -> None:
    if meta.get("choices") and value not in meta["choices"]:
        raise ValueError(f"is not one of {', '.join(meta['choices'])}")
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None and (value <= low if meta.get("exclusive_minimum") else value < low):
        raise ValueError(f"must be {'greater than' if meta.get('exclusive_minimum') else 'at least'} {_number(low)}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {_number(high)}")


def field_names(schema: type) -> dict[str, str]:
    """Every accepted spelling -> canonical field name."""
    names: dict[str, str] = {}
    for field in dataclasses.fields(schema):
        names[field.name] = field.name
        for alias in field.metadata.get("aliases", ()):
            names[alias] = field.name
    return names


def parse(schema: type[T], raw: Mapping[str, Any], *, mode: str, skip: tuple[str, ...] = ("mode",)) -> T:
    """Build `schema` from raw hyperparameters or raise one KindlingError naming every bad key."""
    spellings = field_names(schema)
    fields = {f.name: f for f in dataclasses.fields(schema)}
    values: dict[str, Any] = {}
    seen_as: dict[str, str] = {}
    problems: list[str] = []
    for key in sorted(raw):
        if key in skip or is_platform_key(key):
            continue
        canonical = spellings.get(key)
        if canonical is None:
            close = difflib.get_close_matches(key, list(spellings), n=1)
            suggestion = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{key!r} is not a hyperparameter of mode={mode}{suggestion}")
            continue
        if canonical in seen_as:
            problems.append(f"{key!r} and {seen_as[canonical]!r} both set {canonical}; give it once")
            continue
        seen_as[canonical] = key
        field = fields[canonical]
        kind = field.type if isinstance(field.type, type) else {"int": int, "float": float, "bool": bool}.get(
            str(field.type), str)
        try:
            value = _coerce(raw[key], kind)
            _check_bounds(value, field.metadata)
        except ValueError as exc:
            problems.append(f"{key}={raw[key]!r} {exc}")
            continue
        values[canonical] = value
    if problems:
        noun = "hyperparameter is" if len(problems) == 1 else f"{len(problems)} hyperparameters are"
        raise KindlingError(
            f"The {noun} invalid for mode={mode}: " + "; ".join(problems) + ".",
            code="bad_hyperparameters",
            hint=f"Valid names for mode={mode}: {', '.join(describe(schema))}.",
        )
    return schema(**values)


def describe(schema: type) -> list[str]:
    """'name (alias)' for each field, for hints and help text."""
    out = []
    for field in dataclasses.fields(schema):
        aliases = field.metadata.get("aliases", ())
        out.append(f"{field.name} ({'/'.join(aliases)})" if aliases else field.name)
    return out


def as_dict(params: Any) -> dict:
    return dataclasses.asdict(params)
