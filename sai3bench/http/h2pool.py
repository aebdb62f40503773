"""A few HTTP/2 connections to one endpoint, requests spread over the least-loaded one.

HTTP/2 multiplexes: a few connections carry what takes one HTTP/1.1 connection per request in
flight. Connections open lazily and a dead or draining one (a GOAWAY came) is replaced on the
next request; a stream the server provably never processed (H2Unprocessed) is sent again, up to
``MAX_SENDS`` times in all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from sai3bench.http.endpoint import DEFAULT_CONNECT_TIMEOUT, Endpoint
from sai3bench.http.h2conn import (
    DEFAULT_CONN_WINDOW,
    DEFAULT_STREAM_WINDOW,
    H2Connection,
    H2Response,
    H2Unprocessed,
    open_h2_connection,
)
from sai3bench.http.resends import note_resend
from sai3bench.outcome import Outcome
from sai3bench.payload import Payload

#: Sends of one request at most, while each attempt is provably unprocessed (H2Unprocessed).
MAX_SENDS: Final = 3


class H2Pool:
    """``connections`` HTTP/2 connections to one endpoint, opened lazily; each request goes to
    the least-loaded one. A dead connection is replaced on the next request."""

    def __init__(
        self,
        endpoint: Endpoint,
        connections: int = 2,
        *,
        authority: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        conn_window: int = DEFAULT_CONN_WINDOW,
        stream_window: int = DEFAULT_STREAM_WINDOW,
    ) -> None:
        self.endpoint = endpoint
        #: ``:authority`` of every request: a virtual-hosted bucket's name, else the endpoint's.
        self.authority = authority or endpoint.host_header
        self.size = max(1, connections)
        self.connect_timeout = connect_timeout
        self._windows = (conn_window, stream_window)
        self.conns: list[H2Connection] = []
        self._opening: asyncio.Future[H2Connection] | None = None
        self.opened = 0  # connections ever opened
        self.resent = 0  # requests sent again after the server refused them unprocessed

    def __repr__(self) -> str:
        live = [c for c in self.conns if not c.closed]
        streams = sum(len(c.streams) for c in live)
        return f"<H2Pool {self.endpoint.url} [{len(live)} conns, {streams} streams open]>"

    def _pick(self) -> H2Connection | None:
        """The least-loaded live connection; starts opening another when the pool is short of
        its size (None: none is live, await ``_opened()``). Not a coroutine: a coroutine
        made and run per op costs about 1 us."""
        best: H2Connection | None = None
        live = 0
        least = 0
        for c in self.conns:
            if not c.draining:  # closed, or a GOAWAY came: its open streams finish there
                live += 1
                load = len(c.streams) + len(c.queued)  # c.load, without a property call
                if best is None or load < least:
                    best, least = c, load
        if best is not None and (least == 0 or live >= self.size):
            return best
        if self._opening is None:
            self.conns = [c for c in self.conns if not c.closed]
            self._opening = asyncio.ensure_future(self._open())
        return best  # don't stall on a connect while a live connection can take it

    async def _opened(self) -> H2Connection:
        """The connection being opened (``_pick`` started it)."""
        opening = self._opening
        if opening is None:  # it finished (or failed) before we got here: pick again
            return self._pick() or await self._opened()
        return await asyncio.shield(opening)

    async def _open(self) -> H2Connection:
        try:
            conn_window, stream_window = self._windows
            conn = await open_h2_connection(
                self.endpoint,
                connect_timeout=self.connect_timeout,
                conn_window=conn_window,
                stream_window=stream_window,
                first=self.opened == 0,  # refused before any worked: a wrong port, said at once
            )
            self.conns.append(conn)
            self.opened += 1
            return conn
        finally:
            self._opening = None

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: Payload | None = None,
        *,
        keep_body: bool | int = False,
        timeout: float = 120.0,
    ) -> H2Response:
        """``H2Connection.request`` on the least-loaded connection. A stream the server
        provably did not process is sent again, at most ``MAX_SENDS`` times in all: the
        connection that refused it is draining or dead, so each resend goes elsewhere (when
        nginx's keepalive_requests ends both of a pool's connections at once, the first resend
        can land on the other one just before its own GOAWAY)."""
        authority = self.authority
        for attempt in range(MAX_SENDS):
            conn = self._pick() or await self._opened()
            try:
                return await conn.request(
                    method, target, authority, headers, body, keep_body=keep_body, timeout=timeout
                )
            except H2Unprocessed:
                if attempt == MAX_SENDS - 1:
                    raise
                self.resent += 1
                note_resend(Outcome.CONNECTION)  # counted as the op's retry (http/resends.py)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close every connection. A connection still opening is cancelled and waited for: its
        socket is closed before this returns (open_h2_connection closes what it made), not
        after the loop is gone ('unclosed transport' at teardown, seen with TLS connects)."""
        opening = self._opening
        if opening is not None:
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
        for c in self.conns:
            c.close()
        self.conns.clear()
