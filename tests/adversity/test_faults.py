"""Faults from the mock server become counted outcomes: the run goes on, nothing is a traceback.

Injected: 503 SlowDown, connection resets, and bodies cut off half way. Each must show up in the
error counts by outcome (never as a latency sample), and the client must keep working on fresh
connections.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sai3bench.metrics.collector import Collector
from sai3bench.outcome import Outcome

from ..integration.conftest import run_cli, write_config
from ..integration.test_s3_mock import MockServer, _start


@pytest.fixture
def faulty() -> Any:
    yield from _start(
        "--bucket",
        "bench",
        "--error-rate",
        "0.05",
        "--reset-rate",
        "0.03",
        "--truncate-rate",
        "0.03",
        "--seed",
        "7",
    )


def test_faults_are_counted_by_outcome_and_the_run_goes_on(
    tmp_path: Path, faulty: MockServer
) -> None:
    mix = {
        "duration": "2s",
        "concurrency": 8,
        "target": "s3://bench/g/",
        "error_handling": {"max_total_errors": 100000, "error_rate_threshold": 1000000},
        "workload": [
            {"op": "put", "path": "new/", "object_size": 4096, "weight": 1},
            {"op": "list", "path": "new/", "weight": 1},
        ],
    }
    cfg2 = write_config(tmp_path, mix)
    out = tmp_path / "r"
    proc = run_cli(["run", "-c", str(cfg2), "--results-dir", str(out)], tmp_path, env=faulty.env())
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (res,) = out.glob("sai3-*/results.json")
    blob = json.loads(res.read_text())["stages"]["workload"]
    collector = Collector.decode(base64.b64decode(blob))
    outcomes = {Outcome(o) for (_, o) in collector.errors()}
    assert Outcome.SERVER_ERROR in outcomes or Outcome.THROTTLED in outcomes  # the 503s
    assert Outcome.CONNECTION in outcomes  # resets and truncated bodies
    assert collector.ops() > 10 * collector.error_count() / 2  # mostly successes, run went on
    assert "Errors" in proc.stdout
