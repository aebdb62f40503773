"""H2ClientCodec and H2Connection against a hostile or broken server: floods, frames of the
wrong size, frames in the wrong order (RFC 9113 as a checklist)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import h2.events
import h2.settings
import hpack
import pytest
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.http import h2codec
from sai3bench.http import h2frames as f
from sai3bench.http.h2frames import ErrorCode, H2Error
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner
from tests.unit.http.test_h2codec import Peer, raw
from tests.unit.http.test_h2conn import Wire
from tests.unit.http.test_h2frames import oracle_frames

PING = raw(PingFrame(0, opaque_data=b"12345678"))
SETTINGS = raw(SettingsFrame(0))


@pytest.mark.parametrize("frame", [PING, SETTINGS], ids=["ping", "settings"])
def test_a_flood_of_frames_we_must_answer_fails_once_the_answers_pile_up_unsent(
    frame: bytes,
) -> None:
    """Each PING and SETTINGS needs an ACK; a peer that floods them and never reads would
    grow our outbound buffer without bound (CVE-2019-9512 / 9515)."""
    p = Peer()
    p.codec.receive(frame * h2codec.MAX_QUEUED_REPLIES)  # answered, but not yet sent
    with pytest.raises(H2Error) as err:
        p.codec.receive(frame)
    assert err.value.code == ErrorCode.ENHANCE_YOUR_CALM
    (*_, goaway) = oracle_frames(bytes(p.codec.out))
    assert isinstance(goaway, GoAwayFrame) and goaway.error_code == ErrorCode.ENHANCE_YOUR_CALM


def test_a_peer_that_reads_its_acks_may_ping_as_often_as_it_likes() -> None:
    p = Peer()
    for _ in range(3):
        p.codec.receive(PING * (h2codec.MAX_QUEUED_REPLIES - 1))
        assert len(oracle_frames(bytes(p.codec.take()))) == h2codec.MAX_QUEUED_REPLIES - 1


def test_priority_of_the_wrong_length_resets_only_that_stream() -> None:
    """RFC 9113 6.3: a stream error FRAME_SIZE_ERROR; on a stream that is not ours (PRIORITY
    may name idle streams) there is nothing to reset."""
    p = Peer()
    sid = p.get()
    p.to_server()
    bad = f.FRAME_HEAD.pack(0, 4, f.PRIORITY, 0, sid) + b"abcd"
    idle = f.FRAME_HEAD.pack(0, 4, f.PRIORITY, 0, 101) + b"abcd"
    p.codec.receive(bad + idle + PING)
    assert p.handler.calls == [("reset", sid, ErrorCode.FRAME_SIZE_ERROR)]
    rst, ping = oracle_frames(bytes(p.codec.take()))
    assert isinstance(rst, RstStreamFrame) and rst.stream_id == sid
    assert rst.error_code == ErrorCode.FRAME_SIZE_ERROR and "ACK" in ping.flags


def test_data_on_a_stream_we_reset_still_opens_the_connection_window() -> None:
    """The server may have sent it before our RST_STREAM arrived: it counts against the
    connection window, and unless we give that back the connection stalls."""
    p = Peer(conn_window=65535)
    sid = p.get()
    p.to_server()
    p.codec.reset_stream(sid)
    p.codec.take()
    p.codec.receive(raw(DataFrame(sid, data=b"x" * 16384), DataFrame(sid, data=b"x" * 16000)))
    assert not p.codec.out and p.handler.calls == []  # under half the window: nothing yet
    p.codec.receive(raw(DataFrame(sid, data=b"x" * 1000, flags=["END_STREAM"])))
    (update,) = oracle_frames(bytes(p.codec.out))
    assert isinstance(update, WindowUpdateFrame)
    assert (update.stream_id, update.window_increment) == (0, 16384 + 16000 + 1000)
    assert p.handler.calls == []


def test_data_before_the_response_head_fails_that_stream_as_protocol(
    run_loop: LoopRunner,
) -> None:
    """RFC 9113 8.1: a response is HEADERS first. DATA with END_STREAM and no head at all
    must not be a success with status 0."""

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request("GET", "/k", "h", timeout=5)
        (req,) = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        w.to_client()
        w.feed(raw(DataFrame(req.stream_id, data=b"body", flags=["END_STREAM"])))
        with pytest.raises(OpError) as err:
            await fut
        assert err.value.outcome == Outcome.PROTOCOL and "before" in str(err.value)

    run_loop(go())


def test_replies_wait_while_the_transport_is_full_and_a_flood_then_fails_the_connection(
    run_loop: LoopRunner,
) -> None:
    """While the transport says its buffer is full (pause_writing), our replies stay in the
    codec, where the flood bound sees them; resume_writing sends them."""

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        w.to_server()
        w.to_client()
        w.client._flush()
        w.transport.out.clear()
        w.client.pause_writing()
        w.feed(PING * 10)
        await asyncio.sleep(0)
        assert not w.transport.out
        w.client.resume_writing()
        assert len(oracle_frames(bytes(w.transport.out))) == 10
        w.client.pause_writing()
        fut = w.client.request("GET", "/k", "h", timeout=5)
        for _ in range(h2codec.MAX_QUEUED_REPLIES // 500 + 1):
            w.feed(PING * 500)
            await asyncio.sleep(0)
        with pytest.raises(OpError) as err:
            await fut
        assert err.value.outcome == Outcome.CONNECTION and w.transport.aborted

    run_loop(go())


def test_a_settings_flood_of_table_sizes_keeps_the_encoder_small() -> None:
    """Only the lowest and the last size since the last block are announced (RFC 7541 4.2),
    so only those are kept: a peer alternating HEADER_TABLE_SIZE while we send nothing must
    not grow a list per SETTINGS frame."""
    p = Peer()
    for i in range(2000):
        p.codec.receive(raw(SettingsFrame(0, settings={1: 1000 + i % 7})))
        p.codec.take()
    assert len(p.codec.encoder._resizes) <= 3
    sid = p.get()
    (req,) = [e for e in p.to_server() if isinstance(e, h2.events.RequestReceived)]
    assert req.stream_id == sid  # the h2 server decoded the size updates and the head


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (f.FRAME_HEAD.pack(0, 4, f.RST_STREAM, 0, 0) + b"\0\0\0\0", "PROTOCOL_ERROR"),
        (f.FRAME_HEAD.pack(0, 5, f.PRIORITY, 0, 0) + b"\0" * 5, "PROTOCOL_ERROR"),
        (f.FRAME_HEAD.pack(0, 1, f.CONTINUATION, 4, 0) + b"\x88", "PROTOCOL_ERROR"),
        (f.FRAME_HEAD.pack(0, 0, f.SETTINGS, 0, 1), "PROTOCOL_ERROR"),
        (f.FRAME_HEAD.pack(0, 8, f.PING, 0, 1) + b"\0" * 8, "PROTOCOL_ERROR"),
        (f.FRAME_HEAD.pack(0, 8, f.GOAWAY, 0, 1) + b"\0" * 8, "PROTOCOL_ERROR"),
        (f.FRAME_HEAD.pack(0, 3, f.WINDOW_UPDATE, 0, 1) + b"\0" * 3, "FRAME_SIZE_ERROR"),
        (f.FRAME_HEAD.pack(0, 6, f.SETTINGS, 1, 0) + b"\0" * 6, "FRAME_SIZE_ERROR"),
        (raw(SettingsFrame(0, settings={5: 1 << 24})), "PROTOCOL_ERROR"),
        (raw(DataFrame(7, data=b"x")), "PROTOCOL_ERROR"),  # odd, above our highest id
        (
            f.FRAME_HEAD.pack(0, 0, f.HEADERS, 0, 3) + f.FRAME_HEAD.pack(0, 0, 9, 4, 5),
            "PROTOCOL_ERROR",
        ),
    ],
    ids=[
        "rst on 0",
        "priority on 0",
        "continuation on 0",
        "settings on a stream",
        "ping on a stream",
        "goaway on a stream",
        "window update of 3 bytes",
        "settings ack with a payload",
        "max frame size 2^24",
        "data above our highest stream",
        "continuation on another stream",
    ],
)
def test_frames_on_the_wrong_stream_or_of_the_wrong_size_are_connection_errors(
    frame: bytes, code: str
) -> None:
    p = Peer()
    p.get(), p.get()
    p.to_server()
    with pytest.raises(H2Error) as err:
        p.codec.receive(frame)
    assert err.value.code.name == code


def test_window_update_of_0_on_an_upload_resets_only_that_stream() -> None:
    p = Peer()
    block = p.codec.encoder.encode_request("PUT", "http", "h", "/up", [])
    sid = p.codec.open_stream(block, end_stream=False)
    p.to_server()
    p.codec.receive(raw(WindowUpdateFrame(sid, window_increment=0)) + PING)
    assert p.handler.calls == [("reset", sid, ErrorCode.PROTOCOL_ERROR)]
    rst, ping = oracle_frames(bytes(p.codec.take()))
    assert isinstance(rst, RstStreamFrame) and rst.error_code == ErrorCode.PROTOCOL_ERROR
    assert "ACK" in ping.flags  # the connection lives on


def test_max_concurrent_streams_lowered_mid_connection_holds_new_streams_back(
    run_loop: LoopRunner,
) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        first = w.client.request("GET", "/a", "h", timeout=5)
        (req,) = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        w.server.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        w.to_client()
        later = [w.client.request("GET", f"/{i}", "h", timeout=5) for i in range(2)]
        await asyncio.sleep(0)
        assert not [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        w.server.send_headers(req.stream_id, [(b":status", b"204")], end_stream=True)
        w.to_client()
        assert (await first).status == 204
        started = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        assert len(started) == 1 and len(w.client.queued) == 1
        for fut in later:
            fut.cancel()

    run_loop(go())


class CountingWindows(dict[int, int]):
    """The codec's send windows, counting every write."""

    writes = 0

    def __setitem__(self, sid: int, window: int) -> None:
        self.writes += 1
        super().__setitem__(sid, window)


def test_a_settings_frame_full_of_window_sizes_moves_each_window_once() -> None:
    """A 16 KiB SETTINGS frame holds 2,730 settings: applying each INITIAL_WINDOW_SIZE to every
    uploading stream cost settings x streams dict writes per frame (a CPU amplifier); only the
    last value matters (RFC 9113 6.9.2 moves windows by the difference)."""
    p = Peer()
    block = p.codec.encoder.encode_request("PUT", "http", "h", "/up", [])
    sids = [p.codec.open_stream(block, end_stream=False) for _ in range(10)]
    windows = p.codec._send_windows = CountingWindows(p.codec._send_windows)
    payload = b"".join(f._SETTING.pack(4, 1000 + i) for i in range(2000))
    p.codec.receive(f.FRAME_HEAD.pack(0, len(payload), f.SETTINGS, 0, 0) + payload)
    assert windows.writes == len(sids)
    assert all(windows[sid] == 1000 + 1999 for sid in sids)
    assert p.codec.peer_initial_window == 2999


def test_an_initial_window_size_over_2_31_anywhere_in_the_frame_is_refused() -> None:
    p = Peer()
    payload = f._SETTING.pack(4, 1 << 31) + f._SETTING.pack(4, 1000)
    with pytest.raises(H2Error) as err:
        p.codec.receive(f.FRAME_HEAD.pack(0, len(payload), f.SETTINGS, 0, 0) + payload)
    assert err.value.code == ErrorCode.FLOW_CONTROL_ERROR


def test_padding_counts_against_the_windows_and_is_given_back() -> None:
    p = Peer(stream_window=1000)
    sid = p.get()
    p.to_server()
    p.codec.receive(raw(HeadersFrame(sid, data=b"\x88", flags=["END_HEADERS"])))
    frame = raw(DataFrame(sid, data=b"x" * 10, pad_length=255, flags=["PADDED"]))
    p.codec.receive(frame * 2)  # 2 x (1 + 10 + 255): past half the stream window
    (update,) = oracle_frames(bytes(p.codec.take()))
    assert (update.stream_id, update.window_increment) == (sid, 2 * 266)
    small = Peer(stream_window=200)
    sid = small.get()
    small.to_server()
    small.codec.receive(raw(HeadersFrame(sid, data=b"\x88", flags=["END_HEADERS"])))
    with pytest.raises(H2Error) as err:  # 266 > 200, though only 10 bytes are data
        small.codec.receive(raw(DataFrame(sid, data=b"x" * 10, pad_length=255, flags=["PADDED"])))
    assert err.value.code == ErrorCode.FLOW_CONTROL_ERROR


def test_a_header_block_is_bounded_before_it_is_decoded() -> None:
    """A CONTINUATION flood: the block is refused once its raw size passes MAX_HEADER_BLOCK,
    before any of it reaches the HPACK decoder."""
    p = Peer()
    sid = p.get()
    p.to_server()
    piece = f.FRAME_HEAD.pack(0, 16384, f.CONTINUATION, 0, sid) + b"\x88" * 16384
    p.codec.receive(raw(HeadersFrame(sid, data=b"\x88")))
    p.codec.receive(piece * (h2codec.MAX_HEADER_BLOCK // 16384 - 1))
    with pytest.raises(H2Error) as err:
        p.codec.receive(piece)
    assert err.value.code == ErrorCode.ENHANCE_YOUR_CALM and p.handler.calls == []


FRAMES = st.lists(
    st.tuples(
        st.integers(0, 11),  # every type we know, and one we do not
        st.integers(0, 255),  # any flags
        st.sampled_from([0, 1, 2, 3, 5, 7, 9, 101, f.MAX_STREAM_ID]),
        st.binary(max_size=24),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(FRAMES, st.lists(st.integers(0, 400), max_size=6))
def test_any_frames_at_any_split_raise_nothing_but_h2_error(
    frames: list[tuple[int, int, int, bytes]], cuts: list[int]
) -> None:
    """Whatever a peer sends, the codec either handles it or fails the connection with
    H2Error (a GOAWAY queued); it never raises anything else, and all it queues is valid
    frames."""
    p = Peer()
    block = p.codec.encoder.encode_request("PUT", "http", "h", "/up", [])
    p.get(), p.codec.open_stream(block, end_stream=False), p.get()
    p.codec.reset_stream(5)
    p.codec.take()
    data = b"".join(f.FRAME_HEAD.pack(0, len(pl), t, fl, sid) + pl for t, fl, sid, pl in frames)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    try:
        for a, b in itertools.pairwise(bounds):
            p.codec.receive(data[a:b])
    except H2Error:
        assert p.codec.failed is not None
    oracle_frames(bytes(p.codec.out))


def test_what_is_tolerated_on_purpose_changes_nothing() -> None:
    """h2codec rule 6: ACKs we did not ask for, frames on streams we closed, PRIORITY on an
    idle stream, a GOAWAY whose last id grows: no handler call but the GOAWAYs, nothing sent,
    the connection lives on."""
    p = Peer()
    a, b = p.get(), p.get()
    p.to_server()
    p.codec.reset_stream(a)
    p.codec.take()
    p.codec.receive(
        raw(
            PingFrame(0, opaque_data=b"12345678", flags=["ACK"]),
            SettingsFrame(0, flags=["ACK"]),
            RstStreamFrame(a, error_code=2),
            WindowUpdateFrame(a, window_increment=5),
            DataFrame(a, data=b"", flags=["END_STREAM"]),
            GoAwayFrame(0, last_stream_id=b, error_code=0),
            GoAwayFrame(0, last_stream_id=f.MAX_STREAM_ID, error_code=0),
        )
        + f.FRAME_HEAD.pack(0, 5, f.PRIORITY, 0, 99)
        + b"\0" * 5
    )
    assert p.handler.calls == [("goaway", b, 0, b""), ("goaway", f.MAX_STREAM_ID, 0, b"")]
    assert not p.codec.out and p.codec.failed is None and p.codec.open_streams == 1


def test_a_larger_initial_window_size_reopens_a_parked_upload(run_loop: LoopRunner) -> None:
    """No WINDOW_UPDATE at all: only SETTINGS grows the stream's window (RFC 9113 6.9.2)."""

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        w.server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
        w.to_client()
        w.to_server()
        fut = w.client.request("PUT", "/up", "h", body=memoryview(b"z" * 100), timeout=5)
        got = b"".join(e.data for e in w.to_server() if isinstance(e, h2.events.DataReceived))
        assert got == b"z" * 16 and w.client.blocked
        w.server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
        w.to_client()
        events = w.to_server()
        got += b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
        assert got == b"z" * 100 and not w.client.blocked
        (ended,) = [e for e in events if isinstance(e, h2.events.StreamEnded)]
        w.server.send_headers(ended.stream_id, [(b":status", b"201")], end_stream=True)
        w.to_client()
        assert (await fut).status == 201

    run_loop(go())


@pytest.mark.parametrize(
    ("status", "end_stream"),
    [(b"103", True), (b"100", True), (b"0", True), (b"99", False), (b"2000", True)],
)
def test_a_status_that_is_not_a_final_three_digit_code_fails_the_stream(
    run_loop: LoopRunner, status: bytes, end_stream: bool
) -> None:
    """RFC 9113 8.1: an informational (1xx) head cannot end the stream, and RFC 9110 15: a
    status is three digits. Either was a 'response' with status 103 or 2000, or (status 99
    taken for informational) a stream waiting for a head that never comes."""

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request("GET", "/k", "h", timeout=5)
        (req,) = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        w.to_client()
        flags = ["END_HEADERS", "END_STREAM"] if end_stream else ["END_HEADERS"]
        block = hpack.Encoder().encode([(b":status", status)])
        w.feed(raw(HeadersFrame(req.stream_id, data=block, flags=flags)))
        assert fut.done()  # failed by that frame, not left waiting
        with pytest.raises(OpError) as err:
            await fut
        assert err.value.outcome == Outcome.PROTOCOL

    run_loop(go())


STATUS = st.sampled_from([b"200", b"204", b"100", b"0", b"abc", b"", b"99", b"2000"])
RESPONSE_FRAMES = st.lists(
    st.tuples(
        st.sampled_from(["headers", "data", "rst", "goaway", "window", "settings"]),
        st.sampled_from([0, 1, 3, 5]),
        st.lists(st.tuples(st.sampled_from([b":status", b"x-a", b"X-Up", b":path"]), STATUS)),
        st.integers(0, 70_000),
        st.booleans(),
    ),
    max_size=10,
)


def _response_frame(kind: str, sid: int, fields: list[Any], n: int, end: bool) -> bytearray:
    out = bytearray()
    if kind == "headers" and sid:
        block = hpack.Encoder().encode(fields)
        f.append_headers(out, sid, block, end_stream=end, max_frame=16384)
    elif kind == "data" and sid:
        f.append_data(out, sid, b"d" * (n % 50), end_stream=end)
    elif kind == "rst" and sid:
        f.append_rst_stream(out, sid, n % 14)
    elif kind == "goaway":
        f.append_goaway(out, sid, n % 3)
    elif kind == "window":
        f.append_window_update(out, sid, n)
    else:
        f.append_settings(out, [(sid + 1, n)])
    return out


@settings(max_examples=200, deadline=None)
@given(RESPONSE_FRAMES)
def test_any_response_frames_end_every_request_properly(
    frames: list[tuple[str, int, list[Any], int, bool]],
) -> None:
    """Streams 1, 3 (an upload) and 5 against any mix of response frames: nothing escapes to
    the loop's exception handler, and a request that succeeds has a final status."""
    loop = asyncio.new_event_loop()
    escaped: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: escaped.append(context))
    try:
        w = Wire(loop)
        w.feed(raw(SettingsFrame(0)))
        body = memoryview(b"x" * 100_000)
        futs = [
            w.client.request("GET", "/", "h", timeout=5),
            w.client.request("PUT", "/", "h", body=body, timeout=5),
            w.client.request("GET", "/", "h", timeout=5),
        ]
        for frame in frames:
            w.feed(bytes(_response_frame(*frame)))
            loop.run_until_complete(asyncio.sleep(0))
        w.client.close()
        loop.run_until_complete(asyncio.sleep(0))
        for fut in futs:
            assert fut.done()
            if fut.exception() is None:
                assert 200 <= fut.result().status <= 999
        assert not escaped
    finally:
        loop.close()
