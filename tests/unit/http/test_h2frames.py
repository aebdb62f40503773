"""h2frames against hyperframe (the h2 package's frame library) as the oracle: our frames parse
with hyperframe to the same fields, and hyperframe's frames parse with ours."""

from __future__ import annotations

from typing import Any

import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.http import h2frames as f
from sai3bench.http.h2frames import ErrorCode, H2Error

SIDS = st.integers(1, f.MAX_STREAM_ID)
U31 = st.integers(0, f.MAX_WINDOW)
U32 = st.integers(0, (1 << 32) - 1)


def oracle_frames(data: bytes) -> list[Any]:
    """Every frame in ``data``, parsed by hyperframe; nothing may be left over."""
    frames, view = [], memoryview(data)
    while view:
        frame, length = Frame.parse_frame_header(view[:9])
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def ours(frame: Any) -> tuple[int, int, int, int, memoryview]:
    """hyperframe's frame serialised, then its header parsed by us: (length, type, flags,
    stream id, payload)."""
    data = memoryview(frame.serialize())
    length, ftype, flags, sid = f.parse_frame_head(data)
    assert length == len(data) - 9
    return length, ftype, flags, sid, data[9:]


@settings(max_examples=200, deadline=None)
@given(SIDS, st.binary(max_size=300), st.booleans())
def test_data_round_trip(sid: int, payload: bytes, end: bool) -> None:
    out = bytearray()
    f.append_data(out, sid, memoryview(payload), end_stream=end)
    (frame,) = oracle_frames(bytes(out))
    assert isinstance(frame, DataFrame)
    assert (frame.stream_id, frame.data, "END_STREAM" in frame.flags) == (sid, payload, end)


@settings(max_examples=200, deadline=None)
@given(SIDS, st.binary(max_size=300), st.integers(0, 255), st.booleans())
def test_oracle_padded_data_parses_with_ours(sid: int, payload: bytes, pad: int, end: bool) -> None:
    frame = DataFrame(sid, data=payload, pad_length=pad)
    frame.flags.add("PADDED")
    if end:
        frame.flags.add("END_STREAM")
    _, ftype, flags, got_sid, body = ours(frame)
    assert (ftype, got_sid, bool(flags & f.FLAG_END_STREAM)) == (f.DATA, sid, end)
    assert bytes(f.unpad(body, flags)) == payload


@settings(max_examples=200, deadline=None)
@given(SIDS, st.binary(max_size=200), st.integers(1, 64), st.booleans())
def test_headers_split_into_continuation_at_max_frame(
    sid: int, block: bytes, max_frame: int, end: bool
) -> None:
    out = bytearray()
    f.append_headers(out, sid, block, end_stream=end, max_frame=max_frame)
    frames = oracle_frames(bytes(out))
    assert isinstance(frames[0], HeadersFrame)
    assert all(isinstance(fr, ContinuationFrame) for fr in frames[1:])
    assert all(fr.stream_id == sid and len(fr.data) <= max_frame for fr in frames)
    assert b"".join(fr.data for fr in frames) == block
    assert ["END_HEADERS" in fr.flags for fr in frames] == [False] * (len(frames) - 1) + [True]
    assert ("END_STREAM" in frames[0].flags) == end
    assert len(frames) == max(1, -(-len(block) // max_frame))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), U32), max_size=8))
def test_settings_round_trip(pairs: list[tuple[int, int]]) -> None:
    out = bytearray()
    f.append_settings(out, pairs)
    f.append_settings_ack(out)
    frame, ack = oracle_frames(bytes(out))
    assert isinstance(frame, SettingsFrame) and "ACK" not in frame.flags
    assert frame.settings == dict(pairs)
    assert isinstance(ack, SettingsFrame) and "ACK" in ack.flags and not ack.settings
    small = {ident & 0xFF: value for ident, value in pairs}  # hyperframe masks ids to 8 bits
    oracle = SettingsFrame(0, settings=small)
    assert f.parse_settings(ours(oracle)[4]) == list(small.items())


@settings(max_examples=200, deadline=None)
@given(st.integers(0, f.MAX_STREAM_ID), st.integers(1, f.MAX_WINDOW))
def test_window_update_round_trip(sid: int, increment: int) -> None:
    out = bytearray()
    f.append_window_update(out, sid, increment)
    (frame,) = oracle_frames(bytes(out))
    assert isinstance(frame, WindowUpdateFrame)
    assert (frame.stream_id, frame.window_increment) == (sid, increment)
    body = ours(WindowUpdateFrame(sid, window_increment=increment))[4]
    assert f.parse_u31(body, "WINDOW_UPDATE") == increment


@settings(max_examples=200, deadline=None)
@given(
    SIDS,
    U32,
    st.integers(0, f.MAX_STREAM_ID),
    st.binary(max_size=40),
    st.binary(min_size=8, max_size=8),
)
def test_rst_goaway_ping_round_trip(
    sid: int, code: int, last: int, debug: bytes, opaque: bytes
) -> None:
    out = bytearray()
    f.append_rst_stream(out, sid, code)
    f.append_goaway(out, last, code, debug)
    f.append_ping(out, opaque, ack=True)
    rst, goaway, ping = oracle_frames(bytes(out))
    assert isinstance(rst, RstStreamFrame) and (rst.stream_id, rst.error_code) == (sid, code)
    assert isinstance(goaway, GoAwayFrame)
    assert (goaway.last_stream_id, goaway.error_code, goaway.additional_data) == (last, code, debug)
    assert isinstance(ping, PingFrame) and "ACK" in ping.flags and ping.opaque_data == opaque
    assert f.parse_rst_stream(ours(RstStreamFrame(sid, error_code=code))[4]) == code
    theirs = GoAwayFrame(0, last_stream_id=last, error_code=code, additional_data=debug)
    assert f.parse_goaway(ours(theirs)[4]) == (last, code, debug)


def test_frame_head_drops_the_reserved_bit() -> None:
    head = f.FRAME_HEAD.pack(0x01, 0x0203, f.HEADERS, 0x25, 0x80000007)
    assert f.parse_frame_head(head) == (0x010203, f.HEADERS, 0x25, 7)


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: f.unpad(memoryview(b"\x05abc"), f.FLAG_PADDED), ErrorCode.PROTOCOL_ERROR),
        (lambda: f.unpad(memoryview(b""), f.FLAG_PADDED), ErrorCode.FRAME_SIZE_ERROR),
        (lambda: f.parse_settings(memoryview(b"\x00" * 7)), ErrorCode.FRAME_SIZE_ERROR),
        (lambda: f.parse_u31(memoryview(b"\x00" * 3), "x"), ErrorCode.FRAME_SIZE_ERROR),
        (lambda: f.parse_rst_stream(memoryview(b"\x00" * 5)), ErrorCode.FRAME_SIZE_ERROR),
        (lambda: f.parse_goaway(memoryview(b"\x00" * 7)), ErrorCode.FRAME_SIZE_ERROR),
    ],
)
def test_malformed_payloads_are_connection_errors(call: Any, code: ErrorCode) -> None:
    with pytest.raises(H2Error) as err:
        call()
    assert err.value.code == code and str(err.value).startswith(code.name)


def test_code_names() -> None:
    assert f.code_name(0xB) == "ENHANCE_YOUR_CALM" and f.code_name(0x1234) == "0x1234"
