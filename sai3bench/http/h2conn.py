"""HTTP/2 client connections: many concurrent streams on one TCP or TLS connection.

``h2codec.H2ClientCodec`` is the sans-IO core (frames, flow-control windows, HPACK); this
module owns the socket, the per-stream futures and deadlines, and the stream scheduling. It
never builds an HTTP/1.1 head and never retries on its own (``H2Pool`` sends once more a
request the server provably did not process).

Rules:
1. A stream error (RST_STREAM) fails that stream only; a connection error (a frame the codec
   rejects, an error GOAWAY, socket loss) fails every open stream with CONNECTION and closes the
   connection. A graceful GOAWAY (NO_ERROR) lets the streams it covers finish (``draining``:
   no new stream starts here; the pool opens another connection) and fails the ones above its
   last stream id with ``H2Unprocessed``.
2. Streams past the peer's MAX_CONCURRENT_STREAMS wait in a deque; they never fail for it.
3. Windows are large (16 MiB connection, 4 MiB stream by default) and every DATA frame is
   acknowledged as soon as it is counted, so a large GET is paced by the socket, not by us.
4. Upload bodies go out in pieces of at most min(peer windows, peer MAX_FRAME_SIZE); a stream
   whose window is empty parks until a WINDOW_UPDATE or SETTINGS change reopens it.
5. Frames are flushed once per loop turn (``call_soon``): 32 streams issued in one turn cost
   one ``write`` syscall, not 32.
6. Deadlines are checked by one timer per connection every ``WATCH_TICK`` s, not a timer per
   stream (a libuv timer made and cancelled per op costs ~2.5 us, measured for HTTP/1.1). A
   stream has two bounds: no HEADERS within ``first_byte_timeout`` of its last byte sent, and
   the whole-response ``timeout``; a stream still queued, still uploading or already answered
   when its first-byte bound passes is given the next bound.
7. A response whose DATA does not add up to its ``content-length`` is malformed (RFC 9113
   8.1.1) and fails as PROTOCOL: a server that ends a stream early must not make a short body
   count as a successful GET (HTTP/1.1's parser refuses the same). HEAD, 204 and 304 carry no
   body whatever the header says.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence
from typing import Final

from sai3bench.http.endpoint import DEFAULT_CONNECT_TIMEOUT, DEFAULT_FIRST_BYTE_TIMEOUT, Endpoint
from sai3bench.http.h2codec import H2ClientCodec
from sai3bench.http.h2frames import MAX_STREAM_ID, ErrorCode, H2Error, code_name
from sai3bench.http.hpack import Coded, HpackError, plain
from sai3bench.http.sent import mark as mark_sent
from sai3bench.http.sockets import ReceiveBufferProtocol, connect_errors, open_connection
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload

RECV_BUFFER: Final = 256 * 1024
DEFAULT_CONN_WINDOW: Final = 16 * 1024 * 1024
DEFAULT_STREAM_WINDOW: Final = 4 * 1024 * 1024
#: How often a connection looks for streams past a deadline (timeouts are this coarse).
WATCH_TICK: Final = 0.1
#: RFC 9113 suggests assuming >= 100 concurrent streams until the peer's SETTINGS say.
INITIAL_MAX_STREAMS: Final = 100
#: RST_STREAM codes that mean the peer saw bad HTTP/2 from us or sent bad HTTP/2 itself.
_PROTOCOL_CODES: Final = frozenset(
    {
        ErrorCode.PROTOCOL_ERROR,
        ErrorCode.FLOW_CONTROL_ERROR,
        ErrorCode.FRAME_SIZE_ERROR,
        ErrorCode.STREAM_CLOSED,
        ErrorCode.COMPRESSION_ERROR,
    }
)


class H2Unprocessed(OpError):
    """CONNECTION failure of a stream the server did not process (safe to send again)."""


class H2Response:
    """One finished response. ``headers`` are (name, value) bytes, names lowercase, no
    pseudo-headers; ``t_first_byte`` is perf_counter_ns when the HEADERS frame arrived.

    The head is kept as the lazy HPACK decoder gave it (``:status`` first, values maybe still
    Huffman-coded: http/hpack.py) and ``headers`` decodes it on first read: a PUT's response
    carries a unique ``location`` nobody reads unless asked."""

    __slots__ = ("_head", "_headers", "body", "body_received", "status", "t_first_byte")

    def __init__(self) -> None:
        self.status = 0
        self._head: list[tuple[bytes, bytes]] = []  # the block's fields, ':status' first
        self._headers: list[tuple[bytes, bytes]] | None = None
        self.body = b""
        self.body_received = 0
        self.t_first_byte = 0

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = self._headers
        if headers is None:
            try:
                headers = [(name, plain(value)) for name, value in self._head[1:]]
            except HpackError as exc:  # a value's Huffman code is invalid: seen only now
                raise OpError(Outcome.PROTOCOL, f"response header: {exc}") from None
            self._headers = headers
        return headers


class _Stream(H2Response):
    """A request in flight; it becomes the response object itself (one allocation per op)."""

    __slots__ = (
        "bodiless",
        "check_at",
        "chunks",
        "deadline",
        "keep",
        "offset",
        "pos",
        "request",
        "sent_at",
        "sid",
        "upload",
        "waiter",
    )

    def __init__(self, waiter: asyncio.Future[H2Response], keep: int) -> None:
        super().__init__()
        self.waiter = waiter
        self.bodiless = False  # a HEAD: its content-length describes no body of its own
        self.keep = keep  # bytes of body to keep: 0 none, -1 all
        self.chunks: list[bytes] = []
        self.sid = 0
        self.request: tuple[str, str, str, Sequence[tuple[str, str]], Payload | None] | None
        self.request = None
        self.upload: Sequence[memoryview] = ()
        self.offset = 0  # index into upload of the view being sent
        self.pos = 0  # bytes of that view already sent
        self.deadline = 0.0  # loop.time() by which the whole response must have arrived
        self.check_at = 0.0  # loop.time() of the next bound to look at (rule 6)
        self.sent_at = 0.0  # loop.time() when the request's last byte was handed to the codec


class H2Connection(ReceiveBufferProtocol):
    """One HTTP/2 connection; ``request()`` opens a stream and returns its future."""

    __slots__ = (
        "_flush_handle",
        "_loop",
        "_watch",
        "blocked",
        "closed",
        "codec",
        "draining",
        "first_byte_timeout",
        "label",
        "max_streams",
        "queued",
        "ready",
        "requests",
        "scheme",
        "streams",
        "write_paused",
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
        super().__init__(RECV_BUFFER)
        self._loop = loop
        self.label = label
        #: Seconds from a stream's last byte sent to its response HEADERS.
        self.first_byte_timeout = first_byte_timeout
        self.scheme = scheme
        self.codec = H2ClientCodec(self, conn_window=conn_window, stream_window=stream_window)
        self.codec.decoder.lazy = True  # values are decoded when read (H2Response.headers)
        self.streams: dict[int, _Stream] = {}
        self.queued: collections.deque[_Stream] = collections.deque()
        self.blocked: dict[int, _Stream] = {}  # uploads waiting for window
        self.max_streams = INITIAL_MAX_STREAMS
        #: Resolves when the peer's first SETTINGS arrived (or fails if the connection did not
        #: come up as HTTP/2).
        self.ready: asyncio.Future[None] = loop.create_future()
        self._flush_handle: asyncio.Handle | None = None
        self._watch: asyncio.TimerHandle | None = None
        self.closed = False
        #: No new stream may start here (a GOAWAY came, or closed); the pool skips it.
        self.draining = False
        self.requests = 0
        #: The transport's buffer is full: frames wait in the codec, which bounds the replies
        #: a peer can provoke there (h2codec rule 5).
        self.write_paused = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "draining" if self.draining else "open"
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
        super().connection_made(transport)
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None and sslobj.selected_alpn_protocol() != "h2":
            self._fail_connection(
                OpError(
                    Outcome.PROTOCOL,
                    f"{self.label} did not negotiate h2 (ALPN)",
                    "this server offers no HTTP/2 over TLS: run without --http2",
                    permanent=True,  # the same answer every time: retrying only delays it
                )
            )
            return
        self._flush()  # the preface, our SETTINGS and the connection window

    def buffer_updated(self, nbytes: int) -> None:
        codec = self.codec
        try:
            codec.receive(self._view[:nbytes])
        except H2Error as exc:
            self._flush()  # our GOAWAY with the error's code
            if not self.ready.done() and bytes(self._view[:5]) == b"HTTP/":
                # an HTTP/1.x server's answer to our preface (read as a frame header, "HTT" is
                # a 4.7 MB frame): the same answer every time, so no retry storm
                why = f"{self.label} answered in HTTP/1.x, not HTTP/2: run without --http2"
                err = OpError(Outcome.PROTOCOL, why, "run without --http2", permanent=True)
            else:
                why = f"{self.label} is not speaking HTTP/2 as expected: {exc}"
                err = OpError(Outcome.CONNECTION, why)
            self._fail_connection(err)
            return
        if codec.out and self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        why = f"connection lost: {exc}" if exc else "connection closed by peer"
        self._fail_connection(OpError(Outcome.CONNECTION, f"{self.label}: {why}"))

    # -- the codec's calls (H2Handler) --------------------------------------------------------

    def on_headers(self, sid: int, fields: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        s = self.streams.get(sid)
        if s is None:
            return
        if not s.status:
            name, value = fields[0] if fields else (b"", b"")
            if type(value) is Coded:  # the lazy decoder's: decoded here (rarely: nginx's
                try:  # statuses are plain)
                    value = plain(value)
                except HpackError as exc:
                    self._fail(s, OpError(Outcome.PROTOCOL, f"response :status: {exc}"))
                    return
            if name != b":status" or len(value) != 3 or not value.isdigit():
                self._fail(
                    s, OpError(Outcome.PROTOCOL, f"response head without :status: {fields!r}")
                )
                return
            status = int(value)
            if status < 200:  # informational (100, 103): the real head follows
                if end_stream:  # RFC 9113 8.1: it cannot end the stream
                    self._fail(s, OpError(Outcome.PROTOCOL, f"{status} ended the stream"))
                return
            s.t_first_byte = time.perf_counter_ns()
            s.status = status
            s._head = fields  # decoded when read (H2Response.headers)
        if end_stream:  # a head without a body, or trailers (not kept)
            self._complete(s)

    def on_data(self, sid: int, data: memoryview, end_stream: bool) -> None:
        s = self.streams.get(sid)
        if s is None:
            return
        if not s.status:  # RFC 9113 8.1: a response starts with its HEADERS
            self._fail(s, OpError(Outcome.PROTOCOL, "DATA before the response head"))
            return
        n = len(data)
        if n:
            s.body_received += n
            keep = s.keep
            if keep < 0:
                s.chunks.append(bytes(data))
            elif keep > 0:
                s.chunks.append(bytes(data[:keep]))
                s.keep = keep - n if keep > n else 0
        if end_stream:
            self._complete(s)

    def on_reset(self, sid: int, code: int) -> None:
        s = self.streams.get(sid)
        if s is None:
            return
        name = code_name(code)
        if code == ErrorCode.REFUSED_STREAM:
            self._fail(s, H2Unprocessed(Outcome.CONNECTION, f"stream refused: {name}"))
            return
        if code in _PROTOCOL_CODES:
            outcome = Outcome.PROTOCOL
        elif code == ErrorCode.ENHANCE_YOUR_CALM:
            outcome = Outcome.THROTTLED
        else:
            outcome = Outcome.SERVER_ERROR
        self._fail(s, OpError(outcome, f"stream reset by {self.label}: {name}"))

    def on_goaway(self, last_sid: int, code: int, debug: bytes) -> None:
        self.draining = True
        detail = f"GOAWAY {code_name(code)} last_stream_id={last_sid}"
        if debug:
            detail += f" ({debug[:100].decode(errors='replace')})"
        unprocessed = H2Unprocessed(Outcome.CONNECTION, f"{self.label}: {detail}")
        while self.queued:
            self._fail(self.queued.popleft(), unprocessed)
        for s in [s for s in self.streams.values() if s.sid > last_sid]:
            self.codec.forget_stream(s.sid)
            self._fail(s, unprocessed)
        if code != ErrorCode.NO_ERROR:
            self._fail_connection(OpError(Outcome.CONNECTION, f"{self.label}: {detail}"))
        elif not self.streams:
            self._close_drained()

    def on_settings(self) -> None:
        self.max_streams = self.codec.max_streams
        if not self.ready.done():
            self.ready.set_result(None)
        self._start_queued()
        self.on_window_open()  # INITIAL_WINDOW_SIZE may have grown

    def on_window_open(self) -> None:
        if self.blocked:
            for s in list(self.blocked.values()):
                self._send_body(s)

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
        is reset), PROTOCOL/SERVER_ERROR/THROTTLED (RST_STREAM), CONNECTION (the whole
        connection; an ``H2Unprocessed`` when the server provably never processed it).
        """
        waiter: asyncio.Future[H2Response] = self._loop.create_future()
        s = _Stream(waiter, -1 if keep_body is True else int(keep_body))
        if self.draining:
            why = "connection closed" if self.closed else "connection draining after GOAWAY"
            waiter.set_exception(H2Unprocessed(Outcome.CONNECTION, why))
            return waiter
        s.request = (method, target, authority, headers, body)
        s.bodiless = method == "HEAD"
        if body is not None:
            mark_sent()  # in the worker's context: a queued stream starts from a callback
        now = s.sent_at = self._loop.time()
        s.deadline = end = now + timeout
        first = now + self.first_byte_timeout
        s.check_at = first if first < end else end
        if self._watch is None:
            self._watch = self._loop.call_later(WATCH_TICK, self._check_deadlines)
        if len(self.streams) < self.max_streams and not self.queued:
            self._start(s)
        else:
            self.queued.append(s)
        return waiter

    def _start(self, s: _Stream) -> None:
        assert s.request is not None
        method, target, authority, headers, body = s.request
        s.request = None
        codec = self.codec
        if codec.next_sid > MAX_STREAM_ID:
            self._out_of_stream_ids(s)
            return
        block = codec.encoder.encode_request(method, self.scheme, authority, target, headers)
        if body is None or not len(body):
            s.sid = codec.open_stream(block, end_stream=True)
            self.streams[s.sid] = s
        else:
            s.sid = codec.open_stream(block, end_stream=False)
            self.streams[s.sid] = s
            s.upload = (body,) if isinstance(body, memoryview) else body
            self._send_body(s)
        self.requests += 1
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _out_of_stream_ids(self, s: _Stream) -> None:
        """2^30 streams used: this connection can open no more (RFC 9113 5.1.1); the pool
        sends the request on a new one and this one closes once its streams finished."""
        self.draining = True
        unprocessed = H2Unprocessed(Outcome.CONNECTION, f"{self.label}: stream ids used up")
        for waiting in (s, *self.queued):
            self._fail(waiting, unprocessed)
        self.queued.clear()
        if not self.streams:
            self._close_drained()

    def _start_queued(self) -> None:
        queued = self.queued
        while queued and len(self.streams) < self.max_streams and not self.draining:
            s = queued.popleft()
            s.sent_at = self._loop.time()
            self._start(s)

    def _send_body(self, s: _Stream) -> None:
        """Send as much of the upload as the windows allow; park the stream if they close."""
        codec, sid, upload = self.codec, s.sid, s.upload
        last = len(upload) - 1
        while s.offset <= last:
            view = upload[s.offset]
            rest = view[s.pos :] if s.pos else view
            sent = codec.send_data(sid, rest, end_stream=s.offset == last)
            if sent < len(rest):
                s.pos += sent
                self.blocked[sid] = s
                return
            s.offset += 1
            s.pos = 0
        s.sent_at = self._loop.time()  # the first-byte clock starts at the last byte
        self.blocked.pop(sid, None)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self.codec.out and self.transport is not None and not (self.closed or self.write_paused):
            self.transport.write(self.codec.take())

    # -- endings ------------------------------------------------------------------------------

    def _check_deadlines(self) -> None:
        """Every WATCH_TICK while streams live: act on the bounds that passed (rule 6)."""
        self._watch = None
        now = self._loop.time()
        for s in [s for s in (*self.streams.values(), *self.queued) if s.check_at <= now]:
            self._on_bound(s, now)
        if self.streams or self.queued:
            self._watch = self._loop.call_later(WATCH_TICK, self._check_deadlines)

    def _on_bound(self, s: _Stream, now: float) -> None:
        if now < s.deadline:
            first = s.sent_at + self.first_byte_timeout
            if s.t_first_byte:
                s.check_at = s.deadline  # answered: only the whole-response bound is left
            elif s.sid == 0 or s.offset < len(s.upload):
                s.check_at = now + self.first_byte_timeout  # still queued or still uploading
            elif now < first:
                s.check_at = first  # the last byte went out after the bound was set
            else:
                why = f"no response from {self.label} within {self.first_byte_timeout:g} s"
                self._drop(s, OpError(Outcome.TIMEOUT, why + " of sending the request"))
                return
            s.check_at = min(s.check_at, s.deadline)
            return
        why = f"no complete response from {self.label} within the response timeout"
        self._drop(s, OpError(Outcome.TIMEOUT, why))

    def _drop(self, s: _Stream, exc: OpError) -> None:
        if s.sid == 0:
            self.queued.remove(s)
        self._fail(s, exc)

    def _finish(self, s: _Stream, *, reset: bool) -> None:
        if s.sid and self.streams.pop(s.sid, None) is not None:
            if self.blocked:
                self.blocked.pop(s.sid, None)
            if not self.closed:
                if reset:
                    self.codec.reset_stream(s.sid)
                    if self._flush_handle is None:
                        self._flush_handle = self._loop.call_soon(self._flush)
                if self.queued:
                    self._start_queued()
                elif self.draining and not self.streams:
                    self._close_drained()

    def _complete(self, s: _Stream) -> None:
        if not s.bodiless and s.status != 204 and s.status != 304:
            declared = _declared_length(s._head)
            if declared is not None and declared != s.body_received:
                why = f"{s.body_received} body bytes where content-length said {declared!r}"
                self._fail(s, OpError(Outcome.PROTOCOL, f"{self.label}: {why}"))
                return
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
        self.closed = self.draining = True
        for s in [*self.streams.values(), *self.queued]:
            self._fail(s, exc)
        self.streams.clear()
        self.queued.clear()
        self.blocked.clear()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self.transport is not None:
            self.transport.abort()

    def _close_drained(self) -> None:
        """The last stream a graceful GOAWAY let finish is done: close quietly."""
        self._flush()
        self.close()

    def close(self) -> None:
        """Send GOAWAY and close; open streams fail with CONNECTION."""
        if not self.closed and self.transport is not None:
            self.codec.close()
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
    try:
        with connect_errors(ep.url):  # the SETTINGS wait shares the connect's bound
            async with asyncio.timeout_at(start + connect_timeout):
                await conn.ready
    except BaseException:
        conn.close()  # failed or cancelled (H2Pool.close): the socket must not outlive it
        raise
    return conn


def _declared_length(fields: list[tuple[bytes, bytes]]) -> int | bytes | None:
    """The head's content-length as an int, its raw value if that is no length, None if the
    head has none (the body then ends where the stream does)."""
    for name, value in fields:
        if name == b"content-length":
            try:
                value = plain(value)
            except HpackError:
                return value
            return int(value) if value.isdigit() else value
    return None
