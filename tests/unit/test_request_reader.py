"""serve/request_reader.py: a request is handed on only when it is whole, and exactly as long as it says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from container.errors import KindlingError
from serve.request_reader import SMALL_BODY_BYTES, ReadLimits, RequestReader

LIMITS = ReadLimits(max_body_bytes=1000, max_header_bytes=2000)
HEAD = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"


def chunked(body: bytes, size: int) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def feed_all(data: bytes, step: int = 0):
    reader = RequestReader(LIMITS)
    if not step:
        return reader, reader.feed(data)
    request = None
    for start in range(0, len(data), step):
        request = reader.feed(data[start:start + step])
        if request is not None:
            break
    return reader, request


def refusal(data: bytes) -> KindlingError:
    with pytest.raises(KindlingError) as caught:
        RequestReader(LIMITS).feed(data)
    return caught.value


def test_a_sized_request_is_passed_on_byte_for_byte_with_what_follows_it():
    raw = HEAD + b"Content-Length: 5\r\n\r\nhello"
    reader, request = feed_all(raw + b"GET /ping")
    assert request.raw == raw and request.leftover == b"GET /ping"


def test_nothing_is_handed_on_before_the_last_byte():
    raw = HEAD + b"Content-Length: 5\r\n\r\nhello"
    reader = RequestReader(LIMITS)
    assert all(reader.feed(raw[i:i + 1]) is None for i in range(len(raw) - 1))
    assert reader.feed(raw[-1:]).raw == raw


def test_gets_and_small_bodies_are_light_large_ones_are_not():
    _, request = feed_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert request.light and request.raw.endswith(b"\r\n\r\n")
    reader = RequestReader(ReadLimits(max_body_bytes=10 ** 6))
    assert reader.feed(HEAD + b"Content-Length: %d\r\n\r\n" % (SMALL_BODY_BYTES + 1) + b"x" * (SMALL_BODY_BYTES + 1)).light \
        is False
    chunked_head = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    assert RequestReader(LIMITS).feed(chunked_head + chunked(b"x" * 100, 30)).light


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=1000), size=st.integers(1, 300), step=st.integers(1, 97))
def test_a_chunked_body_becomes_the_same_body_with_its_length(body, size, step):
    data = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, size)
    _, request = feed_all(data + b"NEXT", step)
    head, _, decoded = request.raw.partition(b"\r\n\r\n")
    assert decoded == body
    assert b"Content-Length: %d" % len(body) in head and b"chunked" not in head.lower()
    assert request.leftover.startswith(b"NEXT"[:len(request.leftover)])


def test_a_declared_length_over_the_limit_is_refused_from_the_headers():
    error = refusal(HEAD + b"Content-Length: 1001\r\n\r\n")
    assert (error.status, error.code) == (413, "request_entity_too_large") and "1000 bytes" in error.message


def test_a_chunked_body_over_the_limit_is_refused_not_cut():
    error = refusal(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"x" * 1001, 100))
    assert error.status == 413


def test_malformed_chunk_sizes_are_a_400():
    for bad in (b"zz\r\nxx\r\n0\r\n\r\n", b"-1\r\n", b"3\r\nabcdef\r\n", b"1" * 5000):
        error = refusal(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + bad)
        assert (error.status, error.code) == (400, "bad_chunked_body"), bad[:10]


def test_ambiguous_framing_is_a_400():
    assert refusal(HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").code == "bad_framing"
    assert refusal(HEAD + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n").code == "bad_framing"
    assert refusal(HEAD + b"Content-Length: -3\r\n\r\n").code == "bad_framing"
    assert refusal(HEAD + b"Transfer-Encoding: gzip\r\n\r\n").code == "bad_framing"


def test_a_body_shorter_than_its_length_is_incomplete():
    reader = RequestReader(LIMITS)
    assert reader.feed(HEAD + b"Content-Length: 10\r\n\r\nhello") is None
    error = reader.incomplete()
    assert (error.status, error.code) == (400, "incomplete_body") and "5 of the 10 bytes" in error.message


def test_headers_over_the_limit_are_refused_before_their_end():
    assert refusal(b"GET / HTTP/1.1\r\nX: " + b"a" * 2100).status == 431


def test_expect_continue_is_answered_here_and_not_passed_on():
    reader = RequestReader(LIMITS)
    assert reader.feed(HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n") is None
    assert reader.continue_due
    request = reader.feed(b"ok")
    assert b"expect" not in request.raw.lower() and request.raw.endswith(b"Content-Length: 2\r\n\r\nok")
