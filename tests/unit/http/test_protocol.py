"""H1Connection without sockets: a fake transport fed canned bytes, on a real event loop.

What a person sees when the server misbehaves: a junk answer names the endpoint and says it
is not speaking HTTP, at its first bytes; a server that accepts and never answers fails after
the first-byte timeout, not the whole-response one; a slow body or a slow upload does not.
"""

from __future__ import annotations

import asyncio

import pytest

from sai3bench.http.protocol import DeadlineWatch, H1Connection
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner
from tests.unit.http.fakes import FakeTransport

LABEL = "http://127.0.0.1:9"
HEAD = b"GET /k HTTP/1.1\r\nHost: h\r\n\r\n"


def connect(*, first_byte: float, watch: bool = True) -> H1Connection:
    loop = asyncio.get_running_loop()
    conn = H1Connection(loop, LABEL, DeadlineWatch(loop) if watch else None, first_byte)
    conn.connection_made(FakeTransport())  # type: ignore[arg-type]
    return conn


def receive(conn: H1Connection, data: bytes) -> None:
    conn.get_buffer(len(data))[: len(data)] = data
    conn.buffer_updated(len(data))


async def failure(fut: asyncio.Future[None]) -> OpError:
    with pytest.raises(OpError) as err:
        await asyncio.wait_for(fut, 15)
    return err.value


@pytest.mark.parametrize(
    "junk",
    [b"\x00garbage\r\rmore\n\n\r\n\r\n", b"\x16\x03\x01\x02\x00", b"SSH-2.0-OpenSSH_9.6\r\n"],
)
def test_junk_answer_names_the_endpoint_at_its_first_bytes(
    run_loop: LoopRunner, junk: bytes
) -> None:
    async def go() -> None:
        conn = connect(first_byte=30)
        fut = conn.request(HEAD, timeout=60)
        receive(conn, junk)  # no blank line needed: the first bytes cannot start a response
        assert fut.done()
        err = await failure(fut)
        assert err.outcome == Outcome.PROTOCOL
        assert f"{LABEL} is not speaking HTTP as expected" in err.detail

    run_loop(go())


@pytest.mark.parametrize("watch", [True, False], ids=["watch", "timer"])
def test_no_first_byte_fails_after_the_first_byte_timeout(
    run_loop: LoopRunner, watch: bool
) -> None:
    async def go() -> None:
        conn = connect(first_byte=0.2, watch=watch)
        err = await failure(conn.request(HEAD, timeout=60))
        assert err.outcome == Outcome.TIMEOUT
        assert err.detail == f"no response from {LABEL} within 0.2 s of sending the request"

    run_loop(go())


def test_a_started_response_gets_the_whole_response_timeout(run_loop: LoopRunner) -> None:
    async def go() -> None:
        conn = connect(first_byte=0.1)
        fut = conn.request(HEAD, timeout=1.0)
        receive(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")  # then it stalls
        await asyncio.sleep(0.4)
        assert not fut.done()  # past the first-byte bound, but the response is under way
        err = await failure(fut)
        assert err.outcome == Outcome.TIMEOUT
        assert err.detail == f"no complete response from {LABEL} within the response timeout"

    run_loop(go())


def test_the_first_byte_clock_starts_when_the_upload_is_written(run_loop: LoopRunner) -> None:
    async def go() -> None:
        conn = connect(first_byte=0.2)
        fut = conn.request(HEAD, timeout=60)
        conn.pause_writing()  # a large body still queued in the transport
        await asyncio.sleep(0.6)
        assert not fut.done()
        conn.resume_writing()
        t0 = asyncio.get_running_loop().time()
        err = await failure(fut)
        assert "within 0.2 s of sending" in err.detail
        assert asyncio.get_running_loop().time() - t0 >= 0.15  # counted from the drain

    run_loop(go())


def test_a_whole_response_in_time_completes(run_loop: LoopRunner) -> None:
    async def go() -> None:
        conn = connect(first_byte=0.2)
        fut = conn.request(HEAD, keep_body=True, timeout=60)
        receive(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await asyncio.wait_for(fut, 5)
        assert bytes(conn.parser.body) == b"ok"

    run_loop(go())


def test_the_receive_buffer_is_made_only_once_connected(run_loop: LoopRunner) -> None:
    """A connect that fails never reaches connection_made: it must allocate no 256 KiB buffer
    (each refused attempt held one until a GC ran; 1.6 GB against a server killed mid-run)."""
    import tracemalloc

    from sai3bench.http.protocol import RECV_BUFFER

    async def go() -> None:
        loop = asyncio.get_running_loop()
        tracemalloc.start()
        try:
            attempts = [H1Connection(loop, LABEL, None, 10.0) for _ in range(20)]
            made, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert made < RECV_BUFFER  # twenty protocols, not twenty buffers
        conn = attempts[0]
        conn.connection_made(FakeTransport())  # type: ignore[arg-type]
        assert len(conn.get_buffer(-1)) == RECV_BUFFER

    run_loop(go())
