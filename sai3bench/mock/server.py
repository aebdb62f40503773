"""The mock server's network side: a uvloop BufferedProtocol per connection over an App.

Keeps the server as lean as the client, so it is not the bottleneck of its own tests: one
reused receive buffer per connection, the sans-IO request parser, pipelined requests answered
in order, response heads and bodies written with ``writelines`` (no join of payload bytes).
Loopback only unless the caller passes ``public=True``.

Faults, each decided per request with the server's seeded RNG, in this order: a reset (the
connection aborted after the request was read whole), a stall (no answer, or one after
``stall_s``), an error status, a truncated body. The server counts what it did in ``MockStats``
(mock/stats.py), served at ``GET /_mock/stats``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import ssl
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Final

from sai3bench.errors import UsageError
from sai3bench.http.errors import ProtocolError
from sai3bench.http.h1 import RequestParser
from sai3bench.http.h1build import build_response_head
from sai3bench.http.sockets import ReceiveBufferProtocol
from sai3bench.mock.app import App, Response
from sai3bench.mock.s3app import error
from sai3bench.mock.stats import ERROR, RESET, STALL, TRUNCATE, MockStats

_REASONS: Final = {
    200: "OK",
    204: "No Content",
    206: "Partial Content",
    308: "Resume Incomplete",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    416: "Range Not Satisfiable",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class Faults:
    """Fault injection, decided per request with the server's own seeded RNG."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        jitter_s: float = 0.0,
        error_rate: float = 0.0,
        error_status: int = 503,
        reset_rate: float = 0.0,
        truncate_rate: float = 0.0,
        stall_rate: float = 0.0,
        stall_s: float = 0.0,
        seed: int = 0,
        max_inflight: int = 0,
    ) -> None:
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self.error_rate = error_rate
        self.error_status = error_status
        self.reset_rate = reset_rate
        #: Share of responses cut off half way through the body, then the connection closed.
        self.truncate_rate = truncate_rate
        #: Share of requests read whole and then not answered: never (``stall_s`` 0), or only
        #: after ``stall_s`` seconds. Either way the connection serves nothing else.
        self.stall_rate = stall_rate
        self.stall_s = stall_s
        self.rng = random.Random(seed)
        #: A capacity: at most this many requests in their latency at once (0: no limit); the
        #: rest wait in arrival order. With latency L it serves at most max_inflight / L per
        #: second, so a client's throughput stops rising at concurrency ~= max_inflight (Little's
        #: law): the knee ``sai3bench autotune`` is tested against.
        self.max_inflight = max_inflight
        self.inflight = 0
        self._waiting: deque[tuple[Callable[[], None], float]] = deque()

    @property
    def any(self) -> bool:
        return bool(
            self.latency_s
            or self.jitter_s
            or self.error_rate
            or self.reset_rate
            or self.truncate_rate
            or self.stall_rate
            or self.max_inflight
        )

    def delay(self) -> float:
        return max(0.0, self.latency_s + self.rng.uniform(-self.jitter_s, self.jitter_s))

    def admit(self, send: Callable[[], None], delay: float) -> None:
        """``send`` after ``delay`` seconds in one of the ``max_inflight`` slots (when free)."""
        if self.inflight >= self.max_inflight:
            self._waiting.append((send, delay))
            return
        self.inflight += 1
        asyncio.get_running_loop().call_later(delay, self._done, send)

    def _done(self, send: Callable[[], None]) -> None:
        self.inflight -= 1
        send()
        if self._waiting:
            self.admit(*self._waiting.popleft())


#: What sink mode keeps of a request body: a DeleteObjects XML of 1,000 keys fits, an object
#: body above it is counted, not copied (the apps tell the two apart by its length).
SINK_KEEP = 256 * 1024


def _keep(sink: bool) -> bool | int:
    return SINK_KEEP if sink else True


class MockS3Protocol(ReceiveBufferProtocol):
    __slots__ = ("_app", "_faults", "_parser", "_sink", "_stalled", "_stats")

    def __init__(self, app: App, faults: Faults, sink: bool, stats: MockStats) -> None:
        super().__init__(256 * 1024)
        self._app = app
        self._faults = faults
        self._sink = sink
        self._stats = stats
        #: A stalled request holds the connection: later bytes on it are never answered.
        self._stalled = False
        self._parser = RequestParser()
        self._parser.start(keep_body=_keep(sink))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._stats.connections += 1

    def buffer_updated(self, nbytes: int) -> None:
        parser = self._parser
        pos = 0
        while pos < nbytes and not self._stalled:
            had_head = parser.head_done
            try:
                pos += parser.feed(self._view[pos:nbytes])
            except ProtocolError as exc:
                self._send(error(400, "BadRequest", str(exc)), close=True)
                return
            if not had_head and parser.head_done and parser.expect_continue and not parser.done:
                assert self.transport is not None
                self.transport.write(_CONTINUE)
            if not parser.done:
                return
            self._respond()
            parser.start(keep_body=_keep(self._sink))

    def _respond(self) -> None:
        p = self._parser
        if p.target.startswith("/_mock/"):
            self._send(self._stats.answer(p.method, p.target), close=not p.keep_alive)
            return
        self._stats.requests[p.method] += 1
        faults = self._faults
        if faults.any:
            if self._fault_before_answer():
                return
            if faults.error_rate and faults.rng.random() < faults.error_rate:
                self._stats.faults[ERROR] += 1
                resp = self._app.fault(faults.error_status, p.target, p.headers)
            else:
                resp = self._app.handle(p.method, p.target, p.headers, p.body, p.body_received)
            if (
                faults.truncate_rate
                and resp.length > 1
                and faults.rng.random() < faults.truncate_rate
            ):
                self._stats.faults[TRUNCATE] += 1
                self._send_truncated(resp)
                return
            delay = faults.delay()
            if faults.max_inflight:
                faults.admit(partial(self._send, resp, not p.keep_alive), delay)
                return
            if delay > 0:
                keep = p.keep_alive
                asyncio.get_running_loop().call_later(delay, self._send, resp, not keep)
                return
        else:
            resp = self._app.handle(p.method, p.target, p.headers, p.body, p.body_received)
        self._send(resp, close=not p.keep_alive)

    def _fault_before_answer(self) -> bool:
        """A reset or a stall, injected before the request is handled; True if one was."""
        faults = self._faults
        transport = self.transport
        assert transport is not None
        if faults.reset_rate and faults.rng.random() < faults.reset_rate:
            self._stats.faults[RESET] += 1
            transport.abort()
            return True
        if faults.stall_rate and faults.rng.random() < faults.stall_rate:
            self._stats.faults[STALL] += 1
            self._stalled = True
            if faults.stall_s > 0:
                p = self._parser
                resp = self._app.handle(p.method, p.target, p.headers, p.body, p.body_received)
                asyncio.get_running_loop().call_later(faults.stall_s, self._send, resp, True)
            return True
        return False

    def _send(self, resp: Response, close: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._stats.responses[resp.status] += 1
        headers = resp.headers
        if close:
            headers = [*headers, ("Connection", "close")]
        head = build_response_head(
            resp.status, _REASONS.get(resp.status, "Unknown"), headers, resp.length
        )
        if self._parser.method == "HEAD":  # a HEAD answer never has a body, errors included
            transport.write(head)
        elif isinstance(resp.body, bytes):
            transport.write(head + resp.body if len(resp.body) < 4096 else head)
            if len(resp.body) >= 4096:
                transport.write(resp.body)
        else:
            transport.writelines([head, *resp.body])
        if close:
            transport.close()

    def _send_truncated(self, resp: Response) -> None:
        """The head promises ``resp.length`` bytes; half of them come, then the socket closes."""
        transport = self.transport
        if transport is None:
            return
        head = build_response_head(
            resp.status, _REASONS.get(resp.status, "OK"), resp.headers, resp.length
        )
        body = resp.body if isinstance(resp.body, bytes) else b"".join(resp.body)
        transport.write(head + bytes(body[: resp.length // 2]))
        transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def check_bind_address(host: str, public: bool) -> None:
    """Refuse a non-loopback bind unless ``public``: the mock has no real security."""
    if public:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise UsageError(
            f"refusing to bind the mock server to {host}: not a loopback address",
            hint="use --host 127.0.0.1, or pass --public if you really mean it",
        )


async def start_server(
    app: App,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    faults: Faults | None = None,
    sink: bool = False,
    public: bool = False,
    stats: MockStats | None = None,
    tls: ssl.SSLContext | None = None,
) -> asyncio.Server:
    """Start serving; ``server.sockets[0].getsockname()[1]`` is the port (0 picks a free one).

    ``stats`` is where the server counts (share one between listeners of one store; pass one
    with the store to have ``/_mock/stats`` list objects per bucket). ``tls`` serves https
    (tests of certificate trust)."""
    check_bind_address(host, public)
    loop = asyncio.get_running_loop()
    f = faults or Faults()
    counters = stats if stats is not None else MockStats()
    return await loop.create_server(
        lambda: MockS3Protocol(app, f, sink, counters),
        host,
        port,
        reuse_address=True,
        backlog=1024,
        ssl=tls,
    )
