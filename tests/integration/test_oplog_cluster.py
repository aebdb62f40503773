"""``run --cluster --op-log``: the op-logs stay on the hosts, one file per engine process (like
upstream's agents); the client merges nothing and says where they are. The LocalCluster's two
hosts share this machine's disk, so the test reads both hosts' files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sai3bench.metrics.oplog_file import read_entries

from .conftest import run_cli, write_config
from .dask_helpers import PREPARED, file_config, local_cluster, local_dask, require_distributed

require_distributed()

pytestmark = pytest.mark.integration
__all__ = ["local_cluster", "local_dask"]  # fixtures, used by name


def test_cluster_op_logs_stay_on_the_hosts(tmp_path: Path, local_cluster: str) -> None:
    path = write_config(tmp_path, file_config(tmp_path, duration="1s"), "clog.yaml")
    log = tmp_path / "c.tsv.zst"
    args = ["run", "-c", str(path), "--cluster", local_cluster, "--op-log", str(log)]
    proc = run_cli(args, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "Op-logs stay on the hosts: c-worker-N.tsv.zst" in proc.stdout
    assert not log.exists()  # nothing merged on the client
    rows: list[Any] = []
    for k in range(2):  # one share per host
        part = list(read_entries(tmp_path / f"c-worker-{k}.tsv.zst"))
        assert part and {int(r.thread) // 100_000 for r in part} == {k}
        rows += part
    ops = Counter(r.op for r in rows)
    assert ops["PUT"] > PREPARED and ops["GET"] > 0 and ops["DELETE"] >= PREPARED
    prepared = {r.file for r in rows if r.op == "PUT" and "/data/prepared-" in r.file}
    assert len(prepared) == PREPARED  # each object made by exactly one host
