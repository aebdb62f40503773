"""What every mock-server dialect (S3, GCS, Azure) shares: the response shape and the app contract.

A dialect is a pure function of a parsed request (``App.handle``); the network side
(mock/server.py) owns sockets, pipelining and fault injection, and never knows which cloud it is
imitating. ``App.error`` lets injected faults come back in the dialect's own error format.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol

Headers = Sequence[tuple[bytes, bytes]]


class Response(NamedTuple):
    """A status, headers, and a body that is either bytes or views of stored data."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | Iterator[memoryview]
    length: int


class App(Protocol):
    """One dialect: answers a request from its store."""

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        """One request. ``body`` is what was kept (empty in sink mode); ``size`` its length."""
        ...

    def fault(self, status: int, target: str, headers: Headers) -> Response:
        """The error response an injected fault of ``status`` returns in this dialect."""
        ...


def header(headers: Headers, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case), or None."""
    for n, value in headers:
        if n == name:
            return value
    return None
