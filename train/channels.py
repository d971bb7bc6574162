"""Read a channel directory of labelled text into one normalized fastText training file.

Every regular file under the channel (recursively, in name order; hidden files skipped) is read;
.gz and .bz2 files are decompressed on the fly; each file's format (fastText lines, JSON Lines /
augmented manifest, CSV) is decided in train/formats.py. Labels are kept as fastText labels and the
text goes through the shared tokenizer, so serving sees text exactly as training did.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from container.disk import is_write_error, write_error
from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.formats import Reading, format_of, records
from train.listing import regular_files
from train.limits import InputMeter, Limits, bounded_lines, line_blocks, open_metered

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


def channel_files(channel: str, directory: Path,
                  contents: str = "fastText-format files (`__label__<name> <text>` lines)") -> list[Path]:
    """A channel's regular files in name order, hidden ones (and those in hidden folders) left out;
    `contents` says what the mode expects there, for the sentences when it is missing or empty."""
    if not directory.is_dir():
        raise KindlingError(
            f"The {channel!r} channel is missing: {directory} does not exist.", code="missing_channel",
            hint=f"Give the training job a {channel!r} channel (input/data/{channel}/ with {contents}).",
        )
    files = regular_files(directory)
    if not files:
        raise KindlingError(f"The {channel!r} channel ({directory}) contains no files.", code="empty_channel",
                            hint=f"Put {contents} in it.")
    return files


def _decoded(path: Path, numbered_lines) -> Iterator[tuple[int, str]]:
    for number, raw in numbered_lines:
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise KindlingError(
                f"{path}, line {number}: byte {exc.start + 1} ({raw[exc.start:exc.start + 1]!r}) is not valid UTF-8.",
                code="bad_encoding",
                hint="Convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`).",
            ) from None


def _lines(path: Path, limits: Limits, meter: InputMeter | None = None) -> Iterator[tuple[int, str]]:
    with open_metered(path, meter) as handle:
        yield from _decoded(path, bounded_lines(handle, path, limits.max_line_bytes))


BLOCK_BYTES = 8 << 20
_ASCII_SPACE_BUT_SPACE_AND_NEWLINE = b"\t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # str.split() splits on these too
_NOT_SPACE_OR_NEWLINE = re.compile(r"[^\S \n]")
_NOT_WORD_SPACE_OR_NEWLINE = re.compile(r"[^\w \n]")  # text of only these is already in the regex form


def canonical_label_runs(block: bytes, prefix: str, tokenizer: Tokenizer) -> Counter | None:
    """How many lines carry each run of labels, if a block of complete fastText lines is already exactly
    what line-by-line normalization would write (labels first, single spaces, text in the tokenizer's
    form); None if it is not. Files written by fastText's own preprocessing usually are, and such a
    block is copied as it is: the same output several times faster (a property test compares).
    Raises UnicodeDecodeError for a block that is not UTF-8."""
    text = block.decode("utf-8")
    if not block.endswith(b"\n") or block.startswith((b" ", b"\n")) or b"  " in block.replace(b"\n", b" "):
        return None
    if block.isascii():
        if len(block.translate(None, _ASCII_SPACE_BUT_SPACE_AND_NEWLINE)) != len(block):
            return None
    elif _NOT_SPACE_OR_NEWLINE.search(text):
        return None
    if tokenizer.lowercase and text.lower() != text:
        return None
    if tokenizer.scheme != "whitespace" and _NOT_WORD_SPACE_OR_NEWLINE.search(text):
        return None
    marker = re.escape(prefix)
    runs = re.findall(rf"^((?:{marker}\S+ )+)(?!{marker})\S", text, re.MULTILINE)
    if len(runs) != block.count(b"\n"):  # a line without a label, or with nothing after its labels
        return None
    if sum(run.count(" ") for run in runs) != text.count(prefix):
        return None  # a label after the text, a bare prefix, or the prefix inside a word
    return Counter(runs)


class _Writer:
    """Writes normalized records and counts them."""

    def __init__(self, out, prepared: "PreparedChannel", tokenizer: Tokenizer):
        self.out, self.prepared, self.tokenizer = out, prepared, tokenizer

    def record(self, labels: list[str], raw: str) -> None:
        if not labels:
            self.prepared.skipped_unlabelled += 1
            return
        text = self.tokenizer.normalize(raw)
        if not text:
            self.prepared.skipped_empty += 1
            return
        self.out.write(" ".join(labels) + " " + text + "\n")
        self.prepared.examples += 1
        self.prepared.labels.update(labels)

    def canonical_block(self, block: bytes, runs: Counter) -> None:
        self.out.flush()
        self.out.buffer.write(block)
        for run, lines in runs.items():
            self.prepared.examples += lines
            for label in run.split():
                self.prepared.labels[label] += lines


def _fasttext_file(path: Path, writer: _Writer, reading: Reading, limits: Limits, meter: InputMeter) -> None:
    """fastText lines in blocks: canonical blocks are copied, the others normalized line by line."""
    with open_metered(path, meter) as handle:
        for first, chunk in line_blocks(handle, path, limits.max_line_bytes, BLOCK_BYTES):
            block = b"".join(chunk)
            try:
                runs = canonical_label_runs(block, reading.label_prefix, writer.tokenizer)
            except UnicodeDecodeError:
                runs = None
            if runs is not None:
                writer.canonical_block(block, runs)
            else:
                for labels, raw in records(path, _decoded(path, enumerate(chunk, start=first)), "fasttext", reading):
                    writer.record(labels, raw)


def prepare_labelled(channel: str, directory: Path, out_path: Path, tokenizer: Tokenizer,
                     reading: Reading = Reading(), content_type: str | None = None,
                     sources: list | None = None, limits: Limits = Limits()) -> PreparedChannel:
    """`sources` replaces the channel directory's files (a Pipe-mode FIFO, train/pipe.py)."""
    files = sources or channel_files(channel, directory)
    prepared = PreparedChannel(path=out_path, files=files)
    meter = InputMeter(f"the {channel!r} channel", limits)
    try:
        with open(out_path, "w", encoding="utf-8") as out:
            writer = _Writer(out, prepared, tokenizer)
            for path in files:
                file_format = format_of(path, content_type, reading.input_format)
                prepared.formats[file_format] = prepared.formats.get(file_format, 0) + 1
                if file_format == "fasttext":
                    _fasttext_file(path, writer, reading, limits, meter)
                    continue
                for labels, raw in records(path, _lines(path, limits, meter), file_format, reading):
                    writer.record(labels, raw)
    except OSError as exc:
        if is_write_error(exc):  # the normalized copy goes to scratch space: a full disk is not a read error
            raise write_error(out_path, exc) from exc
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
