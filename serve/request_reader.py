"""Collect one whole HTTP/1.1 request from the bytes a client sends, before any thread is spent on it.

gunicorn's threaded worker hands a connection to a thread as soon as its first bytes arrive, and the
thread then blocks reading the rest: 8 clients that send their headers or their body slowly held all
2 x 4 threads, and /ping timed out for as long as they were held. The worker in serve/worker.py reads
every connection in its event loop instead, through this class, and only a request whose headers and
whole body are here reaches a thread. Reading it here also makes the body exact, whatever the framing:
more than the limit is a 413 (Content-Length or chunked), fewer bytes than Content-Length before the
client closes is a 400, and malformed chunking is a 400; gunicorn read a chunked body up to the limit
and passed the truncated body on as if it were whole.

The request handed on is rewritten to the one framing gunicorn's parser cannot misread: the headers as
sent, minus Transfer-Encoding and Expect (the 100 Continue was sent from here), plus the exact
Content-Length of the decoded body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from container.errors import KindlingError

HEADER_END = b"\r\n\r\n"
MAX_CHUNK_LINE = 4096  # a chunk-size line with extensions; a longer one is malformed, not slow
MAX_TRAILER_BYTES = 16384
SMALL_BODY_BYTES = 65536  # a request this small is quick to answer: it may use the reserved thread
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


@dataclass(frozen=True)
class ReadLimits:
    max_body_bytes: int
    max_header_bytes: int = 65536


class Request(NamedTuple):
    """One complete request, ready for gunicorn's parser, and what the client sent after it."""
    raw: bytes
    light: bool  # a GET/HEAD (/ping and friends) or a small body: quick, so it may use the reserved thread
    leftover: bytes


def refusal(status: int, code: str, message: str, hint: str) -> KindlingError:
    return KindlingError(message, code=code, status=status, hint=hint)


def too_large(limit: int) -> KindlingError:
    return refusal(413, "request_entity_too_large", f"The request body is over the limit of {limit} bytes.",
                   f"Send at most {limit} bytes per request (SAGEMAKER_MAX_PAYLOAD_IN_MB); split larger batches.")


def _bad_chunking(detail: str) -> KindlingError:
    return refusal(400, "bad_chunked_body", f"The chunked request body is malformed: {detail}.",
                   "Send a valid Transfer-Encoding: chunked body, or send Content-Length and the body as is.")


class _Head(NamedTuple):
    method: bytes
    block: bytes  # the request line and header lines, without the blank line that ends them
    content_length: int | None
    chunked: bool
    expects_continue: bool


CONTENT_LENGTH = b"\r\ncontent-length:"


def _parse_head(block: bytes) -> _Head:
    """Only what framing needs; gunicorn's parser still validates the whole head afterwards. Most requests
    name neither Transfer-Encoding nor Expect and carry one Content-Length: they take the short way."""
    method = block[:block.find(b" ")]
    lower = block.lower()
    if b"transfer-encoding" not in lower and b"expect" not in lower:
        at = lower.find(CONTENT_LENGTH)
        if at < 0:
            return _Head(method, block, None, False, False)
        if lower.find(CONTENT_LENGTH, at + 1) < 0:
            end = lower.find(b"\r\n", at + 2)
            return _Head(method, block, _length({block[at + len(CONTENT_LENGTH):end if end > 0 else None].strip()}),
                         False, False)
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    expects_continue = False
    lines = block.split(b"\r\n")
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue  # malformed: left for gunicorn's parser to refuse
        name = name.strip().lower()
        if name == b"content-length":
            lengths.add(value.strip())
        elif name == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",")]
        elif name == b"expect":
            expects_continue = value.strip().lower() == b"100-continue" and not lines[0].endswith(b"HTTP/1.0")
    if codings and lengths:
        raise refusal(400, "bad_framing", "The request has both Transfer-Encoding and Content-Length.",
                      "Send one of them, not both.")
    if codings and codings[-1] != b"chunked":
        raise refusal(400, "bad_framing", f"Transfer-Encoding {b', '.join(codings).decode('latin-1')!r} is not "
                      "supported.", "Send Transfer-Encoding: chunked, or Content-Length.")
    return _Head(method, block, _length(lengths) if lengths else None, bool(codings), expects_continue)


def _length(values: set[bytes]) -> int:
    value = next(iter(values))
    if len(values) > 1 or not value.isdigit() or len(value) > 18:
        raise refusal(400, "bad_framing", "The request's Content-Length is not one whole number.",
                      "Send one Content-Length with the body's size in bytes.")
    return int(value)


class RequestReader:
    """Feed it bytes as they arrive; it returns the Request once it is whole, or raises the refusal."""

    def __init__(self, limits: ReadLimits, data: bytes = b""):
        self.limits = limits
        self.buffer = bytearray(data)
        self.head: _Head | None = None
        self.head_size = 0
        self.body = bytearray()  # the decoded body of a chunked request
        self.position = 0  # where chunk decoding continues in buffer
        self.chunk_left = -1  # -1: a chunk-size line comes next; -2: the trailer; n: n data bytes left
        self.continue_due = False

    @property
    def started(self) -> bool:
        return bool(self.buffer) or self.head is not None

    @property
    def reading_body(self) -> bool:
        return self.head is not None

    def feed(self, data: bytes = b"") -> Request | None:
        self.buffer += data
        if self.head is None:
            if not self._read_head():
                return None
        if self.head.chunked:
            return self._read_chunks()
        return self._read_sized()

    def incomplete(self) -> KindlingError:
        """The refusal for a client that closed its side before the request was whole."""
        if self.head is None:
            return refusal(400, "incomplete_request", "The connection was closed in the middle of the request "
                           "headers.", "Send the whole request before closing the connection.")
        if self.head.chunked:
            got = f"{len(self.body)} bytes of a chunked body without its last (zero-size) chunk"
        else:
            got = f"{len(self.buffer) - self.head_size} of the {self.head.content_length} bytes its Content-Length " \
                  "announced"
        return refusal(400, "incomplete_body", f"The request body ended early: {got}.",
                       "Send the whole body before closing (a body shorter than its Content-Length is never "
                       "predicted).")

    def _read_head(self) -> bool:
        end = self.buffer.find(HEADER_END)
        if end < 0:
            if len(self.buffer) > self.limits.max_header_bytes:
                raise refusal(431, "headers_too_large", f"The request headers are over {self.limits.max_header_bytes}"
                              " bytes.", "Send shorter headers.")
            return False
        if end > self.limits.max_header_bytes:
            raise refusal(431, "headers_too_large", f"The request headers are over {self.limits.max_header_bytes} "
                          "bytes.", "Send shorter headers.")
        self.head = _parse_head(bytes(self.buffer[:end]))
        self.head_size = end + len(HEADER_END)
        self.position = self.head_size
        if self.head.content_length is not None and self.head.content_length > self.limits.max_body_bytes:
            raise too_large(self.limits.max_body_bytes)
        self.continue_due = self.head.expects_continue
        return True

    def _read_sized(self) -> Request | None:
        length = self.head.content_length or 0
        end = self.head_size + length
        if len(self.buffer) < end:
            return None
        if self.head.expects_continue:
            raw = self._rewritten(bytes(self.buffer[self.head_size:end]))
        else:
            raw = bytes(self.buffer[:end])
        return Request(raw, length <= SMALL_BODY_BYTES, bytes(self.buffer[end:]))

    def _line(self, limit: int, too_long: str) -> bytes | None:
        """The next CRLF-ended line of the chunked framing (position moves past it), None until it is here."""
        end = self.buffer.find(b"\r\n", self.position)
        if end < 0:
            if len(self.buffer) - self.position > limit:
                raise _bad_chunking(too_long)
            return None
        line, self.position = bytes(self.buffer[self.position:end]), end + 2
        return line

    def _read_chunks(self) -> Request | None:
        buffer, limit = self.buffer, self.limits.max_body_bytes
        while True:
            if self.chunk_left == -1:
                line = self._line(MAX_CHUNK_LINE, "a chunk-size line is too long")
                if line is None:
                    break
                size_text = line.split(b";", 1)[0].strip()
                if not _HEX.fullmatch(size_text):
                    raise _bad_chunking(f"{size_text[:20]!r} is not a chunk size in hexadecimal")
                self.chunk_left = int(size_text, 16)
                if self.chunk_left == 0:
                    self.chunk_left = -2
                elif len(self.body) + self.chunk_left > limit:
                    raise too_large(limit)
            elif self.chunk_left == -2:
                line = self._line(MAX_TRAILER_BYTES, "the trailer is too long")
                if line is None:
                    break
                if not line:  # the end of the trailer: the request is whole
                    leftover = bytes(buffer[self.position:])
                    return Request(self._rewritten(bytes(self.body)), len(self.body) <= SMALL_BODY_BYTES, leftover)
            else:
                available = len(buffer) - self.position
                if available < self.chunk_left + 2:
                    take = min(available, self.chunk_left)
                    self.body += buffer[self.position:self.position + take]
                    self.position += take
                    self.chunk_left -= take
                    break
                end = self.position + self.chunk_left
                self.body += buffer[self.position:end]
                if buffer[end:end + 2] != b"\r\n":
                    raise _bad_chunking("a chunk is longer than its size says")
                self.position = end + 2
                self.chunk_left = -1
        if self.position > 65536:  # keep only what is still to be decoded
            del buffer[:self.position]
            self.position = 0
            self.head_size = 0
        return None

    def _rewritten(self, body: bytes) -> bytes:
        request_line, *headers = self.head.block.split(b"\r\n")
        kept = [line for line in headers
                if line.partition(b":")[0].strip().lower() not in (b"transfer-encoding", b"content-length", b"expect")]
        lines = [request_line, *kept, b"Content-Length: %d" % len(body)]
        return b"\r\n".join(lines) + HEADER_END + body
