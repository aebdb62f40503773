"""H2Pool's choice of connection, without sockets: fake connections with a load and a
draining flag, and a fake opener."""

from __future__ import annotations

import asyncio
from typing import Any

from sai3bench.http.endpoint import Endpoint
from sai3bench.http.h2conn import H2Unprocessed
from sai3bench.http.h2pool import MAX_SENDS, H2Pool
from sai3bench.outcome import Outcome
from tests.conftest import LoopRunner


class FakeConn:
    def __init__(self, name: str, load: int = 0, *, draining: bool = False, refuse: int = 0):
        self.name, self.draining, self.closed = name, draining, False
        self.streams, self.queued = dict.fromkeys(range(load)), ()
        self.refuse = refuse  # requests answered with H2Unprocessed before one succeeds
        self.sent = 0

    async def request(self, *args: Any, **kwargs: Any) -> str:
        self.sent += 1
        if self.sent <= self.refuse:
            raise H2Unprocessed(Outcome.CONNECTION, "GOAWAY")
        return self.name


def _pool(conns: list[FakeConn], fresh: list[FakeConn]) -> H2Pool:
    pool = H2Pool(Endpoint("127.0.0.1", 1), connections=2)
    pool.conns = conns  # type: ignore[assignment]

    async def open_fresh() -> Any:
        conn = fresh.pop(0)
        pool.conns.append(conn)  # type: ignore[arg-type]
        pool._opening = None
        return conn

    pool._open = open_fresh  # type: ignore[method-assign]
    return pool


def test_a_draining_connection_is_skipped_and_replaced(run_loop: LoopRunner) -> None:
    async def go() -> list[Any]:
        pool = _pool([FakeConn("old", draining=True)], [FakeConn("new")])
        got = [await pool.request("GET", "/a"), await pool.request("GET", "/b")]
        await asyncio.sleep(0)
        return got

    assert run_loop(go()) == ["new", "new"]


def test_unprocessed_requests_are_sent_again_up_to_max_sends(run_loop: LoopRunner) -> None:
    async def go() -> tuple[Any, int]:
        conn = FakeConn("busy", load=1, refuse=MAX_SENDS - 1)
        pool = _pool([conn, FakeConn("other", load=5)], [])
        return await pool.request("GET", "/a"), pool.resent

    assert run_loop(go()) == ("busy", MAX_SENDS - 1)
