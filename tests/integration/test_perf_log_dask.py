"""perf_log.tsv of a ``--cluster`` run: the hosts send their intervals with their results, and
the coordinator merges interval k of every host exactly (rows written when each stage ends)."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import pytest

from sai3bench.metrics.collector import Collector, OpClass

from ..adversity.runs import start_run
from .conftest import run_cli, write_config
from .dask_helpers import file_config, local_cluster, local_dask, require_distributed

require_distributed()

pytestmark = pytest.mark.integration
__all__ = ["local_cluster", "local_dask"]  # fixtures, used by name


def test_cluster_run_writes_merged_intervals(tmp_path: Path, local_cluster: str) -> None:
    config = file_config(tmp_path, duration="2s", perf_log={"interval": "500ms"})
    path = write_config(tmp_path, config, "perflog.yaml")
    args = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    proc = run_cli(args, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    (out,) = tmp_path.glob("sai3-*-perflog")
    lines = (out / "perf_log.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    workload = [r for r in rows if r["stage"] == "Workload"]
    assert [r["elapsed_s"] for r in workload] == ["0.500", "1.000", "1.500", "2.000"]
    doc = json.loads((out / "results.json").read_text())
    summary = Collector.decode(base64.b64decode(doc["stages"]["workload"]))
    for cls, col in ((OpClass.GET, "get"), (OpClass.PUT, "put")):
        assert sum(int(r[f"{col}_ops"]) for r in workload) == summary.ops_of_class(cls) > 0
    prepared = sum(int(r["put_ops"]) for r in rows if r["stage"] == "Prepare")
    assert prepared == Collector.decode(base64.b64decode(doc["stages"]["prepare"])).ops() > 0


def test_cluster_rows_stream_while_the_workload_runs(tmp_path: Path, local_cluster: str) -> None:
    """Hosts stream each interval to the client as it closes: the first workload row is on
    disk within seconds of its interval's end, not when the 6 s stage ends (a killed client
    keeps them), and none is written twice though every host also sends its intervals again
    with its result."""
    config = file_config(tmp_path, duration="6s", perf_log={"interval": "500ms"})
    path = write_config(tmp_path, config, "streamed.yaml")
    proc = start_run(["--config", str(path), "--cluster", local_cluster], tmp_path, {})
    try:
        lag_ms = _first_workload_row_lag_ms(tmp_path, proc)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-3000:] + err
    assert lag_ms < 4000, lag_ms  # sent at the stage's end it would be 5.5 s or more
    (log,) = tmp_path.glob("sai3-*-streamed/perf_log.tsv")
    stages = [line.split("\t")[3] for line in log.read_text().splitlines()[1:]]
    assert stages.count("Workload") == 12


def _first_workload_row_lag_ms(root: Path, proc: subprocess.Popen[str]) -> float:
    """How long after its interval ended the first workload row was seen on disk."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        for log in root.glob("sai3-*-streamed/perf_log.tsv"):
            rows = [r.split("\t") for r in log.read_text().splitlines()[1:]]
            workload = [r for r in rows if r[3] == "Workload"]
            if workload:
                return time.time() * 1000 - int(workload[0][1])
        time.sleep(0.05)
    raise AssertionError("no Workload row while the run ran")
