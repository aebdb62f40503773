"""HTTP/2 frames (RFC 9113 sections 4 and 6): constants, the 9-byte frame header, payload
parsers, and serialisers that append to one outbound bytearray.

Pure: no socket, clock or state. The serialisers take the connection's ``out`` buffer and
append to it, so many streams' frames leave in one ``write`` and no frame object is made on the
hot path. The hot-path constants are plain ints (an IntEnum member costs an attribute lookup
and a class check per use); ``ErrorCode`` is an IntEnum for the messages that name a code.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from typing import Final

from sai3bench.http.errors import ProtocolError

PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: Length (high 8 bits, low 16 bits), type, flags, stream id (R bit included).
FRAME_HEAD: Final = struct.Struct(">BHBBL")
FRAME_HEAD_LEN: Final = 9
_U32: Final = struct.Struct(">L")
_U32X2: Final = struct.Struct(">LL")
_SETTING: Final = struct.Struct(">HL")

# Frame types.
DATA: Final = 0x0
HEADERS: Final = 0x1
PRIORITY: Final = 0x2
RST_STREAM: Final = 0x3
SETTINGS: Final = 0x4
PUSH_PROMISE: Final = 0x5
PING: Final = 0x6
GOAWAY: Final = 0x7
WINDOW_UPDATE: Final = 0x8
CONTINUATION: Final = 0x9

# Flags.
FLAG_END_STREAM: Final = 0x1
FLAG_ACK: Final = 0x1
FLAG_END_HEADERS: Final = 0x4
FLAG_PADDED: Final = 0x8
FLAG_PRIORITY: Final = 0x20

# Settings identifiers.
SETTINGS_HEADER_TABLE_SIZE: Final = 0x1
SETTINGS_ENABLE_PUSH: Final = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS: Final = 0x3
SETTINGS_INITIAL_WINDOW_SIZE: Final = 0x4
SETTINGS_MAX_FRAME_SIZE: Final = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE: Final = 0x6

DEFAULT_WINDOW: Final = 65535
DEFAULT_MAX_FRAME: Final = 16384
MAX_FRAME_LIMIT: Final = (1 << 24) - 1
MAX_WINDOW: Final = (1 << 31) - 1
MAX_STREAM_ID: Final = (1 << 31) - 1


class ErrorCode(enum.IntEnum):
    """RST_STREAM and GOAWAY error codes (RFC 9113 section 7)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


def code_name(code: int) -> str:
    """``PROTOCOL_ERROR``, or ``0x1f`` for a code RFC 9113 does not name (still valid)."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"0x{code:x}"


class H2Error(ProtocolError):
    """A connection error (RFC 9113 section 5.4.1): the peer broke HTTP/2. ``code`` goes into
    our GOAWAY; the connection cannot be used after it."""

    def __init__(self, code: ErrorCode, why: str) -> None:
        super().__init__(f"{code.name}: {why}")
        self.code = code


# -- parsing ---------------------------------------------------------------------------------


def parse_frame_head(
    buf: bytes | bytearray | memoryview, pos: int = 0
) -> tuple[int, int, int, int]:
    """(length, type, flags, stream id) of the frame header at ``pos`` (9 bytes needed)."""
    hi, lo, ftype, flags, sid = FRAME_HEAD.unpack_from(buf, pos)
    return hi << 16 | lo, ftype, flags, sid & MAX_STREAM_ID


def unpad(payload: memoryview, flags: int) -> memoryview:
    """The payload without its PADDED length byte and padding (DATA, HEADERS)."""
    if not flags & FLAG_PADDED:
        return payload
    if not payload:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "PADDED frame without a pad length")
    pad = payload[0]
    if pad >= len(payload):
        raise H2Error(ErrorCode.PROTOCOL_ERROR, f"padding {pad} >= payload {len(payload)}")
    return payload[1 : len(payload) - pad]


def parse_settings(payload: memoryview) -> list[tuple[int, int]]:
    """(identifier, value) pairs in order; the length must be a multiple of 6."""
    if len(payload) % 6:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"SETTINGS length {len(payload)}")
    return [_SETTING.unpack_from(payload, i) for i in range(0, len(payload), 6)]


def parse_u31(payload: memoryview, what: str) -> int:
    """A 4-byte payload (WINDOW_UPDATE increment, R bit dropped)."""
    if len(payload) != 4:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"{what} length {len(payload)}")
    return int(_U32.unpack_from(payload)[0]) & MAX_WINDOW


def parse_rst_stream(payload: memoryview) -> int:
    """RST_STREAM's error code."""
    if len(payload) != 4:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"RST_STREAM length {len(payload)}")
    return int(_U32.unpack_from(payload)[0])


def parse_goaway(payload: memoryview) -> tuple[int, int, bytes]:
    """(last stream id, error code, debug data) of a GOAWAY."""
    if len(payload) < 8:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"GOAWAY length {len(payload)}")
    last, code = _U32X2.unpack_from(payload)
    return last & MAX_STREAM_ID, code, bytes(payload[8:])


# -- serialising -----------------------------------------------------------------------------


def append_frame(
    out: bytearray, ftype: int, flags: int, sid: int, payload: bytes | memoryview = b""
) -> None:
    """Any frame: header then payload (at most the peer's MAX_FRAME_SIZE; not checked)."""
    n = len(payload)
    out += FRAME_HEAD.pack(n >> 16, n & 0xFFFF, ftype, flags, sid)
    if n:
        out += payload


def append_settings(out: bytearray, settings: Iterable[tuple[int, int]]) -> None:
    payload = b"".join(_SETTING.pack(ident, value) for ident, value in settings)
    append_frame(out, SETTINGS, 0, 0, payload)


def append_settings_ack(out: bytearray) -> None:
    out += FRAME_HEAD.pack(0, 0, SETTINGS, FLAG_ACK, 0)


def append_headers(
    out: bytearray, sid: int, block: bytes, *, end_stream: bool, max_frame: int
) -> None:
    """HEADERS, then CONTINUATION frames when the block is larger than ``max_frame``."""
    n = len(block)
    end = FLAG_END_STREAM if end_stream else 0
    if n <= max_frame:
        out += FRAME_HEAD.pack(n >> 16, n & 0xFFFF, HEADERS, end | FLAG_END_HEADERS, sid)
        out += block
        return
    view = memoryview(block)
    append_frame(out, HEADERS, end, sid, view[:max_frame])
    for pos in range(max_frame, n, max_frame):
        last = pos + max_frame >= n
        append_frame(
            out, CONTINUATION, FLAG_END_HEADERS if last else 0, sid, view[pos : pos + max_frame]
        )


def append_data(out: bytearray, sid: int, data: bytes | memoryview, *, end_stream: bool) -> None:
    """One DATA frame (``data`` at most the peer's MAX_FRAME_SIZE and window; not checked)."""
    n = len(data)
    out += FRAME_HEAD.pack(n >> 16, n & 0xFFFF, DATA, FLAG_END_STREAM if end_stream else 0, sid)
    if n:
        out += data


def append_window_update(out: bytearray, sid: int, increment: int) -> None:
    out += FRAME_HEAD.pack(0, 4, WINDOW_UPDATE, 0, sid)
    out += _U32.pack(increment)


def append_ping(out: bytearray, opaque: bytes, *, ack: bool) -> None:
    append_frame(out, PING, FLAG_ACK if ack else 0, 0, opaque)


def append_rst_stream(out: bytearray, sid: int, code: int) -> None:
    out += FRAME_HEAD.pack(0, 4, RST_STREAM, 0, sid)
    out += _U32.pack(code)


def append_goaway(out: bytearray, last_sid: int, code: int, debug: bytes = b"") -> None:
    append_frame(out, GOAWAY, 0, 0, _U32X2.pack(last_sid, code) + debug)
