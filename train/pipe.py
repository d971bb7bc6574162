"""Pipe input mode: a channel arrives as a FIFO, /opt/ml/input/data/<channel>_<epoch>, read once in order.

kindling reads epoch 0 straight into preparation (normalization for a classifier, corpus preparation
for word vectors), so a large channel is never copied to disk before it is tokenized; training then
runs its epochs over the prepared file. With RecordWrapperType=RecordIO the stream is MXNet RecordIO
(magic 0xced7230a, a length word whose top 3 bits flag multi-part records, the payload padded to 4
bytes); for an augmented manifest SageMaker sends one record per attribute, in AttributeNames order —
BlazingText's ["source", "label"] — which are paired back into JSON Lines records here.
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Iterator

from container.errors import KindlingError
from train.limits import Limits, line_too_long

MAGIC = 0xCED7230A
LENGTH_MASK = (1 << 29) - 1


def records(stream, limit: int = Limits().max_line_bytes, where: str = "The RecordIO stream") -> Iterator[bytes]:
    """The payloads of a RecordIO stream (multi-part records joined); a record longer than `limit` (the line
    limit: a record becomes a line) is an error before its payload is read."""
    parts: list[bytes] = []
    size, number = 0, 0
    while True:
        header = stream.read(8)
        if not header:
            return
        if len(header) < 8:
            raise KindlingError("The RecordIO stream ends inside a record header.", code="bad_recordio",
                                hint="Check RecordWrapperType: the channel may not be RecordIO-wrapped.")
        magic, word = struct.unpack("<II", header)
        if magic != MAGIC:
            raise KindlingError(f"The RecordIO stream has a record without the magic number (0x{magic:08x}).",
                                code="bad_recordio", hint="Check RecordWrapperType: use None for plain files.")
        flag, length = word >> 29, word & LENGTH_MASK
        size += length
        if size > limit:
            raise line_too_long(f"{where}, record", number + 1, limit)
        payload = stream.read(length)
        stream.read((4 - length % 4) % 4)
        if flag in (0, 3):  # a whole record, or the last part of one
            yield b"".join(parts) + payload
            parts, size, number = [], 0, number + 1
        else:
            parts.append(payload)


def write_record(out, payload: bytes) -> None:
    """One whole record (what SageMaker writes; the tests' writer uses it)."""
    out.write(struct.pack("<II", MAGIC, len(payload)) + payload + b"\0" * ((4 - len(payload) % 4) % 4))


class _Lines(io.RawIOBase):
    """A byte stream of lines made from an iterator of lines (each ending in b"\\n"); closing it closes
    the FIFO they are read from."""

    def __init__(self, lines: Iterator[bytes], source):
        self._lines, self._pending, self._source = lines, b"", source

    def close(self) -> None:
        super().close()
        self._source.close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._lines)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


def _as_line(record: bytes) -> bytes:
    return record if record.endswith(b"\n") else record + b"\n"


def _paired(stream, attributes: tuple[str, ...], limit: int, where: str) -> Iterator[bytes]:
    values: list[bytes] = []
    for record in records(stream, limit, where):
        values.append(record)
        if len(values) == len(attributes):
            item = {}
            for name, raw in zip(attributes, values):
                text = raw.decode("utf-8", errors="replace")
                try:
                    item[name] = json.loads(text) if name != attributes[0] else text
                except ValueError:
                    item[name] = text
            yield json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n"
            values = []


class PipeSource:
    """A Pipe channel's epoch-0 FIFO, looking enough like a file for the channel readers."""

    def __init__(self, fifo: Path, wrapper: str | None, attributes: tuple[str, ...] | None,
                 max_record_bytes: int = Limits().max_line_bytes):
        self.fifo, self.wrapper, self.attributes = fifo, (wrapper or "None"), attributes
        self.max_record_bytes = max_record_bytes
        self.name = fifo.name
        self.suffixes = [".jsonl"] if self.recordio and attributes else [".txt"]
        self.suffix = self.suffixes[-1]

    @property
    def recordio(self) -> bool:
        return self.wrapper.lower() == "recordio"

    def is_file(self) -> bool:
        return True

    def is_dir(self) -> bool:
        return False

    def relative_to(self, _other) -> Path:
        return Path(self.name)

    def __str__(self) -> str:
        return f"{self.fifo} (Pipe mode{', RecordIO' if self.recordio else ''})"

    def __lt__(self, other) -> bool:
        return str(self) < str(other)

    def open_stream(self):
        raw = open(self.fifo, "rb")  # blocks until SageMaker (or the tests' writer) opens the other end
        if not self.recordio:
            return raw
        limit, where = self.max_record_bytes, str(self)
        lines = (_paired(raw, self.attributes, limit, where) if self.attributes
                 else (_as_line(r) for r in records(raw, limit, where)))
        return io.BufferedReader(_Lines(lines, raw), 1 << 20)


def pipe_source(data_dir: Path, channel: str, wrapper: str | None, attributes: tuple[str, ...] | None,
                limits: Limits = Limits()) -> PipeSource:
    fifo = data_dir / f"{channel}_0"
    if not fifo.exists():
        raise KindlingError(f"Channel {channel!r} is in Pipe mode but {fifo} does not exist.", code="missing_channel",
                            hint="SageMaker creates <channel>_<epoch> FIFOs in Pipe mode; outside SageMaker use File.")
    return PipeSource(fifo, wrapper, attributes, limits.max_line_bytes)
