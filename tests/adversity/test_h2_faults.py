"""``run --http2`` under adversity, against the HTTP/1.1 path as the reference: the server dies
mid-run, and Ctrl-C / SIGTERM arrive during the workload.

gs:// through nginx in front of the bundled mock (nginx speaks h2c, or HTTP/1.1 for the
reference run). A dead server must end the run as HTTP/1.1 does: every failure counted as
CONNECTION, the workload aborted by the error limit with exit code 1, what cleanup could not
delete named, no traceback and no hang. A signal stops the workload, cleanup still deletes
everything prepared, exit 128 + signal.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..integration.conftest import write_config
from ..integration.h2nginx import Nginx, run_nginx
from ..integration.test_h2_run import _listed, gs_env, h2_config
from ..integration.test_s3_mock import MockServer, _start
from .runs import read_until, start_run
from .test_interrupts import _assert_stopped, _mock_stats, _signal_run, _wait_until

pytestmark = pytest.mark.integration

#: A run whose server died must end within this (cleanup's 8 retry rounds take ~13 s).
ENDS_WITHIN = 90.0


@pytest.fixture
def slow_mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bkt", "--latency", "20ms")


@pytest.fixture(params=["http2", "http1.1"])
def front(
    request: pytest.FixtureRequest, tmp_path: Path, slow_mock: MockServer
) -> Iterator[tuple[Nginx, list[str]]]:
    """nginx in front of the mock, and the run's flags: h2c with --http2, or HTTP/1.1 without
    (the reference)."""
    d = tmp_path / "nginx"
    d.mkdir()
    upstream = int(slow_mock.url.rsplit(":", 1)[1])
    h2 = request.param == "http2"
    with run_nginx(d, upstream=upstream, keepalive=1000, h2=h2) as server:
        yield server, ["--http2"] if h2 else []


def test_the_server_dying_mid_run_ends_it_as_over_http1(
    tmp_path: Path, slow_mock: MockServer, front: tuple[Nginx, list[str]]
) -> None:
    server, flags = front
    cfg = write_config(tmp_path, h2_config("gs://bkt/dies/", duration="20s", concurrency=8))
    results = tmp_path / "results"
    args = [*flags, "-c", str(cfg), "--results-dir", str(results)]
    proc = start_run(args, tmp_path, gs_env(server.url))
    try:
        read_until(proc, "Starting execution")
        _wait_until(_gets_grew(slow_mock))
        server.kill()
        out, err = proc.communicate(timeout=ENDS_WITHIN)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, (out[-2000:], err[-2000:])
    assert "Traceback" not in err, err
    assert "error: workload aborted" in err and "ops failed" in err, err
    (meta_path,) = results.glob("sai3-*/metadata.json")
    stages: dict[str, Any] = json.loads(meta_path.read_text())["stages"]
    workload, cleanup = stages["workload"], stages["cleanup"]
    assert workload["ops"] > 0 and workload["errors"] > 0
    assert "CONNECTION" in out and "Errors:" in out
    # Nothing could be deleted once nginx was gone: all of it is counted and named.
    assert cleanup["objects_deleted"] == 0 and cleanup["objects_left"] > 0
    assert f"left {cleanup['objects_left']} of" in err


def _gets_grew(mock: MockServer, by: int = 50) -> Callable[[], bool]:
    """A readiness check: true once ``by`` more GETs reached the mock than at its first call
    (made once the workload's banner showed; prepare's LISTs are GETs too), so the workload
    is well under way with ops done."""
    start: list[int] = []

    def ready() -> bool:
        now = _mock_stats_gets(mock)
        if not start:
            start.append(now)
        return now > start[0] + by

    return ready


def _mock_stats_gets(mock: MockServer) -> int:
    return int(_mock_stats(mock)["requests"].get("GET", 0))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_in_the_workload_stops_and_cleans_up_as_over_http1(
    tmp_path: Path, slow_mock: MockServer, front: tuple[Nginx, list[str]], sig: signal.Signals
) -> None:
    server, flags = front
    cfg = write_config(tmp_path, h2_config("gs://bkt/sig/", duration="30s", concurrency=16))
    run = _signal_run(
        [*flags, "-c", str(cfg)],
        tmp_path,
        banner="Starting execution",
        ready=_gets_grew(slow_mock),
        signals=(sig,),
        env=gs_env(server.url),
    )
    _assert_stopped(run, 128 + sig, "workload")
    wl = run.meta["stages"]["workload"]
    assert wl["interrupted"] is True and wl["ops"] > 0 and wl["errors"] == 0
    cleanup = run.meta["stages"]["cleanup"]
    assert cleanup["errors"] == 0 and cleanup["objects_left"] == 0
    assert _listed("gs://bkt/sig/data/", "gs", slow_mock, tmp_path) == 0
