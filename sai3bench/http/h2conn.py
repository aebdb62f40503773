"""HTTP/2 client connections: many concurrent streams on one TCP or TLS connection.

The ``h2`` package is the sans-IO core (frames, HPACK, stream states, flow-control windows);
this module owns the socket, the per-stream futures and timeouts, and the flow-control policy.
It never builds an HTTP/1.1 head and never retries on its own (``H2Pool`` retries once a
request the server provably did not process).

Rules:
1. A stream error (RST_STREAM) fails that stream only; a connection error (GOAWAY, a frame h2
   rejects, socket loss) fails every open stream with CONNECTION and closes the connection.
   h2 refuses all frames after a GOAWAY, so in-flight streams cannot be drained.
2. Streams past the peer's MAX_CONCURRENT_STREAMS wait in a deque; they never fail for it.
3. Windows are large (16 MiB connection, 4 MiB stream by default) and every DATA frame is
   acknowledged as soon as it is counted, so a large GET is paced by the socket, not by us;
   h2's window manager batches the WINDOW_UPDATE frames (one per half window).
4. Upload bodies go out in pieces of at most min(peer window, max_outbound_frame_size); a stream
   whose window is empty parks until a WINDOW_UPDATE or SETTINGS change reopens it.
5. Frames are flushed once per loop turn (``call_soon``): 32 streams issued in one turn cost
   one ``write`` syscall, not 32.
6. A stream has two bounds on its one timer: no HEADERS within ``first_byte_timeout`` of its
   last byte sent (a server that never answers), and the whole-response ``timeout``. The timer
   fires first at the first-byte bound; a stream still queued, still uploading or already
   answered is re-armed (rare: only slow ones reach it), so no op pays for a second timer.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence
from typing import Final, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes

from sai3bench.http.endpoint import DEFAULT_CONNECT_TIMEOUT, DEFAULT_FIRST_BYTE_TIMEOUT, Endpoint
from sai3bench.http.hpack_tuning import install_process_wide, plain_literals
from sai3bench.http.sent import mark as mark_sent
from sai3bench.http.sockets import connect_errors, open_connection, set_nodelay
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload

RECV_BUFFER: Final = 256 * 1024
DEFAULT_CONN_WINDOW: Final = 16 * 1024 * 1024
DEFAULT_STREAM_WINDOW: Final = 4 * 1024 * 1024
#: RST_STREAM codes that mean the peer saw bad HTTP/2 from us or sent bad HTTP/2 itself.
_PROTOCOL_CODES: Final = frozenset(
    {
        ErrorCodes.PROTOCOL_ERROR,
        ErrorCodes.FLOW_CONTROL_ERROR,
        ErrorCodes.FRAME_SIZE_ERROR,
        ErrorCodes.STREAM_CLOSED,
        ErrorCodes.COMPRESSION_ERROR,
    }
)


class H2Unprocessed(OpError):
    """CONNECTION failure of a stream the server did not process (safe to send again)."""


class H2Response:
    """One finished response. ``headers`` are (name, value) bytes, names lowercase, no
    pseudo-headers; ``t_first_byte`` is perf_counter_ns when the HEADERS frame arrived."""

    __slots__ = ("body", "body_received", "headers", "status", "t_first_byte")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.body_received = 0
        self.t_first_byte = 0


class _Stream(H2Response):
    """A request in flight; it becomes the response object itself (one allocation per op)."""

    __slots__ = (
        "chunks",
        "deadline",
        "keep",
        "offset",
        "pos",
        "request",
        "sent_at",
        "sid",
        "timer",
        "upload",
        "waiter",
    )

    def __init__(self, waiter: asyncio.Future[H2Response], keep: int) -> None:
        super().__init__()
        self.waiter = waiter
        self.keep = keep  # bytes of body to keep: 0 none, -1 all
        self.chunks: list[bytes] = []
        self.sid = 0
        self.timer: asyncio.TimerHandle | None = None
        self.request: tuple[list[tuple[str, str]], Payload | None] | None = None
        self.upload: Sequence[memoryview] = ()
        self.offset = 0  # index into upload of the view being sent
        self.pos = 0  # bytes of that view already sent
        self.deadline = 0.0  # loop.time() by which the whole response must have arrived
        self.sent_at = 0.0  # loop.time() when the request's last byte was handed to h2


def h2_client_config() -> h2.config.H2Configuration:
    """h2 config for a client that trusts its own headers (names must be lowercase)."""
    return h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )


class H2Connection(asyncio.BufferedProtocol):
    """One HTTP/2 connection; ``request()`` opens a stream and returns its future."""

    __slots__ = (
        "_flush_handle",
        "_loop",
        "_view",
        "blocked",
        "closed",
        "conn",
        "first_byte_timeout",
        "label",
        "max_streams",
        "queued",
        "ready",
        "requests",
        "scheme",
        "streams",
        "transport",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        label: str = "",
        *,
        scheme: str = "http",
        conn_window: int = DEFAULT_CONN_WINDOW,
        stream_window: int = DEFAULT_STREAM_WINDOW,
        first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
    ) -> None:
        self._loop = loop
        self.label = label
        #: Seconds from a stream's last byte sent to its response HEADERS.
        self.first_byte_timeout = first_byte_timeout
        self.scheme = scheme
        self._view = memoryview(b"")  # made in connection_made: a failed connect allocates nothing
        conn = self.conn = h2.connection.H2Connection(config=h2_client_config())
        install_process_wide()
        plain_literals(conn)
        conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: stream_window,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 0,  # we accept no pushes
            },
        )
        conn.initiate_connection()
        if conn_window > 65535:
            conn.increment_flow_control_window(conn_window - 65535)
        self.streams: dict[int, _Stream] = {}
        self.queued: collections.deque[_Stream] = collections.deque()
        self.blocked: dict[int, _Stream] = {}  # uploads waiting for window
        self.max_streams = 100  # RFC 9113 suggests >= 100 until the peer's SETTINGS arrive
        #: Resolves when the peer's first SETTINGS arrived (or fails if the connection did not
        #: come up as HTTP/2).
        self.ready: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._flush_handle: asyncio.Handle | None = None
        self.closed = False
        self.requests = 0

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<H2Connection {self.label} {state} streams={len(self.streams)} "
            f"queued={len(self.queued)} requests={self.requests}>"
        )

    @property
    def load(self) -> int:
        """Streams open plus waiting for a slot: what the pool balances on."""
        return len(self.streams) + len(self.queued)

    # -- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._view = memoryview(bytearray(RECV_BUFFER))
        self.transport = cast(asyncio.Transport, transport)
        set_nodelay(transport)
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None and sslobj.selected_alpn_protocol() != "h2":
            self._fail_connection(
                OpError(Outcome.PROTOCOL, f"{self.label} did not negotiate h2 (ALPN)")
            )
            return
        self.transport.write(self.conn.data_to_send())

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        conn = self.conn
        try:
            events = conn.receive_data(self._view[:nbytes])
        except h2.exceptions.ProtocolError as exc:
            why = f"{self.label} is not speaking HTTP/2 as expected: {exc}"
            self._fail_connection(OpError(Outcome.CONNECTION, why))
            return
        streams = self.streams
        for ev in events:
            kind = type(ev)
            if kind is h2.events.DataReceived:
                data = cast(h2.events.DataReceived, ev)
                sid = data.stream_id
                conn.acknowledge_received_data(data.flow_controlled_length, sid)
                if (s := streams.get(sid)) is not None:
                    self._on_data(s, data.data)
            elif kind is h2.events.ResponseReceived:
                resp = cast(h2.events.ResponseReceived, ev)
                if (s := streams.get(resp.stream_id)) is not None:
                    self._on_headers(s, resp.headers)
            elif kind is h2.events.StreamEnded:
                if (s := streams.get(cast(h2.events.StreamEnded, ev).stream_id)) is not None:
                    self._complete(s)
            else:
                self._on_other_event(ev)
                if self.closed:
                    return
        self._flush()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        why = f"connection lost: {exc}" if exc else "connection closed by peer"
        self._fail_connection(OpError(Outcome.CONNECTION, f"{self.label}: {why}"))

    # -- events -------------------------------------------------------------------------------

    def _on_headers(self, s: _Stream, headers: list[tuple[bytes, bytes]]) -> None:
        s.t_first_byte = time.perf_counter_ns()
        kept = s.headers
        for name, value in headers:
            if name == b":status":
                s.status = int(value)
            else:
                kept.append((name, value))

    def _on_data(self, s: _Stream, data: bytes) -> None:
        s.body_received += len(data)
        keep = s.keep
        if keep < 0:
            s.chunks.append(data)
        elif keep > 0:
            s.chunks.append(data[:keep])
            s.keep = max(0, keep - len(data))

    def _on_other_event(self, ev: h2.events.Event) -> None:
        if isinstance(ev, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.max_streams = self.conn.remote_settings.max_concurrent_streams
                if not self.ready.done():
                    self.ready.set_result(None)
                self._start_queued()
            for s in list(self.blocked.values()):
                self._send_body(s)
        elif isinstance(ev, h2.events.StreamReset):
            if (reset := self.streams.get(ev.stream_id)) is not None:
                code = ev.error_code
                outcome = Outcome.PROTOCOL if code in _PROTOCOL_CODES else Outcome.SERVER_ERROR
                if code == ErrorCodes.REFUSED_STREAM:
                    self._fail(reset, H2Unprocessed(Outcome.CONNECTION, "stream refused"))
                else:
                    self._fail(reset, OpError(outcome, f"stream reset by peer: {code!r}"))
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self._on_goaway(ev.last_stream_id or 0, ev.error_code)

    def _on_goaway(self, last_sid: int, code: object) -> None:
        detail = f"GOAWAY {code!r} last_stream_id={last_sid}"
        for s in list(self.streams.values()):
            if s.sid > last_sid:
                self._fail(s, H2Unprocessed(Outcome.CONNECTION, detail))
        self._fail_connection(OpError(Outcome.CONNECTION, detail))

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        target: str,
        authority: str,
        headers: Sequence[tuple[str, str]] = (),
        body: Payload | None = None,
        *,
        keep_body: bool | int = False,
        timeout: float = 120.0,
    ) -> asyncio.Future[H2Response]:
        """Open one stream; the future resolves with the whole response.

        ``headers`` names must be lowercase (HTTP/2 requires it; we do not rewrite them).
        ``keep_body``: False counts the body only, True keeps it all, an int keeps at most that
        many bytes. Failures resolve the future with OpError: TIMEOUT (this stream only, which
        is reset), PROTOCOL/SERVER_ERROR (RST_STREAM), CONNECTION (the whole connection; an
        ``H2Unprocessed`` when the server provably never processed it).
        """
        waiter: asyncio.Future[H2Response] = self._loop.create_future()
        s = _Stream(waiter, -1 if keep_body is True else int(keep_body))
        if self.closed:
            waiter.set_exception(H2Unprocessed(Outcome.CONNECTION, "connection closed"))
            return waiter
        pseudo = [(":method", method), (":scheme", self.scheme), (":authority", authority)]
        pseudo.append((":path", target))
        pseudo.extend(headers)
        s.request = (pseudo, body)
        if body is not None:
            mark_sent()  # in the worker's context: a queued stream starts from a callback
        now = s.sent_at = self._loop.time()
        s.deadline = end = now + timeout
        first = now + self.first_byte_timeout
        s.timer = self._loop.call_at(first if first < end else end, self._on_timer, s)
        if len(self.streams) < self.max_streams and not self.queued:
            self._start(s)
        else:
            self.queued.append(s)
        return waiter

    def _start(self, s: _Stream) -> None:
        assert s.request is not None
        head, body = s.request
        s.request = None
        conn = self.conn
        sid = s.sid = conn.get_next_available_stream_id()
        self.streams[sid] = s
        self.requests += 1
        try:
            if body is None or not len(body):
                conn.send_headers(sid, head, end_stream=True)
            else:
                conn.send_headers(sid, head)
                s.upload = (body,) if isinstance(body, memoryview) else body
                self._send_body(s)
        except h2.exceptions.ProtocolError as exc:  # our bookkeeping and h2's disagree: a bug
            self._fail(s, OpError(Outcome.PROTOCOL, f"h2 refused the request: {exc!r}"))
        self._schedule_flush()

    def _start_queued(self) -> None:
        queued = self.queued
        while queued and len(self.streams) < self.max_streams and not self.closed:
            s = queued.popleft()
            s.sent_at = self._loop.time()
            self._start(s)

    def _send_body(self, s: _Stream) -> None:
        """Send as much of the upload as the windows allow; park the stream if they close."""
        conn, sid, upload = self.conn, s.sid, s.upload
        last = len(upload) - 1
        while s.offset <= last:
            view = upload[s.offset]
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if room <= 0:
                self.blocked[sid] = s
                return
            end = s.pos + room
            piece = view[s.pos : end]
            if end < len(view):
                s.pos = end
            else:
                s.offset += 1
                s.pos = 0
            conn.send_data(sid, piece, end_stream=s.offset > last)
        s.sent_at = self._loop.time()  # the first-byte clock starts at the last byte
        self.blocked.pop(sid, None)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    # -- endings ------------------------------------------------------------------------------

    def _on_timer(self, s: _Stream) -> None:
        """A bound passed: fail the stream, or re-arm its timer for the next bound (see rule 6)."""
        s.timer = None
        now = self._loop.time()
        if now < s.deadline:
            first = s.sent_at + self.first_byte_timeout
            if s.t_first_byte:
                rearm = s.deadline  # answered: only the whole-response bound is left
            elif s.sid == 0 or s.offset < len(s.upload):
                rearm = now + self.first_byte_timeout  # still queued or still uploading
            elif now < first:
                rearm = first  # the last byte went out after the timer was set
            else:
                why = f"no response from {self.label} within {self.first_byte_timeout:g} s"
                self._drop(s, OpError(Outcome.TIMEOUT, why + " of sending the request"))
                return
            s.timer = self._loop.call_at(min(rearm, s.deadline), self._on_timer, s)
            return
        why = f"no complete response from {self.label} within the response timeout"
        self._drop(s, OpError(Outcome.TIMEOUT, why))

    def _drop(self, s: _Stream, exc: OpError) -> None:
        if s.sid == 0:
            self.queued.remove(s)
        self._fail(s, exc)

    def _finish(self, s: _Stream, *, reset: bool) -> None:
        if s.timer is not None:
            s.timer.cancel()
            s.timer = None
        if s.sid and self.streams.pop(s.sid, None) is not None:
            self.blocked.pop(s.sid, None)
            if not self.closed:
                if reset:
                    self._reset(s.sid)
                self._start_queued()

    def _reset(self, sid: int) -> None:
        try:
            self.conn.reset_stream(sid, ErrorCodes.CANCEL)
        except h2.exceptions.ProtocolError:
            return  # the peer reset it, or both sides already closed it
        self._schedule_flush()

    def _complete(self, s: _Stream) -> None:
        if s.chunks:
            s.body = s.chunks[0] if len(s.chunks) == 1 else b"".join(s.chunks)
            s.chunks = []
        waiter = s.waiter
        if not waiter.done():
            waiter.set_result(s)
        # The server may answer before reading all of an upload: stop sending it.
        self._finish(s, reset=s.offset < len(s.upload))

    def _fail(self, s: _Stream, exc: OpError) -> None:
        waiter = s.waiter
        if not waiter.done():
            waiter.set_exception(exc)
        self._finish(s, reset=True)

    def _fail_connection(self, exc: OpError) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc)
            self.ready.exception()  # nobody may be waiting: don't log "never retrieved"
        if self.closed:
            return
        self.closed = True
        for s in [*self.streams.values(), *self.queued]:
            self._fail(s, exc)
        self.streams.clear()
        self.queued.clear()
        self.blocked.clear()
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Send GOAWAY and close; open streams fail with CONNECTION."""
        if not self.closed and self.transport is not None:
            self.conn.close_connection()
            self._flush()
            self.transport.close()
        self._fail_connection(H2Unprocessed(Outcome.CONNECTION, "connection closed locally"))


async def open_h2_connection(
    endpoint: Endpoint,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    conn_window: int = DEFAULT_CONN_WINDOW,
    stream_window: int = DEFAULT_STREAM_WINDOW,
    first: bool = False,
) -> H2Connection:
    """Connect, send the preface (prior knowledge on cleartext, ALPN "h2" on TLS) and wait for
    the server's SETTINGS. Raises OpError: PROTOCOL if TLS negotiated anything but h2 (the
    caller may fall back to HTTP/1.1), TIMEOUT, CONNECTION (permanent when refused and
    ``first``: no connection to this endpoint was ever made). Sets ALPN on ``endpoint.tls``."""
    loop = asyncio.get_running_loop()
    ep = endpoint
    if ep.tls is not None:
        ep.tls.set_alpn_protocols(["h2", "http/1.1"])
    scheme = "https" if ep.tls else "http"
    start = loop.time()
    conn = await open_connection(
        lambda: H2Connection(
            loop,
            ep.url,
            scheme=scheme,
            conn_window=conn_window,
            stream_window=stream_window,
            first_byte_timeout=ep.first_byte_timeout,
        ),
        ep,
        connect_timeout,
        first=first,
    )
    with connect_errors(ep.url):  # the SETTINGS wait shares the connect's bound
        async with asyncio.timeout_at(start + connect_timeout):
            await conn.ready
    return conn
