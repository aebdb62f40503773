"""sans-IO HTTP/1.1 core: every parser case runs through feeding.feed_three_ways."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.http.errors import ProtocolError
from sai3bench.http.h1 import RequestParser, ResponseParser
from sai3bench.http.h1build import RequestTemplate, build_request_head, build_response_head
from tests.unit.http.feeding import feed_three_ways, reject_three_ways

S3_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"x-amz-id-2: eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran\r\n"
    b"x-amz-request-id: 318BC8BC148832E5\r\n"
    b"Date: Mon, 3 Oct 2016 22:32:00 GMT\r\n"
    b'ETag: "fba9dede5f27731c9771645a39863328"\r\n'
    b"Accept-Ranges: bytes\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Server: AmazonS3\r\n"
)


def response(keep_body: bool | int = False, method_is_head: bool = False, max_head: int = 65536):
    def make() -> ResponseParser:
        p = ResponseParser(max_head=max_head)
        p.start(keep_body=keep_body, method_is_head=method_is_head)
        return p

    return make


def request(keep_body: bool | int = True):
    def make() -> RequestParser:
        p = RequestParser()
        p.start(keep_body=keep_body)
        return p

    return make


def chunked(body: bytes, sizes: list[int], fmt: str = "{:x}", ext: str = "") -> bytes:
    out, pos = [], 0
    for n in sizes:
        out.append(f"{fmt.format(n)}{ext}\r\n".encode() + body[pos : pos + n] + b"\r\n")
        pos += n
    assert pos == len(body)
    return b"".join(out) + b"0\r\n"


# ---------------------------------------------------------------- Content-Length


@pytest.mark.parametrize("size", [0, 1, 70_000])
def test_content_length_bodies(size):
    body = random.Random(size).randbytes(size)
    data = S3_HEAD + f"Content-Length: {size}\r\n\r\n".encode() + body
    snap = feed_three_ways(response(keep_body=True), data)
    assert snap["status"] == 200
    assert snap["reason"] == b"OK"
    assert snap["content_length"] == size
    assert snap["body"] == body
    assert snap["body_received"] == size
    assert snap["keep_alive"] is True
    assert (b"etag", b'"fba9dede5f27731c9771645a39863328"') in snap["headers"]


def test_get_counts_and_drops_by_default():
    data = S3_HEAD + b"Content-Length: 1024\r\n\r\n" + b"x" * 1024
    snap = feed_three_ways(response(), data)
    assert (snap["body"], snap["body_received"]) == (b"", 1024)


@pytest.mark.parametrize(("keep", "kept"), [(False, 0), (True, 300), (0, 0), (10, 10), (300, 300)])
def test_keep_body_modes(keep, kept):
    body = bytes(range(256)) + b"z" * 44
    for data in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + body,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(body, [7, 93, 200])
        + b"\r\n",
    ):
        snap = feed_three_ways(response(keep_body=keep), data)
        assert snap["body"] == body[:kept]
        assert snap["body_received"] == 300


@pytest.mark.parametrize(
    ("status", "keep", "error_body", "kept"),
    [
        (200, False, 10, 0),  # a 2xx body is only counted
        (206, 5, 10, 5),  # keep_body still holds for a 2xx
        (404, False, 10, 10),  # an error keeps its first error_body bytes
        (503, 20, 10, 20),  # and never fewer than keep_body
        (301, True, 10, 300),
    ],
)
def test_error_body_keeps_only_an_error_s_body(status, keep, error_body, kept):
    body = bytes(range(256)) + b"z" * 44
    for data in (
        f"HTTP/1.1 {status} X\r\nContent-Length: 300\r\n\r\n".encode() + body,
        f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + chunked(body, [7, 293])
        + b"\r\n",
    ):

        def make() -> ResponseParser:
            p = ResponseParser()
            p.start(keep_body=keep, error_body=error_body)
            return p

        snap = feed_three_ways(make, data)
        assert (snap["body"], snap["body_received"]) == (body[:kept], 300)


def test_an_error_body_is_a_new_buffer_not_one_a_caller_holds():
    p = ResponseParser()
    p.start()
    held = p.body
    p.start(error_body=10)
    p.feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc")
    assert (bytes(p.body), held) == (b"abc", bytearray())


@pytest.mark.parametrize(
    ("fields", "keep_alive"),
    [
        (b"Connection: keep-alive\r\n", True),
        (b"Connection:close\r\n", False),
        (b"Connection:  close  \r\n", False),
        (b"Connection: upgrade\r\n", True),  # HTTP/1.1: persistent unless "close"
        (b"Connection: keep-alive\r\nConnection: close\r\n", False),  # repeated: careful way
        (b"Connection: keep-alive, close\r\n", False),  # a list: the careful way
        (b"Connection-X: close\r\n", True),  # another field
    ],
)
def test_connection_field_one_token_and_careful_way_agree(fields, keep_alive):
    """The one-token shortcut of the framing read (a single Connection field, no comma) and
    the careful way (repeated fields, lists) give the same answer."""
    data = b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\nok"
    assert feed_three_ways(response(), data)["keep_alive"] is keep_alive


@pytest.mark.parametrize(
    "fields",
    [
        b"Content-Length: 2\r\nContent-Length: 3\r\n",
        b"Content-Length: 2, 3\r\n",
        b"Content-Length: x\r\n",
        b"Content-Length : 2\r\n",
        b"Connection : close\r\nContent-Length: 2\r\n",
    ],
)
def test_framing_shortcuts_still_refuse_bad_framing(fields):
    reject_three_ways(
        response(), b"HTTP/1.1 200 OK\r\n" + fields + b"\r\nok", match="Content-Length|colon|bad"
    )


_FRAMINGS = [
    b"Content-Length: 2\r\nConnection: keep-alive\r\n",
    b"Content-Length: 3\r\nConnection: keep-alive\r\n",
    b"Content-Length: 2\r\nConnection: close\r\n",
    b"Content-Length: 2\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 2\r\nContent-Length: 3\r\n",  # refused
    b"Content-Length : 2\r\n",  # refused
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(range(len(_FRAMINGS))), min_size=1, max_size=8))
def test_a_reused_parser_reads_each_head_s_framing_afresh(order):
    """The remembered framing of the last response never leaks into the next one: a parser
    reused over any sequence of heads answers as a fresh parser does for each."""
    reused = ResponseParser()
    for i in order:
        fields = _FRAMINGS[i]
        body = (
            b"2\r\nok\r\n0\r\n\r\n"
            if b"chunked" in fields
            else b"oka"[: 3 if b" 3" in fields else 2]
        )
        data = b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n" + body
        fresh = ResponseParser()
        results = []
        for p in (fresh, reused):
            p.start(keep_body=True)
            try:
                p.feed(data)
                results.append((p.done, bytes(p.body), p.keep_alive, p.content_length, p.chunked))
            except ProtocolError as exc:
                results.append(str(exc))
        assert results[0] == results[1]


def test_keep_body_negative_refused():
    with pytest.raises(ValueError, match="keep_body"):
        ResponseParser().start(keep_body=-1)


def test_start_does_not_clear_a_body_the_caller_holds():
    p = ResponseParser()
    p.start(keep_body=True)
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    held = p.body
    p.start()
    assert held == b"abc"
    assert p.body == b""


# ---------------------------------------------------------------- chunked


@pytest.mark.parametrize("ext", [' ;name=value;q="a b"', ";long=" + "v" * 600])
def test_chunked_several_chunks_extensions_trailers_upper_hex(ext):
    body = random.Random(7).randbytes(5000)
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(body, [1, 255, 4000, 744], fmt="{:X}", ext=ext)
        + b"X-Checksum: abc\r\nx-more:  2 \r\n\r\n"
    )
    snap = feed_three_ways(response(keep_body=True), data)
    assert snap["chunked"] is True
    assert snap["content_length"] is None
    assert snap["body"] == body
    assert snap["trailers"] == [(b"x-checksum", b"abc"), (b"x-more", b"2")]


def test_chunked_empty_body_and_gzip_then_chunked():
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"
    )
    snap = feed_three_ways(response(keep_body=True), data)
    assert (snap["chunked"], snap["body"], snap["trailers"]) == (True, b"", None)


# ---------------------------------------------------------------- no body, interim, close


def test_head_response_has_no_body_whatever_content_length_says():
    data = S3_HEAD + b"Content-Length: 5000\r\n\r\n"
    snap = feed_three_ways(response(method_is_head=True), data)
    assert (snap["content_length"], snap["body_received"]) == (5000, 0)


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
def test_204_304_have_no_body(status):
    data = b"HTTP/1.1 " + status + b"\r\nContent-Length: 77\r\nETag: x\r\n\r\n"
    snap = feed_three_ways(response(keep_body=True), data)
    assert snap["body_received"] == 0
    assert snap["status"] == int(status[:3])


def test_interim_responses_are_skipped_and_recorded():
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    snap = feed_three_ways(response(keep_body=True), data)
    assert (snap["interim"], snap["status"], snap["body"]) == (103, 201, b"ok")
    assert snap["headers"] == [(b"content-length", b"2")]


def test_headers_read_before_the_head_is_complete():
    p = ResponseParser()
    p.feed(b"HTTP/1.1 200 OK\r\nETag: x\r\n")
    assert p.headers == []
    p.feed(b"Content-Length: 0\r\n\r\n")
    assert p.headers.get("etag") == b"x"


def test_interim_seen_before_final_head():
    p = ResponseParser()
    assert p.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2") == 35
    assert (p.interim_status, p.head_done, p.has_started) == (100, False, True)


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\n", False),
        (b"HTTP/1.0 200 OK\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n", True),
    ],
)
def test_keep_alive(head, keep_alive):
    snap = feed_three_ways(response(), head + b"Content-Length: 3\r\n\r\nabc")
    assert snap["keep_alive"] is keep_alive


def test_read_until_close():
    data = b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\n" + b"body bytes until the peer closes"
    snap = feed_three_ways(response(keep_body=True), data, eof=True)
    assert snap["body"] == b"body bytes until the peer closes"
    assert (snap["keep_alive"], snap["content_length"]) == (False, None)


def test_eof_mid_message_and_before_message():
    p = ResponseParser()
    assert not p.has_started
    with pytest.raises(ProtocolError, match="before a message"):
        p.feed_eof()
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
    with pytest.raises(ProtocolError, match="mid-message"):
        p.feed_eof()


# ---------------------------------------------------------------- header syntax and bounds


def test_odd_spacing_and_repeated_names():
    data = (
        b"HTTP/1.1 404 \r\nX-A:tight\r\nx-a:   spaced   \r\nX-B:\t tabbed\t\r\nX-Empty:\r\n"
        b"content-length-x: 9\r\nContent-Length:0\r\n\r\n"
    )
    snap = feed_three_ways(response(), data)
    assert snap["reason"] == b""
    assert snap["content_length"] == 0
    assert snap["headers"][:4] == [
        (b"x-a", b"tight"),
        (b"x-a", b"spaced"),
        (b"x-b", b"tabbed"),
        (b"x-empty", b""),
    ]
    p = response()()
    p.feed(data)
    assert p.headers.get_all("X-A") == [b"tight", b"spaced"]
    assert p.headers.get(b"X-B") == b"tabbed"
    assert p.headers.get("missing") is None


@pytest.mark.parametrize("extra", [0, 1])
def test_head_size_bound(extra):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: "
    bound = 8000
    data = head + b"p" * (bound - len(head) - 4 + extra) + b"\r\n\r\n"
    assert len(data) == bound + extra
    if extra:
        reject_three_ways(response(max_head=bound), data, "head too large")
    else:
        assert feed_three_ways(response(max_head=bound), data)["status"] == 200


def test_default_head_bound_fed_byte_by_byte_is_linear():
    # 64 KiB one byte at a time: a rescan from the start on every byte would take minutes.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: "
    data = head + b"p" * (65536 - len(head) - 4) + b"\r\n\r\n"
    assert len(data) == 65536
    assert feed_three_ways(response(), data)["headers"][1][0] == b"x-pad"
    reject_three_ways(response(), data[:-4] + b"p\r\n\r\n", "head too large")


class _CountingBuffer(bytearray):
    """Counts the bytes each find() call looks at."""

    scanned = 0

    def find(self, sub, start=0, *args):
        self.scanned += len(self) - start
        return super().find(sub, start, *args)


def test_partial_head_is_not_rescanned():
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: " + b"p" * 20_000 + b"\r\n\r\n"
    p = ResponseParser()
    p._acc = spy = _CountingBuffer()  # white box: the parser's stash for partial lines
    for i in range(len(data)):
        p.feed(data[i : i + 1])
    assert p.done
    assert spy.scanned < 4 * len(data)  # rescanning from 0 each byte would be ~len**2 / 2


# ---------------------------------------------------------------- malformed input

MALFORMED = [
    (b"HTTP/1.1 20 OK\r\n\r\n", "status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
    (b"HTTP/2.0 200 OK\r\n\r\n", "status line"),
    (b"HTTP/1.1 abc OK\r\n\r\n", "status line"),
    (b"HTTP/1.1 099 Low\r\n\r\n", "status line"),
    (b"ICY 200 OK\r\n\r\n", "status line"),
    (b"\r\n\r\n", "status line"),
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "conflicting"),
    (b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", "whitespace before colon"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding\t: chunked\r\n\r\n", "whitespace before colon"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "does not end in chunked"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "does not end in chunked"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "both"),
    (b"HTTP/1.1 200 OK\r\nX: a\nContent-Length: 3\r\n\r\n", "bare CR"),
    (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare CR"),
    (b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", "NUL"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk-size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", "chunk-size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\n", "chunk-size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5_0\r\n", "chunk-size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", "chunk-size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nb\r\n", "chunk-size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 16 + b"\r\n", "chunk-size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", "CRLF"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"e" * 5000, "too long"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Name: x\r\n\r\n", "header"),
]


@pytest.mark.parametrize(
    ("data", "match"), MALFORMED, ids=[f"{i}-{m}" for i, (_, m) in enumerate(MALFORMED)]
)
def test_malformed_responses(data, match):
    reject_three_ways(response(), data, match)


def test_identical_content_length_list_is_accepted():
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\ncontent-length: 3\r\n\r\nabc"
    assert feed_three_ways(response(keep_body=True), data)["body"] == b"abc"


@pytest.mark.parametrize("line", [b"Bad Name: x", b" folded: x", b"no-colon", b": empty"])
def test_malformed_field_line_raises_when_headers_are_read(line):
    p = response()()
    p.feed(b"HTTP/1.1 200 OK\r\nX: 1\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n")
    assert p.done
    with pytest.raises(ProtocolError, match="header line"):
        _ = p.headers


# ---------------------------------------------------------------- request parser


def test_request_without_body():
    data = b"GET /bucket/key%20x?partNumber=1 HTTP/1.1\r\nHost: s3\r\nRange: bytes=0-9\r\n\r\n"
    snap = feed_three_ways(request(), data)
    assert (snap["method"], snap["target"], snap["version"]) == (
        "GET",
        "/bucket/key%20x?partNumber=1",
        "1.1",
    )
    assert snap["content_length"] == 0
    assert snap["headers"] == [(b"host", b"s3"), (b"range", b"bytes=0-9")]


@pytest.mark.parametrize("keep", [True, False, 4])
def test_request_with_body(keep):
    data = b"PUT /b/k HTTP/1.1\r\nHost: s3\r\nContent-Length: 10\r\n\r\n0123456789"
    snap = feed_three_ways(request(keep_body=keep), data)
    assert snap["body"] == {True: b"0123456789", False: b"", 4: b"0123"}[keep]
    assert snap["body_received"] == 10


def test_request_chunked_and_expect_continue():
    data = (
        b"PUT /b/k HTTP/1.1\r\nHost: s3\r\nExpect: 100-Continue\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"hello world", [5, 6]) + b"\r\n"
    )
    snap = feed_three_ways(request(), data)
    assert (snap["expect"], snap["chunked"], snap["body"]) == (True, True, b"hello world")


def test_request_expect_continue_seen_before_body():
    p = RequestParser()
    head = b"PUT /k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    assert p.feed(head) == len(head)
    assert (p.head_done, p.expect_continue, p.done) == (True, True, False)


def test_pipelined_requests():
    reqs = [
        b"PUT /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
        b"GET /b HTTP/1.1\r\n\r\n",
        b"DELETE /c HTTP/1.1\r\nConnection: close\r\n\r\n",
    ]
    for r in reqs:  # each one alone, three ways, with the next request trailing
        feed_three_ways(request(), r)
    buf = memoryview(b"".join(reqs))
    p, seen = RequestParser(), []
    while buf:
        p.start()
        n = p.feed(buf)
        assert p.done
        seen.append((p.method, p.target, bytes(p.body), p.keep_alive))
        buf = buf[n:]
    assert seen == [
        ("PUT", "/a", b"hi", True),
        ("GET", "/b", b"", True),
        ("DELETE", "/c", b"", False),
    ]


def test_request_http10():
    snap = feed_three_ways(request(), b"GET / HTTP/1.0\r\n\r\n")
    assert (snap["version"], snap["keep_alive"]) == ("1.0", False)


@pytest.mark.parametrize(
    "data",
    [
        b"GET /a b HTTP/1.1\r\n\r\n",
        b"GET  /a HTTP/1.1\r\n\r\n",
        b"G(T /a HTTP/1.1\r\n\r\n",
        b"GET /a HTTP/1.2\r\n\r\n",
        b"GET /a\x7f HTTP/1.1\r\n\r\n",
        b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
        b"GET /a HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ],
)
def test_malformed_requests(data):
    reject_three_ways(request(), data, "request line|Content-Length")


# ---------------------------------------------------------------- builders


HEADERS = [("x-amz-date", "20240101T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]


def test_build_request_head_bytes():
    head = build_request_head("PUT", "/b/k", "s3:9000", HEADERS, content_length=5)
    assert head == (
        b"PUT /b/k HTTP/1.1\r\nHost: s3:9000\r\nx-amz-date: 20240101T000000Z\r\n"
        b"x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nContent-Length: 5\r\n\r\n"
    )
    assert build_request_head("GET", "/", "h") == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.mark.parametrize("bad", ["a\r\nX-Evil: 1", "a\n", "a\r", "a\0"])
@pytest.mark.parametrize("where", ["method", "target", "host", "name", "value"])
def test_build_request_head_refuses_injection(bad, where):
    args = {"method": "GET", "target": "/k", "host": "h", "name": "X-A", "value": "v"}
    args[where] = bad
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        build_request_head(
            args["method"], args["target"], args["host"], [(args["name"], args["value"])]
        )
    template = RequestTemplate("GET", "h")
    if where in ("target", "name", "value"):
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            template.head(args["target"], [(args["name"], args["value"])])
    else:
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            RequestTemplate(args["method"], args["host"], [("X-A", "v")])


def test_build_request_head_other_refusals():
    with pytest.raises(ValueError, match="space"):
        build_request_head("GET", "/a b", "h")
    with pytest.raises(ValueError, match="negative"):
        build_request_head("PUT", "/a", "h", content_length=-1)
    with pytest.raises(ValueError):  # UnicodeEncodeError: the target must be percent-encoded
        build_request_head("GET", "/é", "h")


def test_template_matches_build_request_head():
    t = RequestTemplate("PUT", "s3:9000", [("User-Agent", "sai3bench")])
    extra = [("Authorization", "AWS4-HMAC-SHA256 Credential=x, Signature=y")]
    for n in (None, 0, 1024):
        want = build_request_head(
            "PUT", "/b/k?x=1", "s3:9000", [("User-Agent", "sai3bench"), *extra], n
        )
        assert t.head("/b/k?x=1", extra, n) == want
    assert repr(t) == "<RequestTemplate PUT 1 fixed headers>"


def test_build_response_head():
    assert build_response_head(200, "OK") == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert (
        build_response_head(299, "Odd", [("A", "b")], None) == b"HTTP/1.1 299 Odd\r\nA: b\r\n\r\n"
    )
    with pytest.raises(ValueError, match="three digits"):
        build_response_head(1000, "x")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        build_response_head(200, "OK\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        build_response_head(200, "OK", [("X", "a\nb")])


def test_round_trip_request():
    headers = [("X-Amz-Date", "20240101T000000Z"), ("x-a", "1"), ("X-A", "two words")]
    data = build_request_head("PUT", "/b/k%2F?uploads", "s3:9000", headers, 4) + b"body"
    snap = feed_three_ways(request(), data)
    assert (snap["method"], snap["target"], snap["body"]) == ("PUT", "/b/k%2F?uploads", b"body")
    sent = [("host", "s3:9000"), *((k.lower(), v) for k, v in headers), ("content-length", "4")]
    assert snap["headers"] == [(k.encode(), v.encode()) for k, v in sent]


def test_round_trip_response():
    headers = [("ETag", '"abc"'), ("x-amz-request-id", "42")]
    data = build_response_head(404, "Not Found", headers, 3) + b"<E>"
    snap = feed_three_ways(response(keep_body=True), data)
    assert (snap["status"], snap["reason"], snap["body"]) == (404, b"Not Found", b"<E>")
    assert snap["headers"] == [
        (b"etag", b'"abc"'),
        (b"x-amz-request-id", b"42"),
        (b"content-length", b"3"),
    ]


def test_repr_names_the_state():
    p = ResponseParser()
    assert repr(p) == "<ResponseParser head status=0 body=0/None>"
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
    assert repr(p) == "<ResponseParser body-length status=200 body=2/4>"
    assert p.state == "body-length"
    q = RequestParser()
    q.feed(b"GET /x HTTP/1.1\r\n\r\n")
    assert repr(q) == "<RequestParser done GET /x body=0/0>"


# ---------------------------------------------------------------- property: feed boundaries

_TOKEN = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=1, max_size=12
)
_VALUE = st.text("".join(map(chr, range(0x21, 0x7F))) + " \t", max_size=40)


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(
    status=st.sampled_from([200, 201, 206, 403, 404, 500, 503]),
    fields=st.lists(st.tuples(_TOKEN, _VALUE), max_size=8),
    body=st.binary(max_size=3000),
    is_chunked=st.booleans(),
    data=st.data(),
)
def test_any_feed_boundaries_give_the_same_message(status, fields, body, is_chunked, data):
    fields = [
        (n, v)
        for n, v in fields
        if n.lower() not in ("content-length", "transfer-encoding", "connection")
    ]
    if is_chunked:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=6)))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if b > a]
        head = build_response_head(status, "R", [*fields, ("Transfer-Encoding", "chunked")], None)
        msg = (
            head
            + chunked(body, sizes, fmt=data.draw(st.sampled_from(["{:x}", "{:X}", "{:04x}"])))
            + b"\r\n"
        )
    else:
        msg = build_response_head(status, "R", fields, len(body)) + body
    splits = sorted(data.draw(st.lists(st.integers(0, len(msg)), max_size=8)))
    stream = msg + NEXT
    p = ResponseParser()
    p.start(keep_body=True)
    pos = 0
    for stop in [*splits, len(stream)]:
        while pos < stop and not p.done:
            pos += p.feed(memoryview(stream)[pos:stop])
    assert pos == len(msg)
    assert (p.status, p.chunked, bytes(p.body), p.body_received) == (
        status,
        is_chunked,
        body,
        len(body),
    )
    want = [(n.lower().encode(), v.strip(" \t").encode()) for n, v in fields]
    assert list(p.headers)[: len(want)] == want


NEXT = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
