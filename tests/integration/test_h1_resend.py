"""H1Pool's resend of a request lost with its kept-alive connection, against a raw server that
closes the connection just as the next request arrives (the real stale keep-alive race).

The older stale keep-alive test (test_h1_pool.py) lets the close land before the next request,
so the pool sees a closed connection and never resends. Here the close crosses the request.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from sai3bench.http import resends
from sai3bench.http.client import HttpClient
from sai3bench.http.endpoint import Endpoint
from sai3bench.http.h1build import build_request_head
from sai3bench.http.pool import H1Pool
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class ClosesOnSecond(asyncio.Protocol):
    """Answers the first request of each connection; on the first bytes of the second one it
    closes (``how``: "close" = FIN at once, "reset" = RST once the head is in, "late" = RST
    after ``delay`` seconds, "partial" = FIN after the first bytes of a response)."""

    how = "close"
    delay = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.seen = b""
        self.answered = 0

    def data_received(self, data: bytes) -> None:
        if self.answered == 0:
            self.seen += data
            if b"\r\n\r\n" in self.seen:
                self.answered = 1
                self.t.write(OK)
            return
        if self.how == "close":
            self.t.close()  # the request's first bytes are here; the answer never comes
        elif self.how == "partial":
            self.t.write(OK[:20])  # a response has begun: the server acted on the request
            self.t.close()
        elif self.how == "reset":
            self.t.abort()
        else:
            asyncio.get_running_loop().call_later(self.delay, self.t.abort)


def _run(
    run_loop: LoopRunner, how: str, method: str, delay: float = 0.0, via: str = "pool"
) -> tuple[H1Pool, list[int], float]:
    """Two requests on one kept-alive connection; the second meets the close. Returns the pool,
    the outcomes the resend listener heard, and the second request's seconds. ``via``:
    "pool" sends with H1Pool.send, "client" with HttpClient.request (its inline copy)."""

    async def go() -> tuple[H1Pool, list[int], float]:
        handler = type("Handler", (ClosesOnSecond,), {"how": how, "delay": delay})
        server = await asyncio.get_running_loop().create_server(handler, "127.0.0.1", 0)
        client = HttpClient(
            Endpoint("127.0.0.1", server.sockets[0].getsockname()[1]), max_connections=1
        )
        pool = client.h1
        heard: list[int] = []
        resends.listen(heard)
        length = 0 if method != "GET" else None
        head = build_request_head(method, "/k", "127.0.0.1", (), length)

        async def send() -> bytes:
            if via == "client":
                return (await client.request(method, "/k", [], length=length, keep_body=True)).body
            conn = await pool.send(head, keep_body=True)
            body = bytes(conn.parser.body)
            pool.release(conn)
            return body

        try:
            await send()
            t0 = time.perf_counter()
            try:
                assert await send() == b"ok"
            finally:
                took = time.perf_counter() - t0
        finally:
            await client.close()
            server.close()
        return pool, heard, took

    result: tuple[H1Pool, list[int], float] = run_loop(go())
    return result


# HEAD only through the pool: this server's answer has a body, which a HEAD must not have.
@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize(
    ("method", "via"),
    [(m, "pool") for m in ("GET", "PUT", "DELETE", "HEAD")]
    + [(m, "client") for m in ("GET", "PUT", "DELETE")],
)
def test_a_request_that_meets_the_close_is_resent_and_told(
    run_loop: LoopRunner, how: str, method: str, via: str
) -> None:
    pool, heard, _ = _run(run_loop, how, method, via=via)
    assert pool.resent == 1 and pool.opened == 2
    assert heard == [Outcome.CONNECTION]  # the engine counts it as a retry by this outcome


def test_the_resent_ops_time_includes_the_lost_attempt(run_loop: LoopRunner) -> None:
    _, heard, took = _run(run_loop, "late", "GET", delay=0.3)
    assert heard == [Outcome.CONNECTION]
    assert took >= 0.25  # the engine times around send(): both sends (timers: a ms early)


@pytest.mark.parametrize("via", ["pool", "client"])
def test_a_post_is_never_resent(run_loop: LoopRunner, via: str) -> None:
    with pytest.raises(OpError) as err:
        _run(run_loop, "reset", "POST", via=via)
    assert err.value.outcome == Outcome.CONNECTION


@pytest.mark.parametrize("via", ["pool", "client"])
def test_a_close_after_a_response_byte_is_never_resent(run_loop: LoopRunner, via: str) -> None:
    """The server may have acted on it: the failure is the op's (a resend would succeed)."""
    with pytest.raises(OpError) as err:
        _run(run_loop, "partial", "GET", via=via)
    assert err.value.outcome == Outcome.CONNECTION
    assert "closed mid-response" in err.value.detail


def test_no_listener_no_error() -> None:
    resends.note_resend(Outcome.CONNECTION)  # outside any listening task: only the pool counts


class NeverAnswers(asyncio.Protocol):
    """Takes requests and never answers (the connection stays open)."""


def test_a_cancelled_client_request_frees_its_connection(run_loop: LoopRunner) -> None:
    """An op cancelled mid-request (an interrupted run) gives its pool slot back: with one
    slot, the next request gets a fresh connection instead of waiting for ever."""

    async def go() -> tuple[int, int]:
        server = await asyncio.get_running_loop().create_server(NeverAnswers, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = HttpClient(Endpoint("127.0.0.1", port), max_connections=1, timeout=60)
        try:
            first = asyncio.ensure_future(client.request("GET", "/a", []))
            await asyncio.sleep(0.05)
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            second = asyncio.ensure_future(client.request("GET", "/b", []))
            await asyncio.sleep(0.05)
            opened = client.h1.opened
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            return opened, client.h1._open
        finally:
            await client.close()
            server.close()

    opened, still_open = run_loop(go())
    assert opened == 2  # the second request had its own connection, not a wait
    assert still_open == 0
