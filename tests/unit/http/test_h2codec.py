"""H2ClientCodec against an ``h2`` server object as the peer (the oracle for what valid HTTP/2
is), and against hand-made frames for what a broken peer might send."""

from __future__ import annotations

import itertools
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.http import h2frames as f
from sai3bench.http.h2codec import H2ClientCodec
from sai3bench.http.h2frames import ErrorCode, H2Error
from sai3bench.http.hpack import HpackEncoder
from tests.unit.http.test_h2frames import oracle_frames


class Recorder:
    """An H2Handler that writes down every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_headers(self, sid: int, fields: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        self.calls.append(("headers", sid, fields, end_stream))

    def on_data(self, sid: int, data: memoryview, end_stream: bool) -> None:
        self.calls.append(("data", sid, bytes(data), end_stream))

    def on_reset(self, sid: int, code: int) -> None:
        self.calls.append(("reset", sid, code))

    def on_goaway(self, last_sid: int, code: int, debug: bytes) -> None:
        self.calls.append(("goaway", last_sid, code, debug))

    def on_settings(self) -> None:
        self.calls.append(("settings",))

    def on_window_open(self) -> None:
        self.calls.append(("window",))

    def body(self, sid: int) -> bytes:
        return b"".join(c[2] for c in self.calls if c[0] == "data" and c[1] == sid)


class Peer:
    """Our codec on one side, an h2 server object on the other."""

    def __init__(
        self, server_settings: dict[h2.settings.SettingCodes, int] | None = None, **codec: Any
    ) -> None:
        self.handler = Recorder()
        self.codec = H2ClientCodec(self.handler, **codec)
        self.server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        if server_settings:
            self.server.local_settings = h2.settings.Settings(
                client=False, initial_values=server_settings
            )
        self.server.initiate_connection()
        self.to_server()
        self.to_client()
        self.to_server()  # our SETTINGS ACK
        self.handler.calls.clear()

    def to_server(self) -> list[h2.events.Event]:
        return self.server.receive_data(bytes(self.codec.take()))

    def to_client(self, cuts: list[int] | None = None) -> None:
        """The server's pending bytes, fed in pieces cut at ``cuts`` (any byte offsets)."""
        data = self.server.data_to_send()
        bounds = [0, *sorted(c for c in cuts or () if 0 < c < len(data)), len(data)]
        for a, b in itertools.pairwise(bounds):
            self.codec.receive(memoryview(data)[a:b])

    def get(self, path: bytes = b"/x") -> int:
        block = self.codec.encoder.encode_request("GET", "http", "h", path.decode(), [])
        return self.codec.open_stream(block, end_stream=True)


def raw(*frames: Any) -> bytes:
    return b"".join(fr.serialize() for fr in frames)


def test_preface_settings_and_windows_reach_the_server() -> None:
    p = Peer(conn_window=1 << 20, stream_window=1 << 18)
    assert p.server.remote_settings.initial_window_size == 1 << 18
    assert p.server.remote_settings.enable_push == 0
    assert p.server.outbound_flow_control_window == 1 << 20
    assert p.codec.got_settings and p.codec.max_streams == 100


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.binary(max_size=40), st.integers(0, 20)),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(0, 2000), max_size=12),
)
def test_responses_parse_the_same_at_any_split(
    chunks: list[tuple[bytes, int]], cuts: list[int]
) -> None:
    """Headers, padded DATA frames and trailers of two streams, fed in random pieces."""
    p = Peer()
    sids = [p.get(), p.get()]
    p.to_server()
    for sid in sids:
        p.server.send_headers(sid, [(b":status", b"200"), (b"x-sid", b"%d" % sid)])
        for data, pad in chunks:
            p.server.send_data(sid, data, pad_length=pad or None)
        p.server.send_headers(sid, [(b"x-trailer", b"t")], end_stream=True)
    p.to_client(cuts)
    want_body = b"".join(c[0] for c in chunks)
    for sid in sids:
        calls = [c for c in p.handler.calls if c[1] == sid]
        assert calls[0] == ("headers", sid, [(b":status", b"200"), (b"x-sid", b"%d" % sid)], False)
        assert calls[-1] == ("headers", sid, [(b"x-trailer", b"t")], True)
        assert p.handler.body(sid) == want_body
    assert p.codec.open_streams == 0


def test_headers_with_priority_and_padding() -> None:
    p = Peer()
    sid = p.get()
    block = hpack.Encoder().encode([(b":status", b"204")])
    frame = HeadersFrame(sid, data=block, pad_length=7, depends_on=0, stream_weight=200)
    for flag in ("PRIORITY", "PADDED", "END_HEADERS", "END_STREAM"):
        frame.flags.add(flag)
    p.codec.receive(raw(frame))
    assert p.handler.calls == [("headers", sid, [(b":status", b"204")], True)]


def test_response_headers_split_across_continuation() -> None:
    p = Peer()
    sid = p.get()
    p.to_server()
    big = b"v" * 40_000  # > 16 KiB: h2 splits the block into HEADERS + CONTINUATION
    p.server.send_headers(sid, [(b":status", b"200"), (b"x-big", big)], end_stream=True)
    data = p.server.data_to_send()
    assert f.parse_frame_head(data)[2] & f.FLAG_END_HEADERS == 0
    p.codec.receive(data)
    assert p.handler.calls == [("headers", sid, [(b":status", b"200"), (b"x-big", big)], True)]


def test_a_request_head_larger_than_max_frame_goes_out_with_continuation() -> None:
    p = Peer()
    value = "a" * 40_000
    block = p.codec.encoder.encode_request("GET", "http", "h", "/x", [("x-big", value)])
    sid = p.codec.open_stream(block, end_stream=True)
    out = bytes(p.codec.out)
    assert [type(fr).__name__ for fr in oracle_frames(out)] == [
        "HeadersFrame",
        "ContinuationFrame",
        "ContinuationFrame",
    ]
    (req, _) = [e for e in p.server.receive_data(bytes(p.codec.take()))]
    assert isinstance(req, h2.events.RequestReceived) and req.stream_id == sid
    assert (b"x-big", value.encode()) in req.headers


def test_window_updates_are_batched_per_half_window() -> None:
    p = Peer(stream_window=1000, conn_window=65535)
    sid = p.get()
    p.to_server()
    p.server.send_headers(sid, [(b":status", b"200")])
    for _ in range(4):
        p.server.send_data(sid, b"x" * 100)
    p.to_client()
    assert not p.codec.out  # 400 of 1000 used: nothing to say yet
    p.server.send_data(sid, b"x" * 100)
    p.to_client()
    (update,) = oracle_frames(bytes(p.codec.out))
    assert isinstance(update, WindowUpdateFrame) and (
        update.stream_id,
        update.window_increment,
    ) == (
        sid,
        500,
    )
    p.to_server()
    assert p.server.local_flow_control_window(sid) == 1000  # the server sees the window back


def test_upload_under_a_tiny_peer_window_never_exceeds_it() -> None:
    """INITIAL_WINDOW_SIZE 16 and a 65,535-byte connection window: 100 KiB goes in pieces,
    resumes on each WINDOW_UPDATE; the h2 server would raise FlowControlError otherwise."""
    p = Peer(server_settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
    body = memoryview(bytes(range(256)) * 400)
    block = p.codec.encoder.encode_request("PUT", "http", "h", "/up", [])
    sid = p.codec.open_stream(block, end_stream=False)
    got, sent, ended, rounds = bytearray(), 0, False, 0
    while not ended:
        sent += p.codec.send_data(sid, body[sent:], end_stream=True)
        for ev in p.to_server():
            if isinstance(ev, h2.events.DataReceived):
                assert len(ev.data) <= 16
                got += ev.data
                p.server.acknowledge_received_data(ev.flow_controlled_length, sid)
            ended = ended or isinstance(ev, h2.events.StreamEnded)
        p.to_client()
        rounds += 1
        assert rounds <= len(body)  # a stall fails here instead of hanging the run
    assert rounds >= len(body) // 16
    assert bytes(got) == bytes(body)
    assert ("window",) in p.handler.calls


def test_a_settings_change_can_make_a_window_negative() -> None:
    p = Peer()
    block = p.codec.encoder.encode_request("PUT", "http", "h", "/up", [])
    sid = p.codec.open_stream(block, end_stream=False)
    assert p.codec.send_data(sid, memoryview(b"x" * 1000), end_stream=False) == 1000
    p.to_server()  # the server does not acknowledge: stream window 64,535 left
    p.server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
    p.to_client()
    assert p.codec._send_windows[sid] == 16 - 1000
    assert p.codec.send_data(sid, memoryview(b"y" * 10), end_stream=True) == 0
    p.codec.receive(raw(WindowUpdateFrame(sid, window_increment=1000)))
    assert p.codec.send_data(sid, memoryview(b"y" * 100), end_stream=True) == 16


def test_ping_is_answered_and_settings_acked() -> None:
    p = Peer()
    p.codec.receive(raw(PingFrame(0, opaque_data=b"12345678"), SettingsFrame(0, settings={1: 256})))
    ping, ack = oracle_frames(bytes(p.codec.out))
    assert isinstance(ping, PingFrame) and "ACK" in ping.flags and ping.opaque_data == b"12345678"
    assert isinstance(ack, SettingsFrame) and "ACK" in ack.flags
    assert p.handler.calls == [("settings",)]


class SpyEncoder(HpackEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def set_max_table_size(self, size: int) -> None:
        self.sizes.append(size)
        super().set_max_table_size(size)


def test_header_table_size_reaches_the_encoder() -> None:
    p = Peer()
    spy = p.codec.encoder = SpyEncoder()
    p.server.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0})
    p.to_client()
    assert spy.sizes == [0]


def test_priority_and_unknown_frames_are_ignored() -> None:
    p = Peer()
    sid = p.get()
    p.to_server()
    unknown = f.FRAME_HEAD.pack(0, 3, 0xFA, 0, sid) + b"abc"
    p.codec.receive(raw(PriorityFrame(sid, depends_on=0, stream_weight=1)) + unknown)
    assert p.handler.calls == [] and not p.codec.out


def test_reset_and_goaway_reach_the_handler_and_closed_streams_are_quiet() -> None:
    p = Peer()
    a, b = p.get(), p.get()
    p.to_server()
    p.codec.reset_stream(a)  # ours: later frames for it are dropped
    (rst,) = oracle_frames(bytes(p.codec.take()))
    assert isinstance(rst, RstStreamFrame) and rst.error_code == ErrorCode.CANCEL
    p.server.send_headers(a, [(b":status", b"200")])
    p.server.send_data(a, b"late")
    p.server.reset_stream(b, ErrorCodes.REFUSED_STREAM)
    p.to_client()
    p.codec.receive(raw(GoAwayFrame(0, last_stream_id=1, error_code=2, additional_data=b"bye")))
    assert p.handler.calls == [("reset", b, ErrorCode.REFUSED_STREAM), ("goaway", 1, 2, b"bye")]
    p.codec.reset_stream(b)  # already closed both ways: nothing to send
    assert not p.codec.out


HUGE = f.FRAME_HEAD.pack(0, 16385, f.DATA, 0, 1) + b"x" * 16385
VIOLATIONS = {
    "push promise": (raw(PushPromiseFrame(1, promised_stream_id=2, data=b"")), "PROTOCOL_ERROR"),
    "data on stream 0": (f.FRAME_HEAD.pack(0, 1, f.DATA, 0, 0) + b"x", "PROTOCOL_ERROR"),
    "headers on an idle even stream": (
        raw(HeadersFrame(2, data=b"\x88", flags=["END_HEADERS"])),
        "PROTOCOL_ERROR",
    ),
    "data on a stream never opened": (raw(DataFrame(9, data=b"x")), "PROTOCOL_ERROR"),
    "frame over max frame size": (HUGE, "FRAME_SIZE_ERROR"),
    "bad max frame size": (raw(SettingsFrame(0, settings={5: 100})), "PROTOCOL_ERROR"),
    "enable push from a server": (raw(SettingsFrame(0, settings={2: 1})), "PROTOCOL_ERROR"),
    "initial window over 2^31-1": (
        raw(SettingsFrame(0, settings={4: 1 << 31})),
        "FLOW_CONTROL_ERROR",
    ),
    "ping of 7 bytes": (f.FRAME_HEAD.pack(0, 7, f.PING, 0, 0) + b"1234567", "FRAME_SIZE_ERROR"),
    "continuation without headers": (
        raw(ContinuationFrame(1, data=b"\x88", flags=["END_HEADERS"])),
        "PROTOCOL_ERROR",
    ),
    "frame inside a header block": (
        raw(HeadersFrame(1, data=b"\x88"), PingFrame(0, opaque_data=b"12345678")),
        "PROTOCOL_ERROR",
    ),
    "padding longer than the frame": (
        f.FRAME_HEAD.pack(0, 2, f.DATA, f.FLAG_PADDED, 1) + b"\x05x",
        "PROTOCOL_ERROR",
    ),
    "bad hpack": (
        raw(HeadersFrame(1, data=b"\xff\xff\xff\xff\xff\xff", flags=["END_HEADERS"])),
        "COMPRESSION_ERROR",
    ),
    "connection window overflow": (
        raw(WindowUpdateFrame(0, window_increment=f.MAX_WINDOW)),
        "FLOW_CONTROL_ERROR",
    ),
    "window update of 0": (raw(WindowUpdateFrame(0, window_increment=0)), "PROTOCOL_ERROR"),
    "data beyond the stream window": (
        raw(DataFrame(1, data=b"x" * 16384)) * 5,
        "FLOW_CONTROL_ERROR",
    ),
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_protocol_violations_send_goaway_once(name: str) -> None:
    frame, code = VIOLATIONS[name]
    p = Peer(stream_window=1000)
    p.get()
    p.to_server()
    with pytest.raises(H2Error) as err:
        p.codec.receive(frame)
    assert err.value.code.name == code
    (goaway,) = oracle_frames(bytes(p.codec.take()))
    assert isinstance(goaway, GoAwayFrame) and goaway.error_code == err.value.code
    p.codec.receive(raw(PingFrame(0, opaque_data=b"12345678")))  # failed: nothing more
    assert not p.codec.out


def test_the_first_frame_must_be_settings() -> None:
    codec = H2ClientCodec(Recorder())
    codec.take()
    with pytest.raises(H2Error) as err:
        codec.receive(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    assert err.value.code == ErrorCode.FRAME_SIZE_ERROR  # 'HTT' read as a 4.7 MB length
    codec = H2ClientCodec(Recorder())
    with pytest.raises(H2Error) as err:
        codec.receive(raw(PingFrame(0, opaque_data=b"12345678")))
    assert "first frame" in str(err.value)


def test_stream_window_overflow_resets_only_that_stream() -> None:
    p = Peer()
    block = p.codec.encoder.encode_request("PUT", "http", "h", "/up", [])
    sid = p.codec.open_stream(block, end_stream=False)
    p.codec.take()
    p.codec.receive(raw(WindowUpdateFrame(sid, window_increment=f.MAX_WINDOW)))
    assert p.handler.calls == [("reset", sid, ErrorCode.FLOW_CONTROL_ERROR)]
    (rst,) = oracle_frames(bytes(p.codec.out))
    assert isinstance(rst, RstStreamFrame) and rst.error_code == ErrorCode.FLOW_CONTROL_ERROR


def test_an_oversized_frame_split_inside_its_header_is_refused_at_once() -> None:
    p = Peer()
    p.codec.receive(b"\x00\x40")  # the first 2 bytes of a 16 KiB + 1 length: not yet known
    with pytest.raises(H2Error) as err:
        p.codec.receive(b"\x01\x00\x00\x00\x00\x00\x01" + b"x" * 100)
    assert err.value.code == ErrorCode.FRAME_SIZE_ERROR


def test_a_frame_split_across_reads_is_completed_from_the_next() -> None:
    p = Peer()
    sid = p.get()
    p.to_server()
    p.server.send_headers(sid, [(b":status", b"200")])
    p.server.send_data(sid, b"a" * 100)
    p.server.send_data(sid, b"b" * 100, end_stream=True)
    data = p.server.data_to_send()
    cut = len(data) - 150  # inside the first DATA frame
    p.codec.receive(data[:cut])
    assert p.handler.body(sid) == b""  # the first DATA frame is still incomplete
    p.codec.receive(data[cut:])
    assert p.handler.body(sid) == b"a" * 100 + b"b" * 100 and not p.codec._tail
