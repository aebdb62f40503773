"""H2ClientCodec and H2Connection against a hostile or broken server: floods, frames of the
wrong size, frames in the wrong order (RFC 9113 as a checklist)."""

from __future__ import annotations

import asyncio

import h2.events
import pytest
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

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
