"""H1Pool against a raw loopback server: deadlines, reuse, a keep-alive closed while idle."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from sai3bench.http.endpoint import Endpoint
from sai3bench.http.h1build import build_request_head
from sai3bench.http.pool import H1Pool
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Server(asyncio.Protocol):
    """GET /hang is never answered; /close answers then closes; anything else gets OK."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        for head in data.split(b"\r\n\r\n")[:-1]:
            if b" /hang " in head:
                continue
            self.t.write(OK)
            if b" /close " in head:
                self.t.close()


@contextlib.asynccontextmanager
async def pool_on_server(max_size: int) -> AsyncIterator[H1Pool]:
    """An H1Pool against a fresh ``Server`` on 127.0.0.1; both closed afterwards."""
    server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", 0)
    pool = H1Pool(Endpoint("127.0.0.1", server.sockets[0].getsockname()[1]), max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()
        server.close()


def _head(path: str) -> bytes:
    return build_request_head("GET", path, "127.0.0.1", ())


def test_deadline_fails_only_the_hung_request_and_pool_goes_on(run_loop: LoopRunner) -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        async with pool_on_server(max_size=4) as pool:
            hung = asyncio.ensure_future(pool.send(_head("/hang"), timeout=0.2))
            for _ in range(20):  # meanwhile other requests complete on other connections
                conn = await pool.send(_head("/a"), keep_body=True)
                assert bytes(conn.parser.body) == b"ok"
                pool.release(conn)
            t0 = loop.time()
            with pytest.raises(OpError) as err:
                await hung
            assert err.value.outcome == Outcome.TIMEOUT
            assert loop.time() - t0 < 2.0  # checked by the watch, not left to hang
            conn = await pool.send(_head("/b"))  # the pool still serves
            pool.release(conn)

    run_loop(go())


def test_an_idle_close_is_replaced_without_a_resend(run_loop: LoopRunner) -> None:
    async def go() -> None:
        async with pool_on_server(max_size=1) as pool:
            conn = await pool.send(_head("/close"))  # the server closes after answering
            pool.release(conn)
            await asyncio.sleep(0.05)
            conn = await pool.send(_head("/again"), keep_body=True)
            assert bytes(conn.parser.body) == b"ok"
            pool.release(conn)
            assert pool.opened == 2
            # The close arrived before the reuse: no resend. The race, a close that crosses
            # the next request, is in test_h1_resend.py.
            assert pool.resent == 0

    run_loop(go())


def test_a_waiter_for_a_connection_is_bounded(run_loop: LoopRunner) -> None:
    """Every await on the network has a bound: a pool whose only connection is never given
    back (a leak) fails the next request with TIMEOUT instead of waiting forever."""

    async def go() -> None:
        async with pool_on_server(max_size=1) as pool:
            pool.connect_timeout = 0.2
            leaked = await pool.acquire()
            with pytest.raises(OpError) as err:
                await asyncio.wait_for(pool.send(_head("/a"), timeout=0.3), 15)
            assert err.value.outcome == Outcome.TIMEOUT
            assert "no free connection to http://127.0.0.1:" in err.value.detail
            assert not pool._waiters or pool._waiters[0].done()
            pool.release(leaked)
            conn = await pool.send(_head("/b"))  # the pool still serves
            pool.release(conn)

    run_loop(go())


def test_closing_the_pool_fails_a_request_in_flight(run_loop: LoopRunner) -> None:
    """Closing stops the deadline checks, so a request still in flight fails at once."""

    async def go() -> None:
        async with pool_on_server(max_size=1) as pool:
            hung = asyncio.ensure_future(pool.send(_head("/hang")))
            await asyncio.sleep(0.2)
            await pool.close()
            with pytest.raises(OpError) as err:
                await asyncio.wait_for(hung, 15)
            assert err.value.outcome == Outcome.CONNECTION
            assert "pool closed" in err.value.detail

    run_loop(go())


def test_a_refused_first_connect_is_final_a_later_one_is_retryable(run_loop: LoopRunner) -> None:
    """Nothing ever listened: a wrong port, reported at once. Refused after a connection
    worked: the server may be restarting, so the retry policy decides."""

    async def go() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = H1Pool(Endpoint("127.0.0.1", port), max_size=1)
        try:
            conn = await pool.send(_head("/close"))  # works, then the server closes it
            pool.release(conn)
            server.close()
            await server.wait_closed()
            with pytest.raises(OpError) as later:
                await pool.send(_head("/x"))
            assert later.value.outcome == Outcome.CONNECTION and not later.value.permanent
        finally:
            await pool.close()
        fresh = H1Pool(Endpoint("127.0.0.1", port), max_size=1)
        try:
            with pytest.raises(OpError) as first:
                await fresh.send(_head("/x"))
            assert first.value.outcome == Outcome.CONNECTION and first.value.permanent
        finally:
            await fresh.close()

    run_loop(go())


def test_waiters_fail_fast_when_the_server_dies(run_loop: LoopRunner) -> None:
    """A server killed mid-run: every request queued for a connection gets CONNECTION at
    once, not only the first waiter (the others used to sit out the wait bound, ~2 min)."""

    async def go() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = H1Pool(Endpoint("127.0.0.1", port), max_size=1)
        try:
            held = await pool.acquire()
            waiting = [asyncio.ensure_future(pool.send(_head("/x"))) for _ in range(4)]
            await asyncio.sleep(0.05)
            server.close()
            await server.wait_closed()
            held.close()
            pool.release(held)  # a dead connection frees the slot: waiters reconnect
            t0 = loop.time()
            done = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 15)
            assert loop.time() - t0 < 2.0
            assert [type(e) for e in done] == [OpError] * 4
            assert {e.outcome for e in done if isinstance(e, OpError)} == {Outcome.CONNECTION}
        finally:
            await pool.close()

    run_loop(go())


def test_warm_opens_connections_that_the_requests_then_reuse(run_loop: LoopRunner) -> None:
    """A workload share warms its pools before the start barrier: the connects happen before
    the clock, capped at the pool size, and the first requests open nothing new."""

    async def go() -> None:
        async with pool_on_server(max_size=3) as pool:
            await pool.warm(5)
            assert pool.opened == 3 and len(pool._idle) == 3
            await pool.warm(3)  # already warm: nothing more
            assert pool.opened == 3
            conns = [await pool.send(_head(f"/{i}")) for i in range(3)]
            for conn in conns:
                pool.release(conn)
            assert pool.opened == 3

    run_loop(go())


def test_warm_against_a_dead_port_leaves_the_pool_usable(run_loop: LoopRunner) -> None:
    async def go() -> None:
        server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        pool = H1Pool(Endpoint("127.0.0.1", port), max_size=2)
        await pool.warm(2)  # refused: left for the ops to meet
        assert pool.opened == 0 and pool._open == 0
        await pool.close()

    run_loop(go())
