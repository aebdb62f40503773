"""Socket-level details shared by every connection kind (HTTP/1.1, HTTP/2, the mock server)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from typing import cast

from sai3bench.outcome import OpError, Outcome


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Small requests must not wait for Nagle's ACK timer (40 ms on Linux)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.contextmanager
def connect_errors(url: str) -> Iterator[None]:
    """Map what a connect can raise to an OpError, once, with the endpoint in the message."""
    try:
        yield
    except TimeoutError:
        raise OpError(Outcome.TIMEOUT, f"connect to {url} timed out") from None
    except ssl.SSLError as exc:
        raise OpError(Outcome.CONNECTION, f"TLS with {url} failed: {exc}") from None
    except OSError as exc:
        raise OpError(Outcome.CONNECTION, f"cannot connect to {url}: {exc}") from None


class ReceiveBufferProtocol(asyncio.BufferedProtocol):
    """A stream protocol that reads into one buffer allocated once and reused for every read.

    Subclasses (the HTTP/1.1 and HTTP/2 connections, the mock server) parse each read before
    the next one arrives, so ``get_buffer`` can hand out the same view every time.
    """

    __slots__ = ("_buffer", "_view", "transport")

    def __init__(self, size: int) -> None:
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they implement it.
        self.transport = cast(asyncio.Transport, transport)
        set_nodelay(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view
