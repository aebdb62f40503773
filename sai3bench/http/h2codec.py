"""The HTTP/2 client side of one connection, sans-IO: frames in, handler calls and bytes out.

``H2ClientCodec.receive(data)`` parses every complete frame in ``data`` (a partial frame is
kept for the next call; frames may be split at any byte), validates it, and calls the
handler's ``on_*`` methods directly: no event object per frame. Everything we send is appended
to ``out``; the caller writes it (once per loop turn) and takes a fresh buffer with ``take()``.

Rules:
1. Streams are ours only (odd ids; we send ENABLE_PUSH=0 and MAX_CONCURRENT_STREAMS=0). A frame
   on an id we never opened, a PUSH_PROMISE, a bad frame size or an invalid setting is a
   connection error: GOAWAY with its code goes into ``out`` and ``H2Error`` is raised, once.
2. A frame on a stream we already closed (reset, or ended both ways) is dropped quietly, but a
   header block is always decoded (the HPACK table is per connection) and DATA always counts
   against the connection window.
3. Receive windows are large and every DATA byte is acknowledged when counted; WINDOW_UPDATE
   goes out once half a window is used (per stream and for the connection), not per frame.
4. Send windows: ``send_data`` sends what both windows allow and says how much; SETTINGS
   INITIAL_WINDOW_SIZE moves every sending stream's window by the difference (it may go
   negative); a window above 2^31-1 is a FLOW_CONTROL_ERROR.
5. Replies a peer can provoke (PING and SETTINGS ACKs, RST_STREAM for its stream errors) are
   counted until ``take()``; more than MAX_QUEUED_REPLIES unsent is ENHANCE_YOUR_CALM. The
   caller does not take while its transport is full, so a peer that floods and never reads
   cannot grow our buffers without bound (CVE-2019-9512, 9514, 9515).
6. Tolerated on purpose (each costs us nothing and refusing it would fail good requests):
   frames on streams we closed, a GOAWAY whose last stream id grows (streams already failed
   stay failed), PING/SETTINGS ACKs we did not ask for, WINDOW_UPDATE on a stream we no longer
   send on, empty DATA/CONTINUATION frames (a peer can waste our CPU with any valid frame; the
   header block is bounded by MAX_HEADER_BLOCK, a frame by our MAX_FRAME_SIZE before it is
   buffered). Message-level checks (DATA before the head, :status) are H2Connection's.
"""

from __future__ import annotations

from typing import Final, Protocol

from sai3bench.http import h2frames as f
from sai3bench.http.h2frames import ErrorCode, H2Error
from sai3bench.http.hpack import HpackDecoder, HpackEncoder, HpackError

#: A header block (HEADERS + CONTINUATION) larger than this is refused (a CONTINUATION flood).
MAX_HEADER_BLOCK: Final = 1 << 20
#: Unsent replies a peer may provoke before we call it a flood (nghttp2's max_outbound_ack).
MAX_QUEUED_REPLIES: Final = 1000
_UNBOUNDED: Final = 1 << 31
_PLAIN_HEADERS_MASK: Final = f.FLAG_END_HEADERS | f.FLAG_PADDED | f.FLAG_PRIORITY


class H2Handler(Protocol):
    """What the codec calls; each call is about one of our streams that is still open."""

    def on_headers(self, sid: int, fields: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        """A complete header block (response head, informational head or trailers)."""

    def on_data(self, sid: int, data: memoryview, end_stream: bool) -> None:
        """Body bytes; ``data`` is valid only during the call (copy what you keep)."""

    def on_reset(self, sid: int, code: int) -> None:
        """The peer reset the stream (or a stream-level error made us reset it)."""

    def on_goaway(self, last_sid: int, code: int, debug: bytes) -> None:
        """The peer will process no stream above ``last_sid``."""

    def on_settings(self) -> None:
        """The peer's SETTINGS were applied (``max_streams``, windows may have changed)."""

    def on_window_open(self) -> None:
        """A WINDOW_UPDATE made room: parked uploads may continue."""


class H2ClientCodec:
    """State of one client connection; see the module rules."""

    __slots__ = (
        "_block",
        "_block_end",
        "_block_sid",
        "_careful",
        "_conn_used",
        "_dispatch",
        "_open",
        "_replies",
        "_send_windows",
        "_tail",
        "conn_window",
        "decoder",
        "encoder",
        "failed",
        "got_settings",
        "handler",
        "max_streams",
        "next_sid",
        "out",
        "peer_initial_window",
        "peer_max_frame",
        "send_conn_window",
        "stream_window",
    )

    def __init__(
        self, handler: H2Handler, *, conn_window: int = 16 << 20, stream_window: int = 4 << 20
    ) -> None:
        self.handler = handler
        self.out = bytearray(f.PREFACE)
        self.conn_window = max(conn_window, f.DEFAULT_WINDOW)
        self.stream_window = stream_window
        self.next_sid = 1
        self.max_streams = _UNBOUNDED  # the peer's MAX_CONCURRENT_STREAMS
        self.peer_max_frame = f.DEFAULT_MAX_FRAME
        self.peer_initial_window = f.DEFAULT_WINDOW
        self.send_conn_window = f.DEFAULT_WINDOW
        self.got_settings = False
        self.failed: H2Error | None = None
        self.encoder = HpackEncoder()
        self.decoder = HpackDecoder()
        #: Open streams (we may still receive on them) -> DATA bytes not yet acknowledged.
        self._open: dict[int, int] = {}
        #: Streams we are still sending a body on -> their send window.
        self._send_windows: dict[int, int] = {}
        self._conn_used = 0
        self._replies = 0  # rule 5
        self._tail = b""
        self._block = bytearray()  # a header block waiting for CONTINUATION
        self._block_sid = 0
        self._block_end = False
        self._careful = True  # no SETTINGS yet, or inside a header block: see _check_order
        self._dispatch = {
            f.DATA: self._on_data,
            f.HEADERS: self._on_headers,
            f.PRIORITY: self._on_priority,
            f.RST_STREAM: self._on_rst_stream,
            f.SETTINGS: self._on_settings,
            f.PUSH_PROMISE: self._on_push_promise,
            f.PING: self._on_ping,
            f.GOAWAY: self._on_goaway,
            f.WINDOW_UPDATE: self._on_window_update,
            f.CONTINUATION: self._on_continuation,
        }
        settings = [
            (f.SETTINGS_ENABLE_PUSH, 0),
            (f.SETTINGS_MAX_CONCURRENT_STREAMS, 0),
            (f.SETTINGS_INITIAL_WINDOW_SIZE, stream_window),
        ]
        f.append_settings(self.out, settings)
        if self.conn_window > f.DEFAULT_WINDOW:
            f.append_window_update(self.out, 0, self.conn_window - f.DEFAULT_WINDOW)

    def take(self) -> bytearray:
        """The bytes to send; ``out`` starts empty again (the caller owns what it got)."""
        data = self.out
        self.out = bytearray()
        self._replies = 0
        return data

    @property
    def open_streams(self) -> int:
        return len(self._open)

    # -- sending -----------------------------------------------------------------------------

    def open_stream(self, block: bytes, *, end_stream: bool) -> int:
        """Start a stream with ``block`` (an encoded header block); returns its id."""
        sid = self.next_sid
        self.next_sid = sid + 2
        self._open[sid] = 0
        if not end_stream:
            self._send_windows[sid] = self.peer_initial_window
        f.append_headers(self.out, sid, block, end_stream=end_stream, max_frame=self.peer_max_frame)
        return sid

    def send_data(self, sid: int, data: memoryview, *, end_stream: bool) -> int:
        """Send as much of ``data`` as the windows allow, in frames of the peer's maximum size;
        END_STREAM goes on the last frame only if all of it went. Returns the bytes sent."""
        windows = self._send_windows
        room = min(windows[sid], self.send_conn_window)
        n = len(data)
        if n > room:
            n = max(room, 0)
            end_stream = False
        if n == 0 and not end_stream:
            return 0
        out, step, pos = self.out, self.peer_max_frame, 0
        while n - pos > step:
            f.append_data(out, sid, data[pos : pos + step], end_stream=False)
            pos += step
        f.append_data(
            out, sid, data[pos:n] if pos or n < len(data) else data, end_stream=end_stream
        )
        self.send_conn_window -= n
        if end_stream:
            del windows[sid]
        else:
            windows[sid] -= n
        return n

    def reset_stream(self, sid: int, code: int = ErrorCode.CANCEL) -> None:
        """Send RST_STREAM unless the stream is already closed both ways."""
        known = self._open.pop(sid, None) is not None
        if self._send_windows.pop(sid, None) is not None or known:
            f.append_rst_stream(self.out, sid, code)

    def forget_stream(self, sid: int) -> None:
        """Drop a stream without a frame (the peer's GOAWAY said it will never process it)."""
        self._open.pop(sid, None)
        self._send_windows.pop(sid, None)

    def close(self, code: int = ErrorCode.NO_ERROR, debug: bytes = b"") -> None:
        """Queue our GOAWAY (we accept no streams: last stream id 0)."""
        f.append_goaway(self.out, 0, code, debug)

    # -- receiving ---------------------------------------------------------------------------

    def receive(self, data: bytes | bytearray | memoryview) -> None:
        """Process every complete frame in the tail kept from before plus ``data``.

        Raises H2Error for a connection error (after queueing our GOAWAY in ``out``).
        """
        if self.failed is not None:
            return
        view = memoryview(data)
        try:
            if self._tail:
                view = self._complete_tail(view)
            pos = self._parse(view)
        except HpackError as exc:
            self._fail(H2Error(ErrorCode.COMPRESSION_ERROR, str(exc)))
        except H2Error as exc:
            self._fail(exc)
        if pos < len(view):
            self._tail += view[pos:]

    def _complete_tail(self, view: memoryview) -> memoryview:
        """Finish the frame split at the last read with as few bytes of ``view`` as it needs
        and parse it; returns the rest of ``view``, parsed in place (empty if the frame is
        still incomplete: then it all went into the tail). Joining the whole read to the tail
        instead copied up to 256 KiB per read: a large GET's 8 KiB frames end nearly every
        read mid-frame."""
        tail = self._tail
        if len(tail) < 9:
            take = 9 - len(tail)
            tail += view[:take]
            view = view[take:]
        if len(tail) >= 9:
            length = tail[0] << 16 | tail[1] << 8 | tail[2]
            if length > f.DEFAULT_MAX_FRAME:
                raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"frame of {length} bytes")
            need = 9 + length - len(tail)
            if need <= len(view):
                self._tail = b""
                self._parse(memoryview(tail + view[:need]))  # exactly one whole frame
                return view[need:]
        self._tail = tail + view
        return view[len(view) :]

    def _fail(self, exc: H2Error) -> None:
        self.failed = exc
        self.close(exc.code, str(exc).encode()[:200])
        raise exc

    def _parse(self, buf: memoryview) -> int:
        pos, end = 0, len(buf)
        unpack, max_in = f.FRAME_HEAD.unpack_from, f.DEFAULT_MAX_FRAME
        dispatch = self._dispatch
        while end - pos >= 9:
            hi, lo, ftype, flags, sid = unpack(buf, pos)
            length = hi << 16 | lo
            if length > max_in:
                raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"frame of {length} bytes > {max_in}")
            stop = pos + 9 + length
            if stop > end:
                break
            payload = buf[pos + 9 : stop]
            pos = stop
            sid &= f.MAX_STREAM_ID
            if self._careful:
                self._check_order(ftype)
            # The two frames of every response skip the dispatch table; a HEADERS frame
            # without padding, priority or CONTINUATION goes straight to the decoder.
            if ftype == f.DATA:
                self._on_data(payload, flags, sid)
            elif ftype == f.HEADERS and flags & _PLAIN_HEADERS_MASK == f.FLAG_END_HEADERS and sid:
                self._header_block(sid, payload, bool(flags & f.FLAG_END_STREAM))
            else:
                handle = dispatch.get(ftype)
                if handle is not None:  # unknown frame types are ignored (RFC 9113 4.1)
                    handle(payload, flags, sid)
        return pos

    def _check_order(self, ftype: int) -> None:
        """Before the server's SETTINGS, or inside a header block, only one type may come."""
        if self._block_sid and ftype != f.CONTINUATION:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"frame type {ftype} inside a header block")
        if not self.got_settings and ftype != f.SETTINGS:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "the server's first frame is not SETTINGS")

    def _stream_gone(self, sid: int, what: str) -> None:
        """A frame for a stream not open: ignored if we opened and closed it, else an error."""
        if sid == 0 or sid >= self.next_sid or not sid & 1:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"{what} on stream {sid}, never opened")

    def _on_data(self, payload: memoryview, flags: int, sid: int) -> None:
        n = len(payload)  # padding counts against the windows too
        used = self._conn_used + n
        if used > self.conn_window:
            raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        if used >= self.conn_window >> 1:
            f.append_window_update(self.out, 0, used)
            used = 0
        self._conn_used = used
        data = f.unpad(payload, flags) if flags & f.FLAG_PADDED else payload
        stream_used = self._open.get(sid)
        if stream_used is None:
            self._stream_gone(sid, "DATA")
            return
        end_stream = bool(flags & f.FLAG_END_STREAM)
        if end_stream:
            del self._open[sid]
        else:
            stream_used += n
            if stream_used > self.stream_window:
                raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, f"DATA beyond stream {sid}'s window")
            if stream_used >= self.stream_window >> 1:
                f.append_window_update(self.out, sid, stream_used)
                stream_used = 0
            self._open[sid] = stream_used
        self.handler.on_data(sid, data, end_stream)

    def _on_headers(self, payload: memoryview, flags: int, sid: int) -> None:
        if sid == 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0")
        block = f.unpad(payload, flags) if flags & f.FLAG_PADDED else payload
        if flags & f.FLAG_PRIORITY:
            if len(block) < 5:
                raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short for its priority")
            block = block[5:]
        end_stream = bool(flags & f.FLAG_END_STREAM)
        if flags & f.FLAG_END_HEADERS:
            self._header_block(sid, block, end_stream)
        else:
            self._block = bytearray(block)
            self._block_sid, self._block_end = sid, end_stream
            self._careful = True

    def _on_continuation(self, payload: memoryview, flags: int, sid: int) -> None:
        if sid == 0 or sid != self._block_sid:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"CONTINUATION on stream {sid} out of place")
        self._block += payload
        if len(self._block) > MAX_HEADER_BLOCK:
            raise H2Error(ErrorCode.ENHANCE_YOUR_CALM, "header block over 1 MiB")
        if flags & f.FLAG_END_HEADERS:
            block, self._block, self._block_sid = self._block, bytearray(), 0
            self._careful = not self.got_settings
            self._header_block(sid, memoryview(block), self._block_end)

    def _header_block(self, sid: int, block: memoryview, end_stream: bool) -> None:
        fields = self.decoder.decode(block)  # always: the dynamic table is the connection's
        if sid not in self._open:
            self._stream_gone(sid, "HEADERS")
            return
        if end_stream:
            del self._open[sid]
        self.handler.on_headers(sid, fields, end_stream)

    def _on_priority(self, payload: memoryview, flags: int, sid: int) -> None:
        """Ignored (RFC 9113 deprecates it; it may name any stream, idle ones too), but a
        wrong length is a stream error on a stream of ours (RFC 9113 6.3)."""
        if sid == 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0")
        if len(payload) != 5 and sid in self._open:
            self._stream_error(sid, ErrorCode.FRAME_SIZE_ERROR)

    def _stream_error(self, sid: int, code: ErrorCode) -> None:
        """RST_STREAM for that stream only; the handler fails it."""
        self.reset_stream(sid, code)
        self._count_reply()
        self.handler.on_reset(sid, code)

    def _count_reply(self) -> None:
        """Rule 5: one more frame the peer made us queue."""
        self._replies += 1
        if self._replies > MAX_QUEUED_REPLIES:
            why = f"over {MAX_QUEUED_REPLIES} PING/SETTINGS/stream-error replies left unread"
            raise H2Error(ErrorCode.ENHANCE_YOUR_CALM, why)

    def _on_rst_stream(self, payload: memoryview, flags: int, sid: int) -> None:
        code = f.parse_rst_stream(payload)
        if self._open.pop(sid, None) is None:
            self._stream_gone(sid, "RST_STREAM")
            if self._send_windows.pop(sid, None) is None:
                return
        self._send_windows.pop(sid, None)
        self.handler.on_reset(sid, code)

    def _on_settings(self, payload: memoryview, flags: int, sid: int) -> None:
        if sid:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"SETTINGS on stream {sid}")
        if flags & f.FLAG_ACK:
            if payload:
                raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        window = -1
        for ident, value in f.parse_settings(payload):
            if ident == f.SETTINGS_INITIAL_WINDOW_SIZE:
                if value > f.MAX_WINDOW:
                    raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, f"INITIAL_WINDOW_SIZE {value}")
                window = value
            else:
                self._apply_setting(ident, value)
        if window >= 0:
            self._move_send_windows(window)
        self.got_settings = True
        self._careful = bool(self._block_sid)
        f.append_settings_ack(self.out)
        self._count_reply()
        self.handler.on_settings()

    def _move_send_windows(self, initial: int) -> None:
        """Only a frame's last INITIAL_WINDOW_SIZE moves the windows (by the difference): a
        16 KiB SETTINGS frame holds 2,730 settings, and moving every uploading stream's window
        for each cost settings x streams per frame."""
        delta = initial - self.peer_initial_window
        self.peer_initial_window = initial
        windows = self._send_windows
        for sid, window in windows.items():
            if window + delta > f.MAX_WINDOW:
                raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, f"stream {sid}'s window overflows")
            windows[sid] = window + delta

    def _apply_setting(self, ident: int, value: int) -> None:
        if ident == f.SETTINGS_MAX_FRAME_SIZE:
            if not f.DEFAULT_MAX_FRAME <= value <= f.MAX_FRAME_LIMIT:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, f"MAX_FRAME_SIZE {value}")
            self.peer_max_frame = value
        elif ident == f.SETTINGS_MAX_CONCURRENT_STREAMS:
            self.max_streams = value
        elif ident == f.SETTINGS_HEADER_TABLE_SIZE:
            self.encoder.set_max_table_size(value)
        elif ident == f.SETTINGS_ENABLE_PUSH and value != 0:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"a server sent ENABLE_PUSH {value}")

    def _on_push_promise(self, payload: memoryview, flags: int, sid: int) -> None:
        raise H2Error(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE, though we sent ENABLE_PUSH=0")

    def _on_ping(self, payload: memoryview, flags: int, sid: int) -> None:
        if sid:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"PING on stream {sid}")
        if len(payload) != 8:
            raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"PING length {len(payload)}")
        if not flags & f.FLAG_ACK:
            f.append_ping(self.out, bytes(payload), ack=True)
            self._count_reply()

    def _on_goaway(self, payload: memoryview, flags: int, sid: int) -> None:
        if sid:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, f"GOAWAY on stream {sid}")
        last_sid, code, debug = f.parse_goaway(payload)
        self.handler.on_goaway(last_sid, code, debug)

    def _on_window_update(self, payload: memoryview, flags: int, sid: int) -> None:
        increment = f.parse_u31(payload, "WINDOW_UPDATE")
        if sid == 0:
            if increment == 0:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection")
            self.send_conn_window += increment
            if self.send_conn_window > f.MAX_WINDOW:
                raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, "connection window over 2^31-1")
            self.handler.on_window_open()
            return
        window = self._send_windows.get(sid)
        if window is None:
            if sid not in self._open:
                self._stream_gone(sid, "WINDOW_UPDATE")
            return
        window += increment
        if increment == 0 or window > f.MAX_WINDOW:
            code = ErrorCode.PROTOCOL_ERROR if increment == 0 else ErrorCode.FLOW_CONTROL_ERROR
            self._stream_error(sid, code)
            return
        self._send_windows[sid] = window
        self.handler.on_window_open()
