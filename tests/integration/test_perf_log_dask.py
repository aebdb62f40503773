"""perf_log.tsv of a ``--cluster`` run: the hosts send their intervals with their results, and
the coordinator merges interval k of every host exactly (rows written when each stage ends)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sai3bench.metrics.collector import Collector, OpClass

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
