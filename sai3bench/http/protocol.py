"""One HTTP/1.1 client connection: an asyncio.BufferedProtocol around the sans-IO parser.

Owns the socket's receive buffer, the one request in flight, its timeout and its timings. It
never parses bytes itself (``h1.ResponseParser`` does) and never builds a request (the caller
hands it finished head bytes and a body view).

Rules (STYLE 4): one request in flight per connection, one waiter, a second ``request()`` while
one is pending is a bug (RuntimeError). The timeout is a deadline checked by the pool's
``DeadlineWatch`` ten times a second, not ``asyncio.wait_for`` (a task and a cancellation per op)
and not a ``call_later`` per request (a libuv timer made and cancelled per op: 2.5 us measured
here, 6 % of a 1 KiB GET); a connection without a watch falls back to ``call_later``.
Two bounds share that one deadline: first byte (``first_byte_timeout`` from the request
written: a server that accepts and never answers) and then the whole response (``timeout``,
loose, for large bodies). ``deadline`` starts at the first-byte bound; when it passes, the
check looks whether any response byte arrived (``parser.has_started``) or the body is still
being written (``pause_writing``), and if so moves it on: the per-op cost is one more float
stored (measured: request + 1 KiB response through a fake transport, best of 21 x 100k,
4.81-4.83 us before, 4.85 us after, within noise; the whole GET is ~36 us).

The receive buffer is allocated once and reused: ``get_buffer`` always returns the same view,
because the parser copies any partial head it has to keep.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT
from sai3bench.http.errors import ProtocolError
from sai3bench.http.h1 import ResponseParser
from sai3bench.http.sent import mark as mark_sent
from sai3bench.http.sockets import ReceiveBufferProtocol
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload

#: Receive buffer per connection: large enough that a 1 MiB GET body is a handful of reads.
RECV_BUFFER: Final = 256 * 1024
#: How often a DeadlineWatch looks for requests past their deadline (timeouts are this coarse).
WATCH_TICK: Final = 0.1


class DeadlineWatch:
    """Times out the requests of many connections with one periodic check.

    Runs only while some registered connection has a request in flight; ``arm`` (called per
    request) is a flag test when the check is already scheduled.
    """

    __slots__ = ("_conns", "_handle", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._conns: list[H1Connection] = []
        self._handle: asyncio.TimerHandle | None = None

    def add(self, conn: H1Connection) -> None:
        self._conns.append(conn)

    def arm(self) -> None:
        if self._handle is None:
            self._handle = self._loop.call_later(WATCH_TICK, self._check)

    def _check(self) -> None:
        self._handle = None
        now = self._loop.time()
        busy = False
        live = []
        for conn in self._conns:
            if conn._waiter is not None and (conn.deadline > now or conn.on_deadline(now)):
                busy = True
            if not conn.closed:
                live.append(conn)
        self._conns = live
        if busy:
            self.arm()

    def close(self) -> None:
        """Stop checking. A request still in flight fails now: nothing would time it out."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for conn in self._conns:
            if conn._waiter is not None:
                why = f"{conn.label}: the connection pool closed with this request in flight"
                conn._fail(OpError(Outcome.CONNECTION, why))
        self._conns = []


class H1Connection(ReceiveBufferProtocol):
    """A keep-alive HTTP/1.1 connection. ``request()`` sends; the returned future ends the op."""

    __slots__ = (
        "_loop",
        "_timer",
        "_waiter",
        "_watch",
        "_write_paused",
        "closed",
        "deadline",
        "first_byte_timeout",
        "label",
        "parser",
        "requests",
        "response_deadline",
        "t_first_byte",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        label: str = "",
        watch: DeadlineWatch | None = None,
        first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
    ) -> None:
        super().__init__(RECV_BUFFER)
        self._loop = loop
        self._watch = watch
        #: Seconds from the request written to the first response byte.
        self.first_byte_timeout = first_byte_timeout
        #: loop.time() of the next bound to check: first byte, then the whole response.
        self.deadline = 0.0
        #: loop.time() by which the whole response must have arrived.
        self.response_deadline = 0.0
        #: The transport asked us to stop writing: the request is not all sent yet.
        self._write_paused = False
        if watch is not None:
            watch.add(self)
        self.label = label
        self.parser = ResponseParser()
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        #: perf_counter_ns when the response head of the current request completed.
        self.t_first_byte = 0
        #: Requests sent on this connection (a reused connection may have gone stale).
        self.requests = 0

    def __repr__(self) -> str:
        state = "closed" if self.closed else "busy" if self._waiter is not None else "idle"
        return f"<H1Connection {self.label} {state} requests={self.requests}>"

    # -- asyncio callbacks --------------------------------------------------------------------

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        # Called once the write buffer drained: only now is a large body (nearly) sent, so the
        # first-byte bound starts again from here.
        self._write_paused = False
        if self._waiter is not None and not self.parser.has_started:
            self.deadline = max(self.deadline, self._loop.time() + self.first_byte_timeout)

    def buffer_updated(self, nbytes: int) -> None:
        parser = self.parser
        if self._waiter is None:
            self._fail(self._not_http("data with no request in flight"))
            return
        had_head = parser.head_done
        try:
            used = parser.feed(self._view[:nbytes])
        except ProtocolError as exc:
            self._fail(self._not_http(str(exc)))
            return
        if not had_head and parser.head_done:
            self.t_first_byte = time.perf_counter_ns()
        if parser.done:
            if used < nbytes:  # we never pipeline: anything after the response is garbage
                self._fail(self._not_http("bytes after the response"))
                return
            self._complete()

    def eof_received(self) -> bool:
        if self._waiter is not None:
            try:
                self.parser.feed_eof()
            except ProtocolError as exc:
                self._fail(OpError(Outcome.CONNECTION, f"{self.label} closed mid-response: {exc}"))
                return False
            if self.parser.done:
                self._complete()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None:
            why = f"connection lost: {exc}" if exc else "connection closed by peer"
            detail = f"{self.label}: {why}"
            self._fail(OpError(Outcome.CONNECTION, detail))

    # -- the one operation --------------------------------------------------------------------

    def request(
        self,
        head: bytes,
        body: Payload | None = None,
        method_is_head: bool = False,
        keep_body: bool | int = False,
        timeout: float = 120.0,
        error_body: int = 0,
    ) -> asyncio.Future[None]:
        """Send one request; the future resolves when the whole response has been read.

        The response is then in ``self.parser`` until the next ``request()``. Failures resolve
        the future with an OpError (TIMEOUT, CONNECTION, PROTOCOL) and close the connection.
        ``keep_body`` and ``error_body`` are ResponseParser.start's.
        """
        if self._waiter is not None:
            raise RuntimeError("a request is already in flight on this connection")
        waiter = self._waiter = self._loop.create_future()
        if self.closed or self.transport is None:
            self._fail(OpError(Outcome.CONNECTION, "connection closed"))
            return waiter
        self.parser.start(method_is_head, keep_body, error_body)  # by position: no kwargs dict
        self.requests += 1
        if body is None:
            self.transport.write(head)
        elif isinstance(body, memoryview):
            mark_sent()
            self.transport.writelines((head, body))
        else:
            mark_sent()
            self.transport.writelines((head, *body))
        now = self._loop.time()
        self.response_deadline = end = now + timeout
        first = now + self.first_byte_timeout
        self.deadline = first if first < end else end
        watch = self._watch
        if watch is not None:
            watch.arm()
        else:
            self._timer = self._loop.call_at(self.deadline, self._on_timer)
        return waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def on_deadline(self, now: float) -> bool:
        """``deadline`` passed: fail the request, or move the deadline on. True if it lives on.

        Past the whole-response bound: TIMEOUT. A response under way, or a body still being
        written: the next bound. Else no byte came within ``first_byte_timeout``: TIMEOUT.
        """
        if now >= self.response_deadline:
            why = f"no complete response from {self.label} within the response timeout"
            self._fail(OpError(Outcome.TIMEOUT, why))
            return False
        if self.parser.has_started:
            self.deadline = self.response_deadline
            return True
        if self._write_paused:
            self.deadline = min(now + self.first_byte_timeout, self.response_deadline)
            return True
        self._fail(
            OpError(
                Outcome.TIMEOUT,
                f"no response from {self.label} within {self.first_byte_timeout:g} s of "
                "sending the request",
            )
        )
        return False

    def _on_timer(self) -> None:
        """The no-watch fallback: one timer per request, re-armed at each bound."""
        self._timer = None
        if self._waiter is not None and self.on_deadline(self._loop.time()):
            self._timer = self._loop.call_at(self.deadline, self._on_timer)

    def _not_http(self, why: str) -> OpError:
        why = f"{self.label} is not speaking HTTP as expected: {why}"
        return OpError(Outcome.PROTOCOL, why, permanent=True)

    def _complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: OpError) -> None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.closed = True
        if self.transport is not None:
            self.transport.abort()  # where this response ends is unknown: never reuse
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
