"""Read a channel directory of labelled text into one normalized fastText training file.

Every regular file under the channel (recursively, in name order; hidden files skipped) is read;
.gz and .bz2 files are decompressed on the fly; each file's format (fastText lines, JSON Lines /
augmented manifest, CSV) is decided in train/formats.py. Labels are kept as fastText labels and the
text goes through the shared tokenizer, so serving sees text exactly as training did.
"""

from __future__ import annotations

import bz2
import gzip
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.formats import Reading, format_of, records

log = logging.getLogger(__name__)


@dataclass
class PreparedChannel:
    path: Path
    files: list[Path]
    examples: int = 0
    skipped_unlabelled: int = 0
    skipped_empty: int = 0
    labels: Counter = field(default_factory=Counter)
    formats: dict = field(default_factory=dict)


def channel_files(channel: str, directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise KindlingError(
            f"The {channel!r} channel is missing: {directory} does not exist.", code="missing_channel",
            hint=f"Give the training job a {channel!r} channel (input/data/{channel}/ with fastText-format files).",
        )
    files = sorted(p for p in directory.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts))
    if not files:
        raise KindlingError(f"The {channel!r} channel ({directory}) contains no files.", code="empty_channel",
                            hint="Put at least one file of `__label__<name> <text>` lines in it.")
    return files


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise KindlingError(
                    f"{path}, line {number}: byte {exc.start + 1} ({raw[exc.start:exc.start + 1]!r}) is not valid UTF-8.",
                    code="bad_encoding",
                    hint="Convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`).",
                ) from None


def prepare_labelled(channel: str, directory: Path, out_path: Path, tokenizer: Tokenizer,
                     reading: Reading = Reading(), content_type: str | None = None) -> PreparedChannel:
    files = channel_files(channel, directory)
    prepared = PreparedChannel(path=out_path, files=files)
    try:
        with open(out_path, "w", encoding="utf-8") as out:
            for path in files:
                file_format = format_of(path, content_type, reading.input_format)
                prepared.formats[file_format] = prepared.formats.get(file_format, 0) + 1
                for labels, raw in records(path, _lines(path), file_format, reading):
                    if not labels:
                        prepared.skipped_unlabelled += 1
                        continue
                    text = tokenizer.normalize(raw)
                    if not text:
                        prepared.skipped_empty += 1
                        continue
                    out.write(" ".join(labels) + " " + text + "\n")
                    prepared.examples += 1
                    prepared.labels.update(labels)
    except OSError as exc:
        raise KindlingError(f"Cannot read the {channel!r} channel: {exc}.", code="unreadable_channel",
                            hint="Check the files' permissions and that the volume is mounted.") from exc
    if prepared.examples == 0:
        names = ", ".join(str(p) for p in files[:3]) + (" ..." if len(files) > 3 else "")
        raise KindlingError(
            f"The {channel!r} channel has no labelled lines ({names}: {prepared.skipped_unlabelled} records without "
            f"a label ({reading.label_prefix} token or {reading.label_field!r} value), {prepared.skipped_empty} "
            f"with a label but no text).",
            code="no_labelled_lines",
            hint=f"fastText lines look like `{reading.label_prefix}positive a great film`; JSON Lines and CSV need "
                 f"the label_field and text_field hyperparameters to name your fields.",
        )
    if prepared.skipped_unlabelled or prepared.skipped_empty:
        log.warning("%s channel: skipped %d lines without a label and %d labelled lines without text",
                    channel, prepared.skipped_unlabelled, prepared.skipped_empty)
    log.info("%s channel: %d examples, %d labels from %d file(s) (%s)", channel, prepared.examples,
             len(prepared.labels), len(files), ", ".join(f"{n} {name}" for name, n in sorted(prepared.formats.items())))
    return prepared
