"""GOAWAY and RST_STREAM from a real h2 server (the ``h2`` package, server side, on a socket),
through H2Pool and HttpClient: what each means for the op.

GOAWAY(last_stream_id=N) with many streams in flight: streams above N were never processed,
so the pool sends each once more on a NEW connection (a resend, told to the op's runner) and
it succeeds. Streams at or below N: on NO_ERROR (graceful) they finish on the old connection,
which starts no new stream; on an error code they fail with CONNECTION.
RST_STREAM: REFUSED_STREAM is "not processed" (sent once more), the protocol codes are
PROTOCOL, ENHANCE_YOUR_CALM is THROTTLED, anything else SERVER_ERROR; the connection lives on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

from sai3bench.http import resends
from sai3bench.http.client import HttpClient
from sai3bench.http.h2conn import H2Unprocessed, open_h2_connection
from sai3bench.http.h2pool import H2Pool
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

from .test_h2 import SMALL, FaultServer, fault_server

pytestmark = pytest.mark.integration

IN_FLIGHT = 20  # streams 1, 3, ... 39 on the first connection
LAST = 19  # the GOAWAY's last_stream_id: streams 1..19 processed, 21..39 not


class GoawayServer(FaultServer):
    """FaultServer plus: ``GET /held`` on the first connection is held; once IN_FLIGHT of them
    arrived it sends GOAWAY(LAST, state["code"]) (a raw frame: h2 itself would refuse to send
    anything after it). On NO_ERROR the held streams <= LAST are answered, and the connection
    closed, once every resent stream was served on a later connection. ``GET /rst/<code>``:
    RST_STREAM with that code (REFUSED_STREAM only the first time)."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(state)
        self.index = len(state.setdefault("sids", []))
        state["sids"].append([])
        state.setdefault("first", self)
        self.held: list[int] = []

    def _on_request(self, sid: int, method: bytes, path: bytes) -> None:
        self.state["sids"][self.index].append(sid)
        if path == b"/held":
            self._held(sid)
        elif path.startswith(b"/rst/"):
            code = int(path[5:])
            if code == ErrorCodes.REFUSED_STREAM and self.state.get("refused"):
                self._respond(sid, 200, SMALL)  # refused once: the resend is answered
                return
            self.state["refused"] = code == ErrorCodes.REFUSED_STREAM
            self.conn.reset_stream(sid, code)
            self.open.discard(sid)
        else:
            super()._on_request(sid, method, path)

    def _held(self, sid: int) -> None:
        if self.index > 0:  # a resend on a later connection: served at once
            self._respond(sid, 200, SMALL)
            self.state["served_later"] = self.state.get("served_later", 0) + 1
            if self.state["served_later"] == IN_FLIGHT - (LAST + 1) // 2:
                self.state["first"].drain()
            return
        self.held.append(sid)
        if len(self.held) == IN_FLIGHT:
            assert self.transport is not None
            self._flush()
            frame = GoAwayFrame(0, last_stream_id=LAST, error_code=self.state["code"])
            self.transport.write(frame.serialize())

    def drain(self) -> None:
        """Answer the processed streams, then close (graceful GOAWAY only)."""
        if self.state["code"] != ErrorCodes.NO_ERROR or self.transport is None:
            return
        for sid in self.held:
            if sid <= LAST and sid in self.open:
                self._respond(sid, 200, SMALL)
        self._flush()
        self.transport.close()


async def _held_requests(pool: H2Pool) -> list[Any]:
    return await asyncio.gather(
        *(pool.request("GET", "/held", keep_body=True, timeout=10) for _ in range(IN_FLIGHT)),
        return_exceptions=True,
    )


def _run_goaway(run_loop: LoopRunner, code: ErrorCodes) -> tuple[list[Any], H2Pool, Any, list[int]]:
    heard: list[int] = []
    resends.listen(heard)

    async def go() -> tuple[list[Any], H2Pool, Any]:
        async with fault_server(protocol=GoawayServer) as (ep, state):
            state["code"] = code
            pool = H2Pool(ep, connections=1)
            try:
                return await _held_requests(pool), pool, state
            finally:
                await pool.close()

    got, pool, state = run_loop(go())
    return got, pool, state, heard


def test_graceful_goaway_drains_the_processed_and_resends_the_rest(run_loop: LoopRunner) -> None:
    got, pool, state, heard = _run_goaway(run_loop, ErrorCodes.NO_ERROR)
    failed = [r for r in got if isinstance(r, BaseException)]
    assert not failed, failed[:3]
    assert [(r.status, r.body) for r in got] == [(200, SMALL)] * IN_FLIGHT
    unprocessed = IN_FLIGHT - (LAST + 1) // 2
    assert (pool.opened, pool.resent) == (2, unprocessed)
    assert heard == [Outcome.CONNECTION] * unprocessed  # each resend is the op's retry
    # The going-away connection started no stream after the GOAWAY; the resends went to the
    # new one.
    assert state["sids"][0] == list(range(1, 2 * IN_FLIGHT, 2))
    assert len(state["sids"][1]) == unprocessed


@pytest.mark.parametrize("code", [ErrorCodes.INTERNAL_ERROR, ErrorCodes.PROTOCOL_ERROR])
def test_error_goaway_fails_the_processed_and_resends_the_rest(
    run_loop: LoopRunner, code: ErrorCodes
) -> None:
    """The server keeps the socket open after its error GOAWAY: the client must not wait for
    the streams it named (they would end in TIMEOUT, not CONNECTION)."""
    got, pool, _, heard = _run_goaway(run_loop, code)
    unprocessed = IN_FLIGHT - (LAST + 1) // 2
    failed = [r for r in got if isinstance(r, BaseException)]
    assert len(failed) == IN_FLIGHT - unprocessed, got
    for exc in failed:
        assert isinstance(exc, OpError) and not isinstance(exc, H2Unprocessed), exc
        assert exc.outcome == Outcome.CONNECTION and code.name in str(exc), exc
    ok = [r for r in got if not isinstance(r, BaseException)]
    assert [(r.status, r.body) for r in ok] == [(200, SMALL)] * unprocessed
    assert (pool.opened, pool.resent) == (2, unprocessed)
    assert heard == [Outcome.CONNECTION] * unprocessed


RST_OUTCOMES = [
    (ErrorCodes.PROTOCOL_ERROR, Outcome.PROTOCOL),
    (ErrorCodes.FLOW_CONTROL_ERROR, Outcome.PROTOCOL),
    (ErrorCodes.FRAME_SIZE_ERROR, Outcome.PROTOCOL),
    (ErrorCodes.STREAM_CLOSED, Outcome.PROTOCOL),
    (ErrorCodes.COMPRESSION_ERROR, Outcome.PROTOCOL),
    (ErrorCodes.ENHANCE_YOUR_CALM, Outcome.THROTTLED),
    (ErrorCodes.INTERNAL_ERROR, Outcome.SERVER_ERROR),
    (ErrorCodes.CANCEL, Outcome.SERVER_ERROR),
    (ErrorCodes.CONNECT_ERROR, Outcome.SERVER_ERROR),
    (ErrorCodes.HTTP_1_1_REQUIRED, Outcome.SERVER_ERROR),
    (0x1234, Outcome.SERVER_ERROR),  # a code RFC 9113 does not know
]


def _rst_id(value: object) -> str:
    return value.name if isinstance(value, ErrorCodes | Outcome) else hex(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "outcome"), RST_OUTCOMES, ids=_rst_id)
def test_rst_stream_maps_to_an_outcome(run_loop: LoopRunner, code: int, outcome: Outcome) -> None:
    heard: list[int] = []
    resends.listen(heard)

    async def go() -> None:
        async with fault_server(protocol=GoawayServer) as (ep, state):
            client = HttpClient(ep, http2=True, h2_connections=1)
            try:
                with pytest.raises(OpError) as err:
                    await client.request("GET", f"/rst/{int(code)}", [])
                assert err.value.outcome == outcome, err.value
                assert not isinstance(err.value, H2Unprocessed)
                # A stream error: the connection carries on.
                assert (await client.request("GET", "/small", [])).received == len(SMALL)
                assert client.h2 is not None and client.h2.opened == 1
                assert state["sids"] == [[1, 3]]
            finally:
                await client.close()

    run_loop(go())
    assert heard == []  # the server processed it: never sent again


def test_refused_stream_is_sent_once_more(run_loop: LoopRunner) -> None:
    heard: list[int] = []
    resends.listen(heard)

    async def go() -> tuple[int, int]:
        async with fault_server(protocol=GoawayServer) as (ep, _):
            pool = H2Pool(ep, connections=1)
            try:
                r = await pool.request("GET", f"/rst/{int(ErrorCodes.REFUSED_STREAM)}", timeout=5)
                assert r.status == 200 and r.body_received == len(SMALL)
                return pool.resent, pool.opened
            finally:
                await pool.close()

    assert run_loop(go()) == (1, 1)
    assert heard == [Outcome.CONNECTION]


class TwoGoawaysServer(FaultServer):
    """Both of a pool's connections go away, one after the other, as nginx's do when each
    reaches keepalive_requests at about the same moment. Connection 0 holds 6 ``/held``
    streams, then sends GOAWAY(5) (streams 7, 9, 11 unprocessed). Connection 1 holds its own
    6 and sends GOAWAY(11) once A's 3 resends reached it (then they are unprocessed twice) or
    a later connection (the resends went to a fresh one). Drained streams are answered, then
    the connection closed; connections from the third on answer at once."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(state)
        self.index = len(state.setdefault("protocols", []))
        state["protocols"].append(self)
        self.received: list[int] = []

    def _on_request(self, sid: int, method: bytes, path: bytes) -> None:
        self.received.append(sid)
        if self.index >= 2:
            self._respond(sid, 200, SMALL)
            if len(self.received) == 3:
                self.state["protocols"][1].go_away(11)
        elif self.index == 0 and len(self.received) == 6:
            self.go_away(5)
        elif self.index == 1 and len(self.received) == 9:
            self.go_away(11)

    def go_away(self, last: int) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._flush()
        self.transport.write(GoAwayFrame(0, last_stream_id=last, error_code=0).serialize())
        for sid in self.received:
            if sid <= last and sid in self.open:
                self._respond(sid, 200, SMALL)
        self._flush()
        self.transport.close()


def test_a_resend_survives_the_other_connection_going_away_too(run_loop: LoopRunner) -> None:
    """nginx (keepalive_requests) ends both connections of the pool at about the same time:
    a stream refused by the first must not be refused again by the second, already doomed
    one and fail the op."""

    async def go() -> list[Any]:
        async with fault_server(protocol=TwoGoawaysServer) as (ep, _):
            pool = H2Pool(ep, connections=2)
            try:
                for _ in range(2):  # both connections up before the burst: 6 streams each
                    pool.conns.append(await open_h2_connection(ep))
                    pool.opened += 1
                return await asyncio.gather(
                    *(pool.request("GET", "/held", keep_body=True, timeout=10) for _ in range(12)),
                    return_exceptions=True,
                )
            finally:
                await pool.close()

    got = run_loop(go())
    failed = [r for r in got if isinstance(r, BaseException)]
    assert not failed, failed
    assert [(r.status, r.body) for r in got] == [(200, SMALL)] * 12
