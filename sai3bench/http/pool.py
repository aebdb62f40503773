"""A per-endpoint pool of keep-alive HTTP/1.1 connections.

The pool decides under no lock (one event loop) and does I/O after: ``acquire`` takes an idle
connection, or opens one while under ``max_size``, or queues. ``release`` hands a reusable
connection to the first waiter or back to the idle list; a dead one frees a slot, and a
waiter then gets a fresh connection. Connects are bounded by ``connect_timeout``.

Stale keep-alives: a server may close an idle connection at any time, and its close can cross
our next request on the wire. ``send`` therefore sends a request once more, on a fresh
connection, when all of these hold (the rule of RFC 9112 section 9.3.1):

- the connection was reused (a fresh one that fails is no stale keep-alive);
- the failure is CONNECTION (reset or closed) and no byte of a response arrived;
- the method is idempotent: GET, HEAD, PUT or DELETE. Sending one twice leaves the store as
  sending it once, so it may be resent even when the reset came after the request was fully
  written and the server may have acted on it (a PUT of the same bytes to the same key, a
  DELETE whose second try then finds nothing). A POST (DeleteObjects, CreateMultipartUpload,
  a resumable-upload session) is never resent: its failure is the op's.

Each resend is counted here (``resent``) and told to the op's runner (http/resends.py), which
counts it as a retry by outcome: a reset answered by a resend is a retry, never a clean success.
The op's latency spans both sends.
"""

from __future__ import annotations

import asyncio
import collections

from sai3bench.http.endpoint import DEFAULT_CONNECT_TIMEOUT, Endpoint
from sai3bench.http.protocol import DeadlineWatch, H1Connection
from sai3bench.http.resends import note_resend
from sai3bench.http.sockets import open_connection
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload


class H1Pool:
    """Connections to one endpoint; at most ``max_size`` open (or opening) at once."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        max_size: int,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self.endpoint = endpoint
        self.max_size = max(1, max_size)
        self.connect_timeout = connect_timeout
        self._idle: list[H1Connection] = []
        self._waiters: collections.deque[asyncio.Future[H1Connection]] = collections.deque()
        self._open = 0  # open or opening
        self.opened = 0  # connections ever opened
        self.resent = 0  # requests sent again after a stale keep-alive
        self._watch: DeadlineWatch | None = None  # made on the first connect (needs the loop)

    def __repr__(self) -> str:
        busy = self._open - len(self._idle)
        return (
            f"<H1Pool {self.endpoint.url} [{busy} busy, {len(self._idle)} idle, "
            f"{len(self._waiters)} waiting]>"
        )

    async def acquire(self, wait: float | None = None) -> H1Connection:
        """An idle connection, a new one, or the next one released. Waits for a release at
        most ``wait`` seconds (None: no bound) and then raises OpError(TIMEOUT): every busy
        connection's request has its own deadline, so a longer wait means one was leaked."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
            self._open -= 1
        if self._open < self.max_size:
            self._open += 1
            try:
                return await self._connect()
            except BaseException:
                self._open -= 1
                self._wake_with_new()  # the freed slot is a waiter's to try
                raise
        waiter: asyncio.Future[H1Connection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(wait):
                return await waiter
        except (asyncio.CancelledError, TimeoutError) as exc:
            # Cancelled (or timed out) after a release handed us a connection: give it on, or
            # its slot leaks.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())
            if isinstance(exc, TimeoutError):
                why = f"no free connection to {self.endpoint.url} within {wait:g} s: {self!r}"
                raise OpError(Outcome.TIMEOUT, why) from None
            raise

    def release(self, conn: H1Connection) -> None:
        """Give a connection back. Reusable if the response was read whole and keep-alive."""
        parser = conn.parser
        if conn.closed or not parser.done or not parser.keep_alive:
            if not conn.closed:
                conn.close()
            self._open -= 1
            self._wake_with_new()
            return
        self._give(conn)

    def _give(self, conn: H1Connection) -> None:
        """A usable connection goes to the first live waiter, else to the idle list."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _wake_with_new(self) -> None:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if self._waiters and self._open < self.max_size:
            waiter = self._waiters.popleft()
            self._open += 1
            asyncio.get_running_loop().create_task(self._connect_for(waiter))

    async def _connect_for(self, waiter: asyncio.Future[H1Connection]) -> None:
        try:
            conn = await self._connect()
        except BaseException as exc:
            self._open -= 1
            if not waiter.done():
                waiter.set_exception(exc)
            # The next waiter tries too: a dead server then fails each of them at once (its
            # connect is refused) instead of leaving them to their wait bound.
            self._wake_with_new()
            return
        if waiter.done():
            self.release(conn)
        else:
            waiter.set_result(conn)

    async def _connect(self) -> H1Connection:
        loop = asyncio.get_running_loop()
        ep = self.endpoint
        watch = self._watch
        if watch is None:
            watch = self._watch = DeadlineWatch(loop)
        conn = await open_connection(
            lambda: H1Connection(loop, ep.url, watch, ep.first_byte_timeout),
            ep,
            self.connect_timeout,
            first=self.opened == 0,
        )
        self.opened += 1
        return conn

    async def warm(self, connections: int) -> None:
        """Open connections up to ``connections`` (at most ``max_size``) before the clock
        starts, and keep them idle. A connect that fails is left for the ops to meet."""
        want = min(connections, self.max_size) - self._open
        if want <= 0:
            return
        self._open += want
        results = await asyncio.gather(
            *(self._connect() for _ in range(want)), return_exceptions=True
        )
        for conn in results:
            if isinstance(conn, H1Connection):
                self._give(conn)  # fresh: no response read yet, so not release()
            else:
                self._open -= 1

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        self._waiters.clear()

    def take_idle(self) -> H1Connection | None:
        """An idle connection that looks alive, or None (then ``acquire``): the no-wait path
        ``send`` and HttpClient.request start with."""
        idle = self._idle
        if idle and not idle[-1].closed:
            return idle.pop()
        return None

    async def send(
        self,
        head: bytes,
        body: Payload | None = None,
        method_is_head: bool = False,
        keep_body: bool | int = False,
        timeout: float = 120.0,
        error_body: int = 0,
    ) -> H1Connection:
        """Send one request and read its whole response; returns the connection, still held.

        The caller reads ``conn.parser`` and then must ``release(conn)``. Raises OpError. A
        stale keep-alive (a failure on a reused connection; see the module doc) is sent once
        more on a fresh connection. HttpClient.request passes the arguments by position (the
        hot path: keywords cost a dict per call).
        """
        resent = False
        while True:
            conn = self.take_idle()
            if conn is None:  # a waiter is bounded too: by this request's timeout and a connect
                conn = await self.acquire(timeout + self.connect_timeout)
            reused = conn.requests > 0
            try:
                await conn.request(head, body, method_is_head, keep_body, timeout, error_body)
                return conn
            except asyncio.CancelledError:
                # Cancelled mid-request (an interrupted run): where this response ends is
                # unknown, so the connection is closed, but its slot must be freed. Without
                # this every slot leaked and the next acquire (cleanup) waited forever.
                conn.close()
                self.release(conn)
                raise
            except OpError as exc:
                started = conn.parser.has_started
                self.release(conn)
                if resent or not (reused and can_resend(head, exc.outcome, started)):
                    raise
                resent = True
                self.resent += 1
                note_resend(exc.outcome)  # a stale keep-alive, most likely (see the module doc)


def can_resend(head: bytes, outcome: int, response_started: bool) -> bool:
    """True when a request that failed on a reused connection may be sent once more: a
    CONNECTION failure before any response byte, of an idempotent method (not POST)."""
    return outcome == Outcome.CONNECTION and not response_started and not head.startswith(b"POST ")
