"""The mock server's own counters (GET /_mock/stats) and its stall fault, in process, over
loopback: what a fault test compares the client's account of a run with."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from sai3bench.http.endpoint import Endpoint
from sai3bench.http.h1build import build_request_head
from sai3bench.http.pool import H1Pool
from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import Faults, start_server
from sai3bench.mock.stats import MockStats
from sai3bench.mock.store import MemoryStore
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner


async def _call(pool: H1Pool, method: str, target: str, body: bytes | None = None) -> int:
    length = len(body) if body is not None else (0 if method == "PUT" else None)
    head = build_request_head(method, target, "127.0.0.1", (), length)
    conn = await pool.send(head, memoryview(body) if body else None, keep_body=True)
    status = conn.parser.status
    pool.release(conn)
    return status


async def _stats(pool: H1Pool) -> dict[str, Any]:
    conn = await pool.send(build_request_head("GET", "/_mock/stats", "127.0.0.1"), keep_body=True)
    doc: dict[str, Any] = json.loads(bytes(conn.parser.body))
    pool.release(conn)
    return doc


def _serve(run_loop: LoopRunner, faults: Faults, scenario: Any) -> Any:
    async def go() -> Any:
        store = MemoryStore()
        store.create_bucket("b")
        stats = MockStats(store)
        server = await start_server(S3App(store), port=0, faults=faults, stats=stats)
        pool = H1Pool(Endpoint("127.0.0.1", server.sockets[0].getsockname()[1]), max_size=2)
        try:
            return await scenario(pool)
        finally:
            await pool.close()
            server.close()

    return run_loop(go())


def test_stats_count_requests_responses_and_objects(run_loop: LoopRunner) -> None:
    async def scenario(pool: H1Pool) -> dict[str, Any]:
        assert await _call(pool, "PUT", "/b/k1", b"abc") == 200
        assert await _call(pool, "PUT", "/b/k2", b"abcd") == 200
        assert await _call(pool, "GET", "/b/k1") == 200
        assert await _call(pool, "GET", "/b/missing") == 404
        assert await _call(pool, "DELETE", "/b/k2") == 204
        return await _stats(pool)

    doc = _serve(run_loop, Faults(), scenario)
    assert doc["requests"] == {"DELETE": 1, "GET": 2, "PUT": 2}  # /_mock/ itself not counted
    assert doc["responses"] == {"200": 3, "204": 1, "404": 1}
    assert doc["faults"] == {"error": 0, "reset": 0, "truncate": 0, "stall": 0}
    assert doc["objects"] == {"b": 1}


def test_faults_are_counted_by_kind_never_as_responses(run_loop: LoopRunner) -> None:
    async def scenario(pool: H1Pool) -> dict[str, Any]:
        outcomes = []
        for i in range(40):
            try:
                outcomes.append(await _call(pool, "PUT", f"/b/k{i}", b"x" * 100))
            except OpError as exc:
                outcomes.append(int(exc.outcome))
        doc = await _stats(pool)
        doc["client"] = outcomes
        return doc

    faults = Faults(error_rate=0.2, reset_rate=0.2, truncate_rate=0.2, seed=3)
    doc = _serve(run_loop, faults, scenario)
    f = doc["faults"]
    assert f["error"] and f["reset"] and f["truncate"]
    # Every request the server read was answered whole, answered with a fault, or reset.
    assert (
        sum(doc["requests"].values()) == sum(doc["responses"].values()) + f["reset"] + f["truncate"]
    )
    assert doc["responses"]["503"] <= f["error"]  # an injected 503 may be truncated too
    # The client sent 40 PUTs; each resend of a reset request on a reused connection is one
    # more request the server saw.
    assert doc["requests"]["PUT"] >= 40


def test_a_stalled_request_is_answered_late_or_never(run_loop: LoopRunner) -> None:
    async def late(pool: H1Pool) -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        assert await _call(pool, "PUT", "/b/k", b"abc") == 200
        return time.perf_counter() - t0, {}

    took, _ = _serve(run_loop, Faults(stall_rate=1.0, stall_s=0.3), late)
    assert took >= 0.25  # loop timers may fire a little early

    async def never(pool: H1Pool) -> dict[str, Any]:
        head = build_request_head("PUT", "/b/k", "127.0.0.1", (), 0)
        with pytest.raises(OpError) as err:
            await pool.send(head, timeout=0.3)
        assert err.value.outcome == Outcome.TIMEOUT
        return {}

    _serve(run_loop, Faults(stall_rate=1.0), never)


def test_stats_can_be_cleared_and_unknown_mock_paths_are_404(run_loop: LoopRunner) -> None:
    async def scenario(pool: H1Pool) -> tuple[int, dict[str, Any]]:
        await _call(pool, "PUT", "/b/k", b"abc")
        assert await _call(pool, "DELETE", "/_mock/stats") == 200
        return await _call(pool, "GET", "/_mock/nothing"), await _stats(pool)

    status, doc = _serve(run_loop, Faults(), scenario)
    assert status == 404
    assert doc["requests"] == {} and doc["objects"] == {"b": 1}


def test_the_stats_repr_names_the_totals() -> None:
    stats = MockStats()
    stats.requests["GET"] += 2
    assert repr(stats).startswith("<MockStats requests=2 responses=0")
