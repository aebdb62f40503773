"""io_rate over Dask (``run --cluster``): the rate is the run's aggregate, each host offering
its share, all from the start instant the client sets. Own module: Dask tests share the
in-process LocalCluster fixture of dask_helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import results_dir, run_cli, write_config
from .dask_helpers import file_config, local_cluster, local_dask, require_distributed

require_distributed()

pytestmark = pytest.mark.integration
__all__ = ["local_cluster", "local_dask"]  # fixtures, used by name


@pytest.mark.parametrize("distribution", ["deterministic", "exponential"])
def test_two_hosts_keep_the_aggregate_rate(
    tmp_path: Path, local_cluster: str, distribution: str
) -> None:
    config: dict[str, Any] = file_config(tmp_path, duration="3s")
    config["io_rate"] = {"iops": 300, "distribution": distribution}
    path = write_config(tmp_path, config, "paced.yaml")
    args = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    proc = run_cli(args, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = results_dir(tmp_path, "paced")
    pacing = json.loads((out / "results.json").read_text())["rate"]["workload"]
    assert pacing["offered_ops_per_sec"] == 300
    assert abs(pacing["achieved_ops_per_sec"] - 300) <= 6, pacing
    hosts = json.loads((out / "metadata.json").read_text())["stages"]["workload"]["hosts"]
    assert len(hosts) == 2 and all(h["ops"] > 100 for h in hosts), hosts
