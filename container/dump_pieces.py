"""Dump pieces: byte ranges of MediaWiki dump files that start and end at page boundaries, so that N
processes (or machines) can read one dump at once and each piece still parses as a whole dump.

A plain .xml file is cut near i * size / N, each cut moved forward to the next `<page` tag (a literal
`<` cannot occur in XML text, so the match is always a tag). A piece other than the first is fed to the
unchanged parser as the file's header (everything before its first page: <mediawiki> and <siteinfo>),
its own bytes, and `</mediawiki>` unless it ends the file.

A multistream .bz2 (Wikimedia's `...-pages-articles-multistream.xml.bz2`: bz2 streams of 100 pages each,
concatenated after one stream holding the header) is cut the same way at stream starts: near i * size / N,
the next stream whose text begins with a `<page` tag. The stream starts come from the index Wikimedia
publishes next to the dump (`...-multistream-index.txt.bz2`, lines `offset:page_id:title`) when it is
there, else from a scan for the stream magic `BZh1`-`BZh9` followed by the first block's magic
(0x314159265359). Every cut is checked by decompressing from it, so a false match inside compressed data,
or an index of another dump, never cuts a page. A piece other than the first gets the header (the text
before the first page) and `</mediawiki>` around its decompressed streams. A single-stream .bz2, a .gz
and a Pipe-mode channel are one piece each.

Pieces are ordered by (file order, start offset): reading them in that order reads the pages in dump
order, however many pieces there are. Compressed data that ends early or is corrupt, in any piece, is
named with the file and the compressed byte offset where it broke (and for .bz2 the offset of the stream
it broke in), instead of an internal error deep in the XML parser or pages silently missing.
"""

from __future__ import annotations

import bisect
import bz2
import gzip
import io
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from container.compressed import open_binary
from container.errors import KindlingError

log = logging.getLogger(__name__)
MIN_PIECE_BYTES = 1 << 18  # smaller pieces cost more in per-piece work than they save
_PAGE = re.compile(rb"<page[\s>]")
_BLOCK = 1 << 20
_END = b"</mediawiki>\n"
# A bz2 stream: "BZh", the block size 1-9, then its first block's magic, byte-aligned at a stream start
# (bzip2 1.0 format; the multistream layout: https://en.wikipedia.org/wiki/Wikipedia:Database_download,
# "Should I get multistream?").
_STREAM = re.compile(rb"BZh[1-9]1AY&SY")
_STREAM_LENGTH = 10
_COMPRESSED_READ = 1 << 16
# A bz2 block holds at most 900 kB before compression and gives its first byte only once it is whole:
# a true stream start has given text within this much compressed data.
_CHECK_LIMIT = 2 << 20
_HEADER_LIMIT = 16 << 20  # text before the first page (the siteinfo is a few kB)
_PROBE = 32 << 20  # a multistream file has its second stream start within this; else it is read as one piece
_BROKEN_HINT = ("The file is incomplete or damaged: download it again and compare its checksum with the one "
                "published next to it (Wikimedia: <wiki>-<date>-sha1sums.txt), or test it with bzip2 -t / gzip -t.")


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
    """Plain XML, or a .bz2 that may be multistream (looked at when it is cut)."""
    return getattr(path, "open_stream", None) is None and path.suffix != ".gz" and path.is_file()


def index_of(dump: Path) -> Path | None:
    """Where Wikimedia puts a multistream dump's index: `X-multistream.xml.bz2` -> `X-multistream-index.txt.bz2`,
    `X-multistream3.xml-p1p9.bz2` -> `X-multistream-index3.txt-p1p9.bz2`, any other `X.xml.bz2` -> `X-index.txt.bz2`."""
    name = dump.name
    part = re.fullmatch(r"(.*multistream)(\d*)\.xml(.*)\.bz2", name)
    if part:
        return dump.with_name(f"{part.group(1)}-index{part.group(2)}.txt{part.group(3)}.bz2")
    return dump.with_name(name[:-len(".xml.bz2")] + "-index.txt.bz2") if name.endswith(".xml.bz2") else None


def indexes(files: list[Path]) -> set[Path]:
    """The files that are the multistream index of another of the files: read for the cuts, never as a dump."""
    names = set(files)
    return {index for index in map(index_of, files) if index is not None and index in names}


def pieces(files: list[Path], count: int, min_bytes: int = MIN_PIECE_BYTES) -> list[Piece]:
    """About `count` pieces over the files (in their order), no piece under min_bytes unless a file is."""
    skipped = indexes(files)
    files = [path for path in files if path not in skipped]
    sizes = [path.stat().st_size if splittable(path) else 0 for path in files]
    target = max(min_bytes, -(-sum(sizes) // max(count, 1)), 1)
    out: list[Piece] = []
    for path, size in zip(files, sizes):
        split = _split_bz2 if path.suffix == ".bz2" else _split
        out += split(path, size, -(-size // target)) if size > target else [Piece(path)]
    return out


def _split(path: Path, size: int, count: int) -> list[Piece]:
    with open(path, "rb") as handle:
        first = _next_page(handle, 0, size)
        if first is None:
            return [Piece(path)]
        handle.seek(0)
        header = handle.read(first)
        cuts = [first] + [_next_page(handle, size * i // count, size) for i in range(1, count)]
    return _cut(path, cuts, header)


def _cut(path: Path, cuts: list[int | None], header: bytes) -> list[Piece]:
    """Pieces from the first page's offset and the other cuts: the first piece starts the file."""
    starts = sorted({cut for cut in cuts if cut is not None})
    bounds = [0] + starts[1:]
    return [Piece(path, start, end, header if start else b"")
            for start, end in zip(bounds, bounds[1:] + [None])]


def _next_page(handle: IO[bytes], offset: int, size: int) -> int | None:
    """The offset of the first `<page` tag at or after offset, None when there is none."""
    return next(_matches(handle, _PAGE, len(b"<page>"), offset, size), None)


def _matches(handle: IO[bytes], pattern: re.Pattern, width: int, low: int, high: int) -> Iterator[int]:
    """Where `pattern` (`width` bytes long) starts in file[low:high], read a block at a time: a match across two
    blocks is found, none twice. The caller may move the handle between matches."""
    position, carry = low, b""
    while position < high:
        handle.seek(position)
        block = handle.read(min(_BLOCK, high - position))
        if not block:
            return
        data, base = carry + block, position - len(carry)
        position += len(block)
        for match in pattern.finditer(data):
            yield base + match.start()
        carry = data[-(width - 1):]


# --- multistream .bz2 ------------------------------------------------------------------------------

PAGE_STREAM, OTHER_STREAM = "page", "other"


def stream_at(handle: IO[bytes], offset: int) -> str | None:
    """What starts at `offset`: PAGE_STREAM (a bz2 stream whose text begins with a `<page` tag, after blanks),
    OTHER_STREAM (a bz2 stream that begins with other text: the header, the footer, a cut inside a page), or None
    (not a stream: the magic bytes by chance inside compressed data, or a stream too damaged to give text)."""
    handle.seek(offset)
    decompressor, text, read = bz2.BZ2Decompressor(), b"", 0
    while read < _CHECK_LIMIT and not decompressor.eof and len(text.lstrip()) < 6:
        data = handle.read(_COMPRESSED_READ)
        if not data:
            break
        read += len(data)
        try:
            text += decompressor.decompress(data, 4096)
        except (OSError, EOFError):
            return None
    if not text:
        return None
    return PAGE_STREAM if _PAGE.match(text.lstrip()) else OTHER_STREAM


def _split_bz2(path: Path, size: int, count: int) -> list[Piece]:
    """Cuts at page streams near i * size / count; one piece when the file is not multistream."""
    with open(path, "rb") as handle:
        header = _bz2_header(handle)
        if header is None:
            return [Piece(path)]
        text, second = header
        lows = [size * i // count for i in range(1, count)]
        index = index_of(path)
        found = _from_index(handle, index, [1] + lows) if index is not None and index.is_file() else None
        how = f"the index {index}"
        if found is None:
            how = "a scan for stream starts"
            first = second if second is not None and stream_at(handle, second) == PAGE_STREAM else \
                next_page_stream(handle, 1, min(size, _PROBE))
            if first is None:
                return [Piece(path)]  # a single stream (or a multistream file not cut at pages)
            found = [first] + [next_page_stream(handle, low, high) for low, high in zip(lows, lows[1:] + [size])]
    out = _cut(path, found, text)
    log.info("%s: %d piece(s) at bz2 stream starts, from %s", path, len(out), how)
    return out


def _bz2_header(handle: IO[bytes]) -> tuple[bytes, int | None] | None:
    """The text before the first page (what a later piece is fed first) and, when the first stream ends before any
    page (Wikimedia's layout: a stream of its own for the siteinfo), the offset where the next stream starts."""
    handle.seek(0)
    decompressor, text, position = bz2.BZ2Decompressor(), b"", 0
    while len(text) < _HEADER_LIMIT:
        data = handle.read(_COMPRESSED_READ)
        if not data:
            return None
        position += len(data)
        try:
            text += decompressor.decompress(data)
        except (OSError, EOFError):
            return None  # read as one piece, whose reader names the damage
        found = _PAGE.search(text)
        if found:
            return text[:found.start()], None
        if decompressor.eof:
            return text, position - len(decompressor.unused_data)
    return None


def next_page_stream(handle: IO[bytes], low: int, high: int) -> int | None:
    """The first stream start in [low, high): the offset when its text begins a page, None when the first true
    stream there begins with something else (so a file of arbitrary streams costs one check per cut)."""
    for offset in _matches(handle, _STREAM, _STREAM_LENGTH, low, high):
        kind = stream_at(handle, offset)
        if kind is not None:
            return offset if kind == PAGE_STREAM else None
    return None


def _from_index(handle: IO[bytes], index: Path, lows: list[int]) -> list[int | None] | None:
    """For each low, the first stream the index lists at or after it; None (scan instead, with a warning) when the
    index cannot be read or one of its offsets is not a page stream of this dump (the index of another dump)."""
    try:
        found = _index_offsets(index, lows)
    except (OSError, EOFError, ValueError) as exc:
        log.warning("%s: the index cannot be read (%s); scanning the dump for stream starts instead", index, exc)
        return None
    if found[0] is None:
        log.warning("%s lists no stream; scanning the dump for stream starts instead", index)
        return None
    size = handle.seek(0, io.SEEK_END)
    if any(offset is not None and offset >= size for offset in found):
        log.warning("%s lists streams past the end of %s (%d bytes): is the dump complete?", index, handle.name, size)
        found = [offset if offset is not None and offset < size else None for offset in found]
    for offset in sorted({offset for offset in found if offset is not None}):
        if stream_at(handle, offset) != PAGE_STREAM:
            log.warning("%s does not match %s (no page stream at byte %d); scanning the dump for stream starts "
                        "instead", index, handle.name, offset)
            return None
    return found


def _index_offsets(index: Path, lows: list[int]) -> list[int | None]:
    """The index's first offset at or after each of the (ascending) lows. Its lines are sorted by offset, so only
    the chunks holding an answer are parsed, and the reading stops after the last one."""
    found: list[int | None] = []
    carry = b""
    with bz2.open(index, "rb") as lines:
        while len(found) < len(lows):
            chunk = lines.read(_BLOCK)
            if not chunk:
                break
            data = carry + chunk
            complete = data.rfind(b"\n") + 1
            data, carry = data[:complete], data[complete:]
            if not data:
                continue
            offsets: list[int] = []
            last = int(data[data.rfind(b"\n", 0, len(data) - 1) + 1:].split(b":", 1)[0])
            while len(found) < len(lows) and last >= lows[len(found)]:
                offsets = offsets or [int(line.split(b":", 1)[0]) for line in data.splitlines() if line]
                found.append(offsets[bisect.bisect_left(offsets, lows[len(found)])])
    return found + [None] * (len(lows) - len(found))


# --- reading ---------------------------------------------------------------------------------------

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
        data = self._body(size)
        if data:
            return data
        data, self.suffix = self.suffix[:size], self.suffix[size:]
        return data

    def _body(self, size: int) -> bytes:
        if self.left is None or self.left > 0:
            data = self.handle.read(size if self.left is None else min(size, self.left))
            if data:
                if self.left is not None:
                    self.left -= len(data)
                return data
            self.left = 0
        return b""

    def close(self) -> None:
        self.handle.close()
        super().close()


def _broken(path: Path, offset: int, size: int, reason: object, stream: int | None = None) -> KindlingError:
    within = f", in the bz2 stream that starts at byte {stream}" if stream is not None else ""
    return KindlingError(
        f"{path}: the compressed data ends or breaks at byte {offset} of {size}{within} ({reason}).",
        code="truncated_input", hint=_BROKEN_HINT)


class _Bz2Stream(_PieceStream):
    """header + the decompressed streams of file[start:end] + </mediawiki>. Stricter than bz2.BZ2File, which
    ends quietly at bytes after a stream that do not start another: in a multistream file that would drop the
    pages of every later stream, so any such bytes are damage, named like a truncation."""

    def __init__(self, piece: Piece):
        super().__init__(piece)
        self.path, self.size = piece.path, piece.path.stat().st_size
        self.position = self.stream = piece.start
        self.left = (piece.end if piece.end is not None else self.size) - piece.start
        self.decompressor, self.fed = bz2.BZ2Decompressor(), False

    def _compressed(self) -> bytes:
        data = self.handle.read(min(_COMPRESSED_READ, self.left)) if self.left > 0 else b""
        self.left -= len(data)
        self.position += len(data)
        return data

    def _body(self, size: int) -> bytes:
        while True:
            if self.decompressor.eof:  # the next stream starts with what the last one left
                rest = self.decompressor.unused_data
                self.stream = self.position - len(rest)
                self.decompressor, self.fed = bz2.BZ2Decompressor(), False
                data = rest or self._compressed()
            elif self.decompressor.needs_input:
                data = self._compressed()
                if not data and self.fed:
                    raise _broken(self.path, self.position, self.size, "the data ends inside a stream", self.stream)
            else:
                data = b""
            if not data and not self.fed:
                return b""  # every stream of the piece is read
            self.fed = True
            try:
                text = self.decompressor.decompress(data, size)
            except (OSError, EOFError) as exc:
                raise _broken(self.path, self.position, self.size, exc, self.stream) from None
            if text:
                return text


class _Checked(io.RawIOBase):
    """A decompressing .gz stream whose failures name the file and the compressed byte where they happened."""

    def __init__(self, path: Path):
        self.path, self.raw = path, open(path, "rb")
        self.size = path.stat().st_size
        self.stream = gzip.GzipFile(fileobj=self.raw)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self.stream.readinto(buffer)
        except (EOFError, OSError, zlib.error) as exc:
            raise _broken(self.path, self.raw.tell(), self.size, exc) from None

    def close(self) -> None:
        self.stream.close()
        self.raw.close()
        super().close()


def open_piece(piece: Piece) -> IO[bytes]:
    """A binary stream of the piece that wikipedia.pages() reads like a whole dump."""
    if getattr(piece.path, "open_stream", None) is not None:
        return open_binary(piece.path)
    if piece.path.suffix == ".bz2":
        return io.BufferedReader(_Bz2Stream(piece), _BLOCK)
    if piece.path.suffix == ".gz":
        return io.BufferedReader(_Checked(piece.path), _BLOCK)
    return io.BufferedReader(_PieceStream(piece), _BLOCK)
