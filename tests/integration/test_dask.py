"""``run --cluster``: full prepare -> workload -> cleanup runs over Dask, all on 127.0.0.1.

Two clusters, both started and stopped by the tests: an in-process ``LocalCluster`` (2 worker
processes), and a real ``dask scheduler`` with two ``dask worker`` subprocesses. Each run is
checked per host and merged (metadata.json ``hosts``/``processes``, ``workload_host_stats.tsv``)
and against the mock server's own counts (GET /_mock/stats). Failures (a worker killed or
frozen, Ctrl-C, bad addresses) are in test_dask_faults.py. Under CI=true a missing
``distributed`` fails the module instead of skipping it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli, write_config
from .dask_helpers import (
    PREPARED,
    check_hosts,
    counting,
    dask_cluster,
    file_config,
    full_s3_run,
    local_cluster,
    local_dask,
    metadata,
    mock,
    op_counts,
    require_distributed,
    worker_labels,
)
from .test_s3_mock import MockServer, _start

require_distributed()

pytestmark = pytest.mark.integration
__all__ = ["local_cluster", "local_dask", "mock"]  # fixtures, used by name


def test_local_cluster_s3_forwarded_credentials(
    tmp_path: Path, mock: MockServer, local_cluster: str
) -> None:
    """The workers have no AWS_* of their own: --forward-credentials gives them the client's."""
    stages = full_s3_run(tmp_path, mock, local_cluster, "--forward-credentials", env=mock.env())
    offsets = [h["clock_offset_ms"] for h in stages["workload"]["hosts"]]
    assert all(isinstance(x, float) for x in offsets)


def test_local_cluster_file(tmp_path: Path, local_dask: Any, local_cluster: str) -> None:
    """Also: the client polls the hosts' message queue a few times a second, not in a loop
    (a pause that returned at once made ~1,000 queue_get calls a second, 17 % of a core)."""
    path = write_config(tmp_path, file_config(tmp_path), "filerun.yaml")
    data = tmp_path / "store" / "data"
    args = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    with counting(local_dask.scheduler, "queue_get") as gets:
        t0 = time.monotonic()
        proc = run_cli(args, tmp_path, timeout=180)
        took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert 0 < gets[0] <= 25 * took, (gets[0], took)
    stages = check_hosts(tmp_path, "filerun", worker_labels(local_cluster))
    assert stages["prepare"]["objects_created"] == PREPARED
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"], "cleanup left exactly that"
    ops = op_counts(tmp_path, "filerun")
    made = sum(1 for p in (tmp_path / "store" / "new").rglob("*") if p.is_file())
    assert ops["PUT"] <= made <= ops["PUT"] + stages["workload"]["late"]


def test_two_processes_per_host(tmp_path: Path, local_cluster: str) -> None:
    """--processes 2 means 2 engine processes on each host: 4 shares, dealt host by host."""
    path = write_config(tmp_path, file_config(tmp_path), "twoeach.yaml")
    args = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "2"]
    proc = run_cli(args, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert f"Cluster {local_cluster}: 2 hosts, 4 engine processes" in proc.stdout
    stages = check_hosts(tmp_path, "twoeach", worker_labels(local_cluster), per_host=2)
    assert stages["prepare"]["objects_created"] == PREPARED
    assert sorted(p.name for p in (tmp_path / "store" / "data").iterdir()) == ["keep.txt"]


def test_processes_are_resolved_on_the_worker() -> None:
    """auto is the worker host's usable cores; no setting is one process per host."""
    from sai3bench.plan.cores import usable_cores
    from sai3bench.scale.hostside import host_processes

    assert host_processes("auto")[0] == usable_cores()
    assert host_processes(None)[0] == 1
    assert host_processes(3)[0] == 3


def test_dask_subprocesses_s3(tmp_path: Path, mock: MockServer) -> None:
    """A real scheduler and two workers, which know the mock from their own environment."""
    with dask_cluster(tmp_path, mock.env()) as address:
        full_s3_run(tmp_path, mock, address, env=mock.env())


def test_forwarded_credentials_never_written(tmp_path: Path) -> None:
    """--forward-credentials against a mock that checks SigV4: the run works with workers that
    have no credentials, and the secret is in no result file and no Dask log."""
    secret = f"sekrit-{uuid.uuid4().hex}"
    with contextlib.contextmanager(_start)(
        "--bucket", "bench", "--auth", f"AKIDDASK:{secret}"
    ) as server:
        env = server.env(key="AKIDDASK", secret=secret)
        with dask_cluster(tmp_path, {"AWS_EC2_METADATA_DISABLED": "true"}) as address:
            full_s3_run(tmp_path, server, address, "--forward-credentials", env=env)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "worker0.log" for p in files)
    leaked = [p for p in files if secret.encode() in p.read_bytes()]
    assert leaked == []


def test_agents_pick_the_workers(tmp_path: Path, local_cluster: str) -> None:
    """distributed.agents naming one worker's host:port runs on that worker alone; an agent
    that names no worker is warned about and ignored."""
    chosen = sorted(worker_labels(local_cluster))[0]
    agents = {"agents": [{"address": chosen}, {"address": "node9.invalid:7167"}]}
    cfg = file_config(tmp_path, distributed=agents)
    path = write_config(tmp_path, cfg, "agents.yaml")
    args = ["run", "--config", str(path), "--cluster", local_cluster]
    proc = run_cli(args, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "distributed.agents: node9.invalid:7167 matches no Dask worker; ignored" in proc.stderr
    assert f"Cluster {local_cluster}: 1 host, 1 engine processes" in proc.stdout
    assert f"host {chosen}: 1 process" in proc.stdout
    stages = metadata(tmp_path, "agents")["stages"]
    assert stages["prepare"]["objects_created"] == PREPARED
    assert sorted(p.name for p in (tmp_path / "store" / "data").iterdir()) == ["keep.txt"]


def test_prepare_only_then_cleanup_only(tmp_path: Path, local_cluster: str) -> None:
    """--prepare-only and --cleanup-only run their stage over the hosts too."""
    path = write_config(tmp_path, file_config(tmp_path), "split.yaml")
    base = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    made = run_cli([*base, "--prepare-only", "--results-dir", "p"], tmp_path, timeout=180)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr
    data = tmp_path / "store" / "data"
    assert len([p for p in data.iterdir() if p.name.startswith("prepared-")]) == PREPARED
    hosts = metadata(tmp_path / "p", "split")["stages"]["prepare"]["hosts"]
    assert {h["host"] for h in hosts} == worker_labels(local_cluster)
    gone = run_cli([*base, "--cleanup-only", "--results-dir", "c"], tmp_path, timeout=180)
    assert gone.returncode == 0, gone.stdout[-3000:] + gone.stderr
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"]
    cleanup = metadata(tmp_path / "c", "split")["stages"]["cleanup"]
    assert cleanup["objects_deleted"] == PREPARED
    assert {h["host"] for h in cleanup["hosts"]} == worker_labels(local_cluster)
