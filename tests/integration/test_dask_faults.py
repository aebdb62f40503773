"""``run --cluster`` when things go wrong, all on 127.0.0.1: a worker killed (SIGKILL) mid-prepare
or mid-workload, a worker frozen (SIGSTOP), Ctrl-C at the client, and scheduler addresses that
are unreachable, not a scheduler or malformed. Each ends within seconds with the right exit code
and message, naming the host, and leaves no prepared object behind. Under CI=true a missing
``distributed`` fails the module instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from .conftest import free_port, run_cli, write_config
from .dask_helpers import (
    PREPARED,
    file_config,
    kill_a_worker_at,
    local_cluster,
    local_dask,
    metadata,
    mock,
    mock_config,
    mock_stats,
    nothing_prepared_left,
    require_distributed,
    signal_at,
    worker_labels,
)
from .test_s3_mock import MockServer, _start, s3_config

require_distributed()

pytestmark = pytest.mark.integration
__all__ = ["local_cluster", "local_dask", "mock"]  # fixtures, used by name


def test_worker_killed_mid_workload(tmp_path: Path, mock: MockServer) -> None:
    """SIGKILL of one worker's process while the workload runs: the run ends within 30 s,
    exit 1, naming that host, and cleanup (on the host left) removes every prepared object."""
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path, mock_config(prefix, duration="60s"), "killed.yaml")
    run, label, took = kill_a_worker_at(tmp_path, mock, cfg, "=== Test Phase ===")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    assert took < 30, took
    assert f"host {label} lost" in run.stderr, run.stderr
    nothing_prepared_left(mock, prefix, tmp_path, run)
    assert mock_stats(mock)["objects"]["bench"] == mock_stats(mock)["requests"]["PUT"] - PREPARED


def test_worker_frozen_mid_workload(tmp_path: Path, mock: MockServer) -> None:
    """SIGSTOP of one worker's process: the worker stays on the scheduler's list, but its host
    sends no heartbeat; after 10 s it is lost, the run ends (exit 1) naming it, and the host
    left deletes every prepared object."""
    prefix = f"frozen-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path, mock_config(prefix, duration="60s"), "frozen.yaml")
    run, label, took = kill_a_worker_at(tmp_path, mock, cfg, "=== Test Phase ===", signal.SIGSTOP)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    assert took < 30, took
    assert f"host {label} lost: no word from it for 10s" in run.stderr, run.stderr
    nothing_prepared_left(mock, prefix, tmp_path, run)


def test_worker_killed_mid_prepare(tmp_path: Path) -> None:
    """Killed while prepare runs (slowed by 5 ms per response): the lost host's share of the
    indices counts as made, the host left deletes them, and nothing is left."""
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    big = {**s3_config(prefix, 30_000), "duration": "2s"}
    cfg = write_config(tmp_path, big, "killedprep.yaml")
    with contextlib.contextmanager(_start)("--bucket", "bench", "--latency", "5ms") as slow:
        run, label, took = kill_a_worker_at(tmp_path, slow, cfg, "=== Prepare Phase ===")
        assert run.returncode == 1, run.stdout[-3000:] + run.stderr
        assert "=== Test Phase ===" not in run.stdout, "prepare ended before the kill"
        assert took < 30, took
        assert f"host {label} lost" in run.stderr, run.stderr
        assert "=== Cleanup Phase ===" in run.stdout
        nothing_prepared_left(slow, prefix, tmp_path, run)
        assert mock_stats(slow)["objects"]["bench"] == 0


def test_unreachable_scheduler_is_one_usage_error(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path, mock_config("x"))
    t0 = time.monotonic()
    proc = run_cli(["run", "--config", str(cfg), "--cluster", f"tcp://127.0.0.1:{port}"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - t0 < 20
    assert f"--cluster tcp://127.0.0.1:{port}: cannot reach the Dask scheduler" in proc.stderr
    assert "hint: start a scheduler with `dask scheduler`" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_port_that_is_not_a_scheduler(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, mock_config("x"))
    where = mock.url.replace("http://", "tcp://")
    proc = run_cli(["run", "--config", str(cfg), "--cluster", where], tmp_path, env=mock.env())
    assert proc.returncode == 2, proc.stderr
    assert "no Dask scheduler answers there" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_malformed_address_is_one_usage_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, mock_config("x"))
    proc = run_cli(["run", "--config", str(cfg), "--cluster", "foo"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "error: --cluster foo: not a scheduler address" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigint_stops_every_host_and_cleans(tmp_path: Path, local_cluster: str) -> None:
    """Ctrl-C during the workload: every host stops, the partial results are kept (per host),
    cleanup still runs, and the exit code is 130."""
    path = write_config(tmp_path, file_config(tmp_path, "60s"), "sigint.yaml")
    cmd = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    new_files = tmp_path / "store" / "new"  # the workload's PUTs: ops are under way
    run, took = signal_at(
        cmd,
        tmp_path,
        {},
        "=== Test Phase ===",
        lambda pid: os.kill(pid, signal.SIGINT),
        ready=lambda: sum(1 for p in new_files.rglob("*") if p.is_file()) >= 4,
    )
    assert run.returncode == 130, run.stdout[-3000:] + run.stderr
    assert took < 30, took
    meta = metadata(tmp_path, "sigint")
    assert meta["interrupted"]["signal"] == "SIGINT", meta["interrupted"]
    workload = meta["stages"]["workload"]
    assert workload["interrupted"] is True
    assert {h["host"] for h in workload["hosts"]} == worker_labels(local_cluster)
    assert sum(h["ops"] for h in workload["hosts"]) == workload["ops"] > 0
    data = tmp_path / "store" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"], "cleanup still ran"
