"""Feed one message to a parser every way a socket could deliver it, and check they agree.

The ways: the whole input as bytes; one byte at a time as memoryview slices (the parser must not
finish before the last byte); the input followed by the next message's bytes, as a bytearray
and as a memoryview, which must stop exactly at the boundary and leave the rest intact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sai3bench.http.errors import ProtocolError
from sai3bench.http.h1 import RequestParser, ResponseParser

Parser = ResponseParser | RequestParser

NEXT_RESPONSE = b"HTTP/1.1 204 No Content\r\nx-next: 1\r\n\r\n"
NEXT_REQUEST = b"DELETE /next HTTP/1.1\r\nHost: h\r\n\r\n"


def snapshot(p: Parser) -> dict[str, Any]:
    """Every observable field of a parser that has finished a message."""
    snap = {
        "done": p.done,
        "head_done": p.head_done,
        "version": p.version,
        "headers": list(p.headers),
        "content_length": p.content_length,
        "chunked": p.chunked,
        "keep_alive": p.keep_alive,
        "body": bytes(p.body),
        "body_received": p.body_received,
        "trailers": None if p.trailers is None else list(p.trailers),
    }
    if isinstance(p, ResponseParser):
        snap |= {"status": p.status, "reason": p.reason, "interim": p.interim_status}
    else:
        snap |= {"method": p.method, "target": p.target, "expect": p.expect_continue}
    return snap


def _finish(p: Parser, eof: bool) -> dict[str, Any]:
    if eof:
        assert not p.done
        p.feed_eof()
    assert p.done, p
    assert p.feed(b"more") == 0  # a finished parser takes nothing until start()
    return snapshot(p)


def feed_three_ways(
    make: Callable[[], Parser], data: bytes, *, trailing: bytes | None = None, eof: bool = False
) -> dict[str, Any]:
    """Parse ``data`` (one whole message) from fresh ``make()`` parsers; return the snapshot.

    ``eof``: the message is delimited by the connection closing, so bytes after it would be
    body; the trailing ways then feed the input in two pieces and close instead.
    """
    if trailing is None:
        trailing = NEXT_REQUEST if isinstance(make(), RequestParser) else NEXT_RESPONSE
    snaps = []

    p = make()
    assert p.feed(data) == len(data)
    snaps.append(_finish(p, eof))

    p = make()
    view = memoryview(bytearray(data))
    for i in range(len(data)):
        assert not p.done, f"done early at byte {i} of {len(data)}"
        assert p.feed(view[i : i + 1]) == 1, f"byte {i} not consumed"
    snaps.append(_finish(p, eof))

    for kind in (bytearray, memoryview):
        p = make()
        if eof:
            half = len(data) // 2
            buf = bytearray(data)
            got = p.feed(kind(buf[:half])) + p.feed(kind(buf[half:]))
            assert got == len(data)
        else:
            buf = bytearray(data + trailing)
            got = p.feed(kind(buf))
            assert got == len(data), f"consumed {got}, message is {len(data)}"
            assert buf[got:] == trailing
        snaps.append(_finish(p, eof))

    ways = ("bytewise", "trailing bytearray", "trailing view")
    for way, snap in zip(ways, snaps[1:], strict=True):
        assert snap == snaps[0], way
    return snaps[0]


def reject_three_ways(make: Callable[[], Parser], data: bytes, match: str) -> None:
    """Every way of feeding ``data`` raises ProtocolError matching ``match``."""
    with pytest.raises(ProtocolError, match=match):
        make().feed(data)
    p = make()
    with pytest.raises(ProtocolError, match=match):  # raised at some byte
        for i in range(len(data)):
            p.feed(data[i : i + 1])
    with pytest.raises(ProtocolError, match=match):
        make().feed(memoryview(bytearray(data + NEXT_RESPONSE)))
