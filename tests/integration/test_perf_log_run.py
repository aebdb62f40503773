"""perf_log.tsv from real runs: two engine processes against the mock (the intervals add up to
the summary exactly; warmup rows present but kept out of it), and a run killed with SIGKILL
(every line it left is a complete 30-column row)."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.metrics.collector import Collector, OpClass

from ..adversity.runs import start_run
from .conftest import run_cli, write_config
from .test_s3_mock import MockServer, _start

COUNT = 30


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


def _rows(out: Path) -> list[dict[str, str]]:
    lines = (out / "perf_log.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    assert len(header) == 30
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def _collectors(out: Path) -> dict[str, Collector]:
    doc = json.loads((out / "results.json").read_text())
    return {k: Collector.decode(base64.b64decode(v)) for k, v in doc["stages"].items()}


def _sum(rows: list[dict[str, str]], stage: str, column: str) -> int:
    return sum(int(r[column]) for r in rows if r["stage"] == stage)


def _config(target: str, **extra: Any) -> dict[str, Any]:
    return {
        "target": target,
        "duration": "3s",
        "concurrency": 4,
        "perf_log": {"interval": "500ms"},
        "prepare": {
            "cleanup": True,
            "ensure_objects": [{"base_uri": "data/", "count": COUNT, "min_size": 1024}],
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 60},
            {"op": "put", "path": "new/", "object_size": 2048, "weight": 30},
            {"op": "stat", "path": "data/*", "weight": 10},
        ],
        **extra,
    }


def test_two_processes_intervals_add_up_to_the_summary(tmp_path: Path, mock: MockServer) -> None:
    """processes: 2 with a 1 s warmup: Workload rows (both processes' intervals merged) sum to
    exactly the summary's ops and bytes per class; Warmup rows hold ops the summary does not;
    prepare and cleanup rows count the objects made and deleted."""
    cfg = write_config(tmp_path, _config("s3://bench/", warmup_period="1s", processes=2))
    results = tmp_path / "results"
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(results)], tmp_path, env=mock.env())
    assert proc.returncode == 0, proc.stderr
    assert "Processes: 2 engine processes" in proc.stdout
    assert "Warmup: the first 1s ran but are left out of the results below" in proc.stdout
    assert "perf_log" not in proc.stderr  # neither ignored nor failed
    (out,) = results.glob("sai3-*")
    rows, summary = _rows(out), _collectors(out)
    stages = [r["stage"] for r in rows]
    assert stages[0] == "Prepare" and stages[-1] == "Cleanup"
    assert stages.count("Warmup") == 2 and stages.count("Workload") == 4  # 1 s + 2 s at 0.5 s
    wl = summary["workload"]
    for cls, col in ((OpClass.GET, "get"), (OpClass.PUT, "put")):
        assert _sum(rows, "Workload", f"{col}_ops") == wl.ops_of_class(cls) > 0
        assert _sum(rows, "Workload", f"{col}_bytes") == wl.bytes_of_class(cls)
    assert _sum(rows, "Workload", "meta_ops") == wl.ops_of_class(OpClass.META)
    assert _sum(rows, "Workload", "errors") == wl.error_count() == 0
    assert _sum(rows, "Warmup", "get_ops") > 0
    assert _sum(rows, "Prepare", "put_ops") == summary["prepare"].ops() == COUNT
    # one DeleteObjects request for all: the summary, too, counts requests
    assert _sum(rows, "Cleanup", "meta_ops") == summary["cleanup"].ops() > 0
    elapsed = [float(r["elapsed_s"]) for r in rows if r["stage"] in ("Warmup", "Workload")]
    assert elapsed == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]  # aligned to the shared start instant


def test_perf_log_enabled_false_writes_none(tmp_path: Path) -> None:
    data = tmp_path / "store"
    data.mkdir()
    config = _config(data.as_uri() + "/", perf_log={"enabled": False}, duration="1s")
    cfg = write_config(tmp_path, config)
    results = tmp_path / "results"
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(results)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    (out,) = results.glob("sai3-*")
    assert not (out / "perf_log.tsv").exists()


def test_sigkilled_run_keeps_complete_rows(tmp_path: Path) -> None:
    """A run killed mid-workload (no handler can run) leaves the rows written so far, each a
    complete 30-column line, the last one ended by its newline."""
    data = tmp_path / "store"
    data.mkdir()
    config = _config(data.as_uri() + "/", duration="60s", perf_log={"interval": "200ms"})
    cfg = write_config(tmp_path, config)
    results = tmp_path / "results"
    proc = start_run(["-c", str(cfg), "--results-dir", str(results)], tmp_path, {})
    try:
        log = _wait_for_rows(results, proc, rows=4)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    text = log.read_text()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) >= 5
    assert all(len(line.split("\t")) == 30 for line in lines)
    assert {line.split("\t")[3] for line in lines[1:]} >= {"Prepare", "Workload"}


def _wait_for_rows(results: Path, proc: Any, rows: int) -> Path:
    """perf_log.tsv once it has ``rows`` workload rows (within 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for log in results.glob("sai3-*/perf_log.tsv"):
            if log.read_text().count("\tWorkload\t") >= rows:
                return log
        time.sleep(0.1)
    raise AssertionError("no perf_log.tsv rows within 60 s")
