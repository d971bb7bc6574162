"""Labelled-text input formats, each read into (labels, text) records.

- fasttext: `__label__a __label__b some text` lines (labels anywhere on the line, several allowed);
- jsonlines: one JSON object per line, the text under `text_field` and the label(s) under
  `label_field` — SageMaker augmented manifests (`{"source": "...", "label": 1}`) are this format;
  a label may be a number, a string or a list of them (multi-label);
- csv: a header row, then the text and the label in the columns named `text_field` / `label_field`.

The format comes from the `input_format` hyperparameter, else the channel's ContentType, else each
file's extension. Labels become fastText labels: prefix + value, with spaces turned into "_".
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from container.compressed import stem_suffixes
from container.errors import KindlingError

FORMATS = ("auto", "fasttext", "jsonlines", "csv")
CONTENT_TYPES = {"application/jsonlines": "jsonlines", "application/json": "jsonlines", "application/x-ndjson":
                 "jsonlines", "text/csv": "csv", "text/plain": "fasttext", "application/x-fasttext": "fasttext"}
EXTENSIONS = {".jsonl": "jsonlines", ".jsonlines": "jsonlines", ".json": "jsonlines", ".manifest": "jsonlines",
              ".ndjson": "jsonlines", ".csv": "csv"}


@dataclass(frozen=True)
class Reading:
    """How to read a channel's files."""

    input_format: str = "auto"
    text_field: str = "source"
    label_field: str = "label"
    label_prefix: str = "__label__"


def format_of(path: Path, content_type: str | None, requested: str) -> str:
    if requested != "auto":
        return requested
    if content_type:
        mimetype = content_type.split(";", 1)[0].strip().lower()
        if mimetype in CONTENT_TYPES:
            return CONTENT_TYPES[mimetype]
    suffixes = stem_suffixes(path)
    return EXTENSIONS.get(suffixes[-1], "fasttext") if suffixes else "fasttext"


def as_labels(value, reading: Reading) -> list[str]:
    values = value if isinstance(value, list) else [value]
    labels = []
    for item in values:
        if item is None or isinstance(item, (dict, list)) or str(item).strip() == "":
            continue
        text = str(item).strip() if not isinstance(item, bool) else str(item).lower()
        labels.append(reading.label_prefix + "_".join(text.split()))
    return labels


def records(path: Path, lines: Iterable[tuple[int, str]], file_format: str,
            reading: Reading) -> Iterator[tuple[list[str], str]]:
    """(labels, raw text) per record; labels may be empty (the caller counts those)."""
    if file_format == "fasttext":
        prefix = reading.label_prefix
        for _, line in lines:
            tokens = line.split()
            if tokens:
                labels = [t for t in tokens if t.startswith(prefix) and len(t) > len(prefix)]
                yield labels, " ".join(t for t in tokens if not t.startswith(prefix))
    elif file_format == "jsonlines":
        yield from _jsonlines(path, lines, reading)
    elif file_format == "csv":
        yield from _csv(path, lines, reading)
    else:
        raise KindlingError(f"Unknown input format {file_format!r}.", code="bad_hyperparameters",
                            hint=f"Use one of: {', '.join(FORMATS)}.")


def _jsonlines(path: Path, lines: Iterable[tuple[int, str]], reading: Reading) -> Iterator[tuple[list[str], str]]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise KindlingError(f"{path}, line {number}: not a JSON object ({exc}).", code="bad_record",
                                hint=f'Each line must be like {{"{reading.text_field}": "text", '
                                     f'"{reading.label_field}": "positive"}}.') from None
        if not isinstance(record, dict) or not isinstance(record.get(reading.text_field), str):
            raise KindlingError(
                f"{path}, line {number}: no text under {reading.text_field!r}.", code="bad_record",
                hint=f"Name the attribute that holds the text with the text_field hyperparameter "
                     f"(found: {', '.join(sorted(record)) if isinstance(record, dict) else type(record).__name__}).")
        yield as_labels(record.get(reading.label_field), reading), record[reading.text_field]


def _csv(path: Path, lines: Iterable[tuple[int, str]], reading: Reading) -> Iterator[tuple[list[str], str]]:
    reader = csv.DictReader(line for _, line in lines)
    try:
        header = reader.fieldnames or []
        missing = [name for name in (reading.text_field, reading.label_field) if name not in header]
        if missing:
            raise KindlingError(
                f"{path}: the CSV header has columns {header}; {', '.join(map(repr, missing))} missing.",
                code="bad_csv_columns",
                hint="Name the text and label columns with the text_field and label_field hyperparameters.")
        for row in reader:
            yield as_labels(row.get(reading.label_field), reading), row.get(reading.text_field) or ""
    except csv.Error as exc:
        raise KindlingError(f"{path}, line {reader.line_num}: {exc}.", code="bad_record",
                            hint="Check the CSV quoting.") from None
