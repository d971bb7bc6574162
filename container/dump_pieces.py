"""Dump pieces: byte ranges of MediaWiki dump files that start and end at page boundaries, so that N
processes (or machines) can read one dump at once and each piece still parses as a whole dump.

A plain .xml file is cut near i * size / N, each cut moved forward to the next `<page` tag (a literal
`<` cannot occur in XML text, so the match is always a tag). A piece other than the first is fed to the
unchanged parser as the file's header (everything before its first page: <mediawiki> and <siteinfo>),
its own bytes, and `</mediawiki>` unless it ends the file. Compressed files (.bz2, .gz: one stream
cannot be entered in the middle) and Pipe-mode channels are one piece each; a complete English dump
should therefore come as the part files Wikimedia publishes or as plain XML.

Pieces are ordered by (file order, start offset): reading them in that order reads the pages in dump
order, however many pieces there are. A compressed file that ends early or is corrupt is named with
the byte offset where it broke, instead of an internal error deep in the XML parser.
"""

from __future__ import annotations

import bz2
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from container.compressed import open_binary
from container.errors import KindlingError

MIN_PIECE_BYTES = 1 << 18  # smaller pieces cost more in per-piece work than they save
_PAGE = re.compile(rb"<page[\s>]")
_BLOCK = 1 << 20
_END = b"</mediawiki>\n"


@dataclass(frozen=True)
class Piece:
    path: Path
    start: int = 0
    end: int | None = None  # None: to the end of the file
    header: bytes = b""  # fed before a piece that does not start the file

    @property
    def where(self) -> str:
        return str(self.path) if self.start == 0 and self.end is None else \
            f"{self.path} (bytes {self.start}-{self.end if self.end is not None else 'end'})"


def splittable(path: Path) -> bool:
    return getattr(path, "open_stream", None) is None and path.suffix not in (".gz", ".bz2") and path.is_file()


def pieces(files: list[Path], count: int, min_bytes: int = MIN_PIECE_BYTES) -> list[Piece]:
    """About `count` pieces over the files (in their order), no piece under min_bytes unless a file is."""
    sizes = [path.stat().st_size if splittable(path) else 0 for path in files]
    target = max(min_bytes, -(-sum(sizes) // max(count, 1)), 1)
    out: list[Piece] = []
    for path, size in zip(files, sizes):
        out += _split(path, size, -(-size // target)) if size > target else [Piece(path)]
    return out


def _split(path: Path, size: int, count: int) -> list[Piece]:
    with open(path, "rb") as handle:
        first = _next_page(handle, 0, size)
        if first is None:
            return [Piece(path)]
        handle.seek(0)
        header = handle.read(first)
        cuts = [first] + [_next_page(handle, size * i // count, size) for i in range(1, count)]
    starts = sorted({cut for cut in cuts if cut is not None})
    bounds = [0] + starts[1:]
    return [Piece(path, start, end, header if start else b"")
            for start, end in zip(bounds, bounds[1:] + [None])]


def _next_page(handle: IO[bytes], offset: int, size: int) -> int | None:
    """The offset of the first `<page` tag at or after offset, None when there is none."""
    carry = b""
    position = offset
    handle.seek(offset)
    while position < size:
        block = handle.read(_BLOCK)
        if not block:
            break
        found = _PAGE.search(carry + block)
        if found:
            return position - len(carry) + found.start()
        carry = block[-5:]
        position += len(block)
    return None


class _PieceStream(io.RawIOBase):
    """header + file[start:end] + </mediawiki>, read lazily: a piece is never held in memory."""

    def __init__(self, piece: Piece):
        self.handle = open(piece.path, "rb")
        self.handle.seek(piece.start)
        self.left = (piece.end - piece.start) if piece.end is not None else None
        self.prefix = piece.header
        self.suffix = _END if piece.end is not None else b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._next(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _next(self, size: int) -> bytes:
        if self.prefix:
            data, self.prefix = self.prefix[:size], self.prefix[size:]
            return data
        if self.left is None or self.left > 0:
            data = self.handle.read(size if self.left is None else min(size, self.left))
            if data:
                if self.left is not None:
                    self.left -= len(data)
                return data
            self.left = 0
        data, self.suffix = self.suffix[:size], self.suffix[size:]
        return data

    def close(self) -> None:
        self.handle.close()
        super().close()


class _Checked(io.RawIOBase):
    """A decompressing stream whose failures name the file and the compressed byte where they happened."""

    def __init__(self, path: Path):
        self.path, self.raw = path, open(path, "rb")
        self.size = path.stat().st_size
        self.stream = bz2.BZ2File(self.raw) if path.suffix == ".bz2" else gzip.GzipFile(fileobj=self.raw)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self.stream.readinto(buffer)
        except (EOFError, OSError, zlib.error) as exc:
            raise KindlingError(
                f"{self.path}: the compressed data ends or breaks at byte {self.raw.tell()} of {self.size} ({exc}).",
                code="truncated_input",
                hint="The file is incomplete or damaged: download it again and check it with bzip2 -t or gzip -t."
            ) from None

    def close(self) -> None:
        self.stream.close()
        self.raw.close()
        super().close()


def open_piece(piece: Piece) -> IO[bytes]:
    """A binary stream of the piece that wikipedia.pages() reads like a whole dump."""
    if getattr(piece.path, "open_stream", None) is not None:
        return open_binary(piece.path)
    if piece.path.suffix in (".gz", ".bz2"):
        return io.BufferedReader(_Checked(piece.path), _BLOCK)
    return io.BufferedReader(_PieceStream(piece), _BLOCK)
