"""MultiEndpointBackend routing and counters, over fake backends (no I/O)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sai3bench.backends.base import BlockingBackend, DirectoryOwner, ObjectInfo
from sai3bench.backends.multi import (
    BlockingMultiEndpointBackend,
    MultiEndpointBackend,
    endpoints_from_env,
    multi_endpoint_backend,
)
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.outcome import OpError, Outcome
from sai3bench.report.endpoints import format_endpoint_tsv
from tests.conftest import LoopRunner


class Fake:
    """Records keys; ``gate`` holds GETs open so requests pile up (least_connections)."""

    def __init__(self, root: str) -> None:
        self.root = self.root_uri = root
        self.keys: list[str] = []
        self.gate: asyncio.Event | None = None

    def key_of(self, uri: str) -> str:
        return uri[len(self.root) :]

    def uri_of(self, key: str) -> str:
        return self.root + key

    async def get(self, key: str) -> tuple[int, int]:
        self.keys.append(key)
        if self.gate is not None:
            await self.gate.wait()
        if key.endswith("missing"):
            raise OpError(Outcome.NOT_FOUND, key)
        return 10, 12345  # (bytes, when the response head arrived)

    async def list(self, prefix: str, *, recursive: bool = True) -> list[ObjectInfo]:
        return [ObjectInfo(prefix + "a", 1)]


def _multi(strategy: str = "round_robin") -> tuple[MultiEndpointBackend, list[Fake]]:
    fakes = [Fake("s3://h:1/b/"), Fake("s3://h:2/b/")]
    eps = [("s3://h:1/b/run/", fakes[0]), ("s3://h:2/b/run/", fakes[1])]
    return MultiEndpointBackend("s3://b/run/", eps, strategy), fakes  # type: ignore[arg-type]


def test_round_robin_prefixes_keys_and_counts() -> None:
    multi, fakes = _multi()

    async def go() -> None:
        for _ in range(3):
            await multi.get("k")
        with pytest.raises(OpError):
            await multi.get("missing")

    before = multi.snapshot()
    asyncio.run(go())
    assert fakes[0].keys == ["run/k", "run/k"] and fakes[1].keys == ["run/k", "run/missing"]
    stats = multi.stats_since(before)
    assert [(s.requests, s.bytes_read, s.errors) for s in stats] == [(2, 20, 0), (2, 10, 1)]
    assert multi.key_of("s3://b/run/x/y") == "x/y"


def test_least_connections_avoids_the_busy_endpoint(run_loop: LoopRunner) -> None:
    """Task scheduling order decides what is in flight: both loop kinds."""
    multi, fakes = _multi("least_connections")

    async def go() -> None:
        fakes[0].gate = asyncio.Event()
        held = asyncio.ensure_future(multi.get("slow"))  # endpoint 0 now has one in flight
        await asyncio.sleep(0)
        for _ in range(4):
            await multi.get("fast")
        fakes[0].gate.set()
        await held

    run_loop(go())
    assert fakes[0].keys == ["run/slow"]
    assert fakes[1].keys == ["run/fast"] * 4


def test_list_returns_namespace_relative_keys() -> None:
    multi, _ = _multi()
    assert asyncio.run(multi.list("data/")) == [ObjectInfo("data/a", 1)]


def test_endpoints_from_env_forms() -> None:
    got = endpoints_from_env(
        "s3://bkt/pre/", "http://10.0.0.1:9000, 10.0.0.2:9000,https://h, s3://x:1/other/,"
    )
    assert got == [
        "s3://10.0.0.1:9000/bkt/pre/",
        "s3://10.0.0.2:9000/bkt/pre/",
        "s3://h:443/bkt/pre/",
        "s3://x:1/other/",
    ]


def test_endpoint_tsv_columns_and_percentages() -> None:
    stats = [
        EndpointStat(0, "s3://a/", 3, 300, 0, 0, 0),
        EndpointStat(1, "s3://b/", 1, 100, 50, 1, 0),
    ]
    lines = format_endpoint_tsv(stats).splitlines()
    assert lines[0].split("\t")[:3] == ["endpoint_idx", "endpoint_uri", "total_requests"]
    assert lines[1] == "0\ts3://a/\t3\t300\t0\t0\t0\t75.00\t75.00\t0.00"
    assert lines[2] == "1\ts3://b/\t1\t100\t50\t1\t0\t25.00\t25.00\t100.00"


def test_file_children_make_a_blocking_multi_that_routes_and_counts_in_threads(
    tmp_path: Path,
) -> None:
    from sai3bench.backends.file import FileBackend

    a, b = tmp_path / "a", tmp_path / "b"
    eps = [(f"file://{a}/run/", FileBackend(threads=2)), (f"file://{b}/run/", FileBackend())]
    multi = multi_endpoint_backend(f"file://{tmp_path}/ns/", eps, "round_robin")
    assert isinstance(multi, BlockingMultiEndpointBackend)
    assert isinstance(multi, BlockingBackend) and isinstance(multi, DirectoryOwner)
    assert multi.child_keys("d/") == [f"{a}/run/d/", f"{b}/run/d/"]
    before = multi.snapshot()
    for i in range(4):
        assert multi.put_sync(f"d/k{i}", memoryview(b"x" * (i + 1))) == i + 1
    assert multi.get_sync("d/k0") == 1  # k0 is under a/; round robin is back at a
    with pytest.raises(OpError):
        multi.get_sync("d/k0")  # ... and b/ has no k0
    assert sorted(o.key for o in multi.list_sync("d/")) == ["d/k0", "d/k2"]  # a/, relative
    assert sorted(p.name for p in (a / "run/d").iterdir()) == ["k0", "k2"]
    stats = multi.stats_since(before)
    got = [(s.requests, s.bytes_written, s.bytes_read, s.errors, s.active) for s in stats]
    assert got == [(4, 1 + 3, 1, 0, 0), (3, 2 + 4, 0, 1, 0)]


def test_async_children_make_a_plain_multi_and_return_their_ttfb() -> None:
    multi, _ = _multi()
    assert type(multi) is MultiEndpointBackend and not isinstance(multi, BlockingBackend)
    assert asyncio.run(multi.get("k")) == (10, 12345)  # the child's (bytes, first byte), as is


def test_get_range_needs_ranged_children() -> None:
    multi, _ = _multi()  # the fakes have no get_range
    with pytest.raises(OpError) as err:
        asyncio.run(multi.get_range("k", 0, 1))
    assert err.value.outcome == Outcome.CLIENT_ERROR and "byte ranges" in err.value.detail
    assert [s.errors for s in multi.snapshot()] == [1, 0]
