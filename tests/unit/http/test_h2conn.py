"""H2Connection without sockets: a fake transport, and an h2 server object fed its bytes."""

from __future__ import annotations

import asyncio

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import HeadersFrame

from sai3bench.http import hpack, hpack_values
from sai3bench.http.h2conn import H2Connection, H2Response, H2Unprocessed
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner
from tests.unit.http.fakes import FakeTransport
from tests.unit.http.test_h2frames import oracle_frames


class Wire:
    """Client under test on one side, an h2 server object on the other."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.client = H2Connection(loop, "test")
        self.transport = FakeTransport()
        self.client.connection_made(self.transport)  # type: ignore[arg-type]
        self.server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.server.initiate_connection()

    def to_server(self) -> list[h2.events.Event]:
        self.client._flush()
        data, self.transport.out = bytes(self.transport.out), bytearray()
        return self.server.receive_data(data)

    def to_client(self, piece: int = 1 << 30) -> None:
        data = self.server.data_to_send()
        for i in range(0, len(data), piece):
            self.feed(data[i : i + piece])

    def feed(self, chunk: bytes) -> None:
        self.client.get_buffer(len(chunk))[: len(chunk)] = chunk
        self.client.buffer_updated(len(chunk))


def test_keep_body_limit_across_frames_in_byte_pieces(run_loop: LoopRunner) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request("GET", "/k", "h", keep_body=5, timeout=5)
        (req,) = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        w.server.send_headers(req.stream_id, [(b":status", b"200"), (b"x-a", b"1")])
        w.server.send_data(req.stream_id, b"abc")
        w.server.send_data(req.stream_id, b"defgh", end_stream=True)
        w.to_client(piece=1)  # every frame split byte by byte
        r = await fut
        assert (r.status, r.headers, r.body, r.body_received) == (
            200,
            [(b"x-a", b"1")],
            b"abcde",
            8,
        )
        assert not w.client.streams

    run_loop(go())


def test_response_values_stay_coded_until_read(run_loop: LoopRunner) -> None:
    """The connection's HPACK decoder is lazy: a first-seen Huffman-coded value (here a
    unique location, and :status 201, which the h2 server's encoder codes too) reaches the
    response coded, and ``status`` and ``headers`` read exactly what was sent."""
    hpack_values.huffman_memo.clear()
    hpack_values._seen.clear()

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request("GET", "/k", "h", timeout=5)
        (req,) = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        head = [(b":status", b"201"), (b"location", b"/bucket/obj_3245154926268417808")]
        w.server.send_headers(req.stream_id, head, end_stream=True)
        w.to_client()
        r = await fut
        assert type(r._head[1][1]) is hpack.Coded
        assert (r.status, r.headers) == (201, head[1:])

    run_loop(go())


def test_a_coded_value_that_is_invalid_fails_when_read() -> None:
    r = H2Response()
    r._head = [(b":status", b"200"), (b"x-a", hpack.Coded(b"\x00"))]  # padding not all ones
    with pytest.raises(OpError, match="Huffman") as caught:
        _ = r.headers
    assert caught.value.outcome is Outcome.PROTOCOL


@pytest.mark.parametrize(
    ("code", "outcome", "kind"),
    [
        (ErrorCodes.PROTOCOL_ERROR, Outcome.PROTOCOL, OpError),
        (ErrorCodes.FLOW_CONTROL_ERROR, Outcome.PROTOCOL, OpError),
        (ErrorCodes.ENHANCE_YOUR_CALM, Outcome.THROTTLED, OpError),
        (ErrorCodes.INTERNAL_ERROR, Outcome.SERVER_ERROR, OpError),
        (ErrorCodes.CANCEL, Outcome.SERVER_ERROR, OpError),
        (ErrorCodes.REFUSED_STREAM, Outcome.CONNECTION, H2Unprocessed),
    ],
)
def test_rst_stream_maps_to_outcome(
    run_loop: LoopRunner, code: ErrorCodes, outcome: Outcome, kind: type
) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        bad = w.client.request("GET", "/a", "h", timeout=5)
        good = w.client.request("GET", "/b", "h", timeout=5)
        w.to_server()
        w.server.reset_stream(1, code)
        w.server.send_headers(3, [(b":status", b"204")], end_stream=True)
        w.to_client()
        with pytest.raises(OpError) as err:
            await bad
        assert type(err.value) is kind and err.value.outcome == outcome
        assert code.name in err.value.detail
        assert (await good).status == 204 and not w.client.closed

    run_loop(go())


def test_queued_stream_times_out_without_being_sent(run_loop: LoopRunner) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        w.client.max_streams = 1
        first = w.client.request("GET", "/a", "h", timeout=5)
        queued = w.client.request("GET", "/b", "h", timeout=0.01)
        assert len(w.client.queued) == 1 and repr(w.client).endswith("queued=1 requests=1>")
        with pytest.raises(OpError) as err:
            await queued
        assert err.value.outcome == Outcome.TIMEOUT and not w.client.queued
        sent = [e.stream_id for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        assert sent == [1] and not first.done()
        w.client.connection_lost(None)
        with pytest.raises(OpError) as err:
            await first
        assert err.value.outcome == Outcome.CONNECTION

    run_loop(go())


def test_no_headers_within_the_first_byte_timeout_fails_that_stream(run_loop: LoopRunner) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        w.client.first_byte_timeout = 0.2
        silent = w.client.request("GET", "/silent", "h", timeout=60)
        w.to_server()
        with pytest.raises(OpError) as err:
            await asyncio.wait_for(silent, 15)
        assert err.value.outcome == Outcome.TIMEOUT
        assert err.value.detail == "no response from test within 0.2 s of sending the request"

    run_loop(go())


def test_an_answered_stream_gets_the_whole_response_timeout(run_loop: LoopRunner) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        w.client.first_byte_timeout = 0.1
        # 2 s, not 1: the 0.4 s sleep may overshoot by a second on a loaded 2-core box
        slow = w.client.request("GET", "/slow", "h", timeout=2.0)
        (req,) = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        w.server.send_headers(req.stream_id, [(b":status", b"200")])
        w.to_client()
        await asyncio.sleep(0.4)
        assert not slow.done()  # 4x past the first-byte bound: the body is just slow
        with pytest.raises(OpError) as err:
            await asyncio.wait_for(slow, 15)
        assert "no complete response from test" in err.value.detail

    run_loop(go())


def _requests(events: list[h2.events.Event]) -> list[int]:
    return [e.stream_id for e in events if isinstance(e, h2.events.RequestReceived)]


@pytest.mark.parametrize("graceful", [True, False])
def test_goaway_drains_or_fails_the_streams_it_covers(run_loop: LoopRunner, graceful: bool) -> None:
    """Streams above last_stream_id are unprocessed either way; the ones at or below it finish
    after a graceful GOAWAY and fail with CONNECTION after an error one."""

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        futs = [w.client.request("GET", f"/{i}", "h", timeout=5) for i in range(3)]
        assert _requests(w.to_server()) == [1, 3, 5]
        code = ErrorCodes.NO_ERROR if graceful else ErrorCodes.INTERNAL_ERROR
        w.server.close_connection(code, last_stream_id=3)
        w.to_client()
        with pytest.raises(H2Unprocessed):
            await futs[2]
        assert w.client.draining
        with pytest.raises(H2Unprocessed):  # nothing new starts on a draining connection
            await w.client.request("GET", "/late", "h", timeout=5)
        if not graceful:
            for fut in futs[:2]:
                with pytest.raises(OpError) as err:
                    await fut
                assert type(err.value) is OpError and err.value.outcome == Outcome.CONNECTION
                assert "INTERNAL_ERROR" in err.value.detail
            assert w.client.closed and w.transport.aborted
            return
        assert not w.client.closed
        # h2 sends nothing after its GOAWAY: the drained answers go out as raw frames.
        for sid in (1, 3):
            head = HeadersFrame(sid, data=b"\x88", flags=["END_HEADERS", "END_STREAM"])
            w.feed(head.serialize())  # b"\x88": ":status: 200" from the static table
        assert [(await f).status for f in futs[:2]] == [200, 200]
        assert w.client.closed and w.transport.aborted  # the last drained stream closed it

    run_loop(go())


def test_a_protocol_violation_fails_the_connection_with_goaway(run_loop: LoopRunner) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request("GET", "/a", "h", timeout=5)
        w.to_server()
        w.transport.out.clear()
        bad = b"\x00\x00\x00\x05\x00\x00\x00\x00\x01"  # PUSH_PROMISE: we sent ENABLE_PUSH=0
        w.feed(bad)
        with pytest.raises(OpError) as err:
            await fut
        assert err.value.outcome == Outcome.CONNECTION and "PROTOCOL_ERROR" in err.value.detail
        (goaway,) = oracle_frames(bytes(w.transport.out))
        assert goaway.error_code == ErrorCodes.PROTOCOL_ERROR
        assert w.client.closed and w.transport.aborted

    run_loop(go())


def test_an_http1_answer_to_the_preface_is_a_permanent_run_without_http2(
    run_loop: LoopRunner,
) -> None:
    """An HTTP/1.1-only server (the mock) answers the preface with "HTTP/1.1 400": one clear,
    permanent failure (no retries), not a cryptic FRAME_SIZE_ERROR of a 4.7 MB frame."""

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request("GET", "/a", "h", timeout=5)
        w.feed(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        with pytest.raises(OpError) as err:
            await fut
        e = err.value
        assert e.outcome == Outcome.PROTOCOL and e.permanent
        assert "HTTP/1.x" in e.detail and "without --http2" in e.detail
        assert w.client.closed and w.transport.aborted

    run_loop(go())


def test_informational_heads_are_skipped(run_loop: LoopRunner) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request("GET", "/a", "h", keep_body=True, timeout=5)
        (sid,) = _requests(w.to_server())
        w.server.send_headers(sid, [(b":status", b"103"), (b"link", b"</x>")])
        w.to_client()
        assert not fut.done()
        w.server.send_headers(sid, [(b":status", b"200"), (b"x-a", b"1")])
        w.server.send_data(sid, b"body", end_stream=True)
        w.to_client()
        r = await fut
        assert (r.status, r.headers, r.body) == (200, [(b"x-a", b"1")], b"body")

    run_loop(go())


def test_put_under_a_tiny_window_completes_in_pieces(run_loop: LoopRunner) -> None:
    """INITIAL_WINDOW_SIZE 16 and the default 65,535-byte connection window: a 100 KiB PUT
    over two views parks on the empty window and resumes on each WINDOW_UPDATE."""

    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        w.server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
        w.to_client()
        w.to_server()
        body = bytes(range(256)) * 400
        view = memoryview(body)
        fut = w.client.request("PUT", "/up", "h", (), (view[:1000], view[1000:]), timeout=5)
        got = bytearray()
        while not fut.done():
            assert w.client.blocked or fut.done() or got
            for ev in w.to_server():
                if isinstance(ev, h2.events.DataReceived):
                    assert len(ev.data) <= 16
                    got += ev.data
                    w.server.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    w.server.send_headers(ev.stream_id, [(b":status", b"201")], end_stream=True)
            w.to_client()
            await asyncio.sleep(0)
        assert (await fut).status == 201 and bytes(got) == body and not w.client.blocked

    run_loop(go())


class CountingTransport(FakeTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)


def test_streams_started_in_one_loop_turn_leave_in_one_write(run_loop: LoopRunner) -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        client = H2Connection(loop, "test")
        transport = CountingTransport()
        client.connection_made(transport)  # type: ignore[arg-type]
        assert transport.writes == 1  # the preface, SETTINGS and the connection window
        futs = [client.request("GET", f"/{i}", "h", timeout=5) for i in range(32)]
        body = memoryview(b"x" * 100)
        futs.append(client.request("PUT", "/up", "h", (), body, timeout=5))
        await asyncio.sleep(0)
        assert transport.writes == 2
        server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        events = server.receive_data(bytes(transport.out))
        assert len(_requests(events)) == 33
        client.close()
        for fut in futs:
            with pytest.raises(H2Unprocessed):
                await fut

    run_loop(go())


def test_a_connection_out_of_stream_ids_drains_and_refuses_unprocessed(
    run_loop: LoopRunner,
) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        w.to_server()
        w.to_client()
        w.client.codec.next_sid = (1 << 31) + 1  # the last id, 2^31-1, went out
        with pytest.raises(H2Unprocessed) as err:
            await w.client.request("GET", "/a", "h", timeout=5)
        assert "stream ids used up" in err.value.detail
        assert w.client.draining and w.client.closed  # no stream was open: closed at once

    run_loop(go())


@pytest.mark.parametrize(
    ("method", "sent", "ok"),
    [
        ("GET", b"abcd", False),  # ended early: a short body is no success
        ("GET", b"a" * 12, False),  # more than it said
        ("GET", b"a" * 10, True),
        ("HEAD", b"", True),  # a HEAD's content-length is the object's, not this body's
    ],
)
def test_a_body_that_does_not_match_its_content_length_fails_as_protocol(
    run_loop: LoopRunner, method: str, sent: bytes, ok: bool
) -> None:
    async def go() -> None:
        w = Wire(asyncio.get_running_loop())
        fut = w.client.request(method, "/k", "h", timeout=5)
        (req,) = [e for e in w.to_server() if isinstance(e, h2.events.RequestReceived)]
        head = [(b":status", b"200"), (b"content-length", b"10")]
        w.server.send_headers(req.stream_id, head, end_stream=not sent)
        if sent:
            w.server.send_data(req.stream_id, sent, end_stream=True)
        w.to_client()
        if ok:
            assert (await fut).body_received == len(sent)
        else:
            with pytest.raises(OpError) as err:
                await fut
            assert err.value.outcome == Outcome.PROTOCOL
            assert f"{len(sent)} body bytes where content-length said 10" in err.value.detail
        assert not w.client.streams and not w.client.closed  # a stream error only

    run_loop(go())
