"""The PUT latency split end to end: over HTTP/1.1 against the mock with added latency (the
latency lands in I/O, not setup), over HTTP/2 (the send is marked too), and on file://; a run
without PUTs has no split."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.http import sent
from sai3bench.http.endpoint import Endpoint
from sai3bench.http.h2pool import H2Pool
from tests.conftest import LoopRunner

from .conftest import run_cli, write_config
from .test_h2 import nginx  # noqa: F401 (a fixture)
from .test_s3_mock import MockServer, _start

pytestmark = pytest.mark.integration


@pytest.fixture
def slow_mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench", "--latency", "20ms")


def _summary(tmp: Path, cfg: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    out = tmp / "out"
    proc = run_cli(
        ["run", "-c", str(write_config(tmp, cfg)), "--results-dir", str(out)], tmp, env=env
    )
    assert proc.returncode == 0, proc.stderr
    (results,) = out.glob("sai3-*/results.json")
    return json.loads(results.read_text())["summary"], proc.stdout


def _config(target: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"duration": "1s", "concurrency": 4, "target": target, "workload": ops}


PUT = {"op": "put", "path": "new/", "object_size": 4096, "weight": 1}


def test_mock_latency_is_io_not_setup(tmp_path: Path, slow_mock: MockServer) -> None:
    summary, stdout = _summary(tmp_path, _config("s3://bench/s/", [PUT]), slow_mock.env())
    put = summary["workload"]["PUT"]
    assert put["io_latency_ns"]["p50"] >= 20_000_000  # the server's 20 ms
    assert put["setup_latency_ns"]["p50"] < 5_000_000
    assert put["setup_latency_ns"]["max"] < put["latency_ns"]["max"]
    for label in ("Latency (total):", "Latency (I/O ext):", "Latency (setup int):"):
        assert label in stdout


def test_file_puts_are_split_and_gets_are_not(tmp_path: Path) -> None:
    cfg = {**_config(f"file://{tmp_path}/store/", [PUT]), "processes": 2}
    summary, stdout = _summary(tmp_path, cfg)
    put = summary["workload"]["PUT"]
    assert put["io_latency_ns"]["max"] > 0 and "Latency (setup int):" in stdout
    # merged over the two processes: as many split values as PUTs (each mean is a sum / count)
    assert put["io_latency_ns"]["mean"] + put["setup_latency_ns"]["mean"] == pytest.approx(
        put["latency_ns"]["mean"], abs=2
    )
    cfg["workload"] = [{"op": "get", "path": "new/*", "weight": 1}]
    (tmp_path / "out").rename(tmp_path / "first")
    summary, stdout = _summary(tmp_path, cfg)
    assert "io_latency_ns" not in summary["workload"]["GET"] and "I/O ext" not in stdout


def test_http2_put_is_marked_when_sent(run_loop: LoopRunner, nginx: Endpoint) -> None:  # noqa: F811
    async def go() -> None:
        slot = [0]
        sent.listen(slot)
        pool = H2Pool(nginx, connections=1)
        try:
            r = await pool.request("GET", "/small", timeout=5)
            assert r.status == 200 and slot[0] == 0  # no body: never marked
            body = memoryview(b"x" * 4096)
            r = await pool.request("PUT", "/split", [("content-length", "4096")], body, timeout=5)
            assert r.status in (201, 204) and 0 < slot[0] < r.t_first_byte
        finally:
            await pool.close()

    run_loop(go())
