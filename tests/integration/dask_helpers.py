"""Helpers of the ``run --cluster`` tests (test_dask.py, test_dask_faults.py): Dask clusters on
127.0.0.1 started and stopped here (an in-process ``LocalCluster``; a real ``dask scheduler``
with two ``dask worker`` subprocesses), configs, what a run left, and running the CLI until it
prints a marker, then signalling a worker or the run itself.

``distributed`` is imported when a test needs it, not at collection, so the rest of the session
never runs with it loaded; ``require_distributed`` makes a missing one fail under CI=true.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port, results_dir, run_cli, wait_for_port, write_config
from .test_s3_mock import MockServer, _start, s3_config


def require_distributed() -> None:
    """At a Dask test module's top: skip it without distributed, but fail under CI=true."""
    if importlib.util.find_spec("distributed") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("distributed is not installed (pip install -e '.[test]')", pytrace=False)
        pytest.skip("distributed is not installed", allow_module_level=True)


def dask_module() -> Any:
    """distributed, imported when a test needs it, not at collection: the rest of the
    session never runs with it loaded. Any: its API is mostly unannotated."""
    import distributed

    return distributed


PREPARED = 200
#: LIST requests of the config below: one for the prepare set, one per glob op (GET and STAT),
#: made once by the coordinator however many hosts run.
LISTS = 3


def mock_config(prefix: str, duration: str = "2s") -> dict[str, object]:
    """test_s3_mock's GET/STAT/PUT mix over PREPARED objects, for ``duration``."""
    return {**s3_config(prefix, PREPARED), "duration": duration}


def worker_pids(address: str) -> dict[str, int]:
    """Worker address -> its pid."""
    with dask_module().Client(address, timeout=10, set_as_default=False) as client:
        return dict(client.run(os.getpid))


@contextlib.contextmanager
def in_process_cluster(env: Mapping[str, str]) -> Iterator[Any]:
    with dask_module().LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # no dashboard; its other HTTP routes on a free loopback port, not 8787
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        env=dict(env),
    ) as cluster:
        yield cluster


@contextlib.contextmanager
def counting(scheduler: Any, op: str) -> Iterator[list[int]]:
    """Count the calls of one of the in-process scheduler's handlers (a coroutine)."""
    handler = scheduler.handlers[op]
    calls = [0]

    @functools.wraps(handler)  # the scheduler reads its signature (does it take "comm"?)
    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await handler(*args, **kwargs)

    scheduler.handlers[op] = counted
    try:
        yield calls
    finally:
        scheduler.handlers[op] = handler


def spawn_dask(
    args: list[str], log: Path, env: Mapping[str, str] | None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            stdout=f,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


def end_group(proc: subprocess.Popen[bytes]) -> None:
    """End a process this test started, and its group (a dask worker's nanny and worker)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


#: No dashboard; the scheduler's other HTTP routes on a free loopback port, not 8787.
NO_DASHBOARD = ("--no-dashboard", "--dashboard-address", "127.0.0.1:0")


@contextlib.contextmanager
def dask_cluster(logs: Path, worker_env: Mapping[str, str] | None) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` subprocesses on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        spawn_dask(
            ["scheduler", "--host", "127.0.0.1", "--port", str(port), *NO_DASHBOARD],
            logs / "scheduler.log",
            None,
        )
    ]
    try:
        wait_for_port(port, "dask scheduler", timeout=60)
        for k in range(2):
            args = ["worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1"]
            procs.append(spawn_dask([*args, "--no-dashboard"], logs / f"worker{k}.log", worker_env))
        with dask_module().Client(address, timeout=10, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    except Exception:
        for log in sorted(logs.glob("*.log")):  # why a worker did not come up
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        for proc in reversed(procs):
            end_group(proc)


def metadata(root: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((results_dir(root, name) / "metadata.json").read_text())
    return doc


def op_counts(root: Path, name: str) -> dict[str, int]:
    """Ops per operation from workload_results.tsv (its ALL rows)."""
    with (results_dir(root, name) / "workload_results.tsv").open() as f:
        rows = csv.DictReader(f, delimiter="\t")
        return {r["operation"]: int(r["count"]) for r in rows if r["size_bucket"] == "ALL"}


def check_hosts(root: Path, name: str, labels: set[str], per_host: int = 1) -> dict[str, Any]:
    """Every stage ran on both hosts, ``per_host`` processes each, and the per-host figures add
    up to the merged ones; workload_host_stats.tsv says the same. Returns the stages."""
    meta = metadata(root, name)
    assert meta["distributed"] is True and set(meta["agents"]) == labels, meta["agents"]
    stages: dict[str, Any] = meta["stages"]
    for stage in ("prepare", "workload", "cleanup"):
        hosts, procs = stages[stage]["hosts"], stages[stage]["processes"]
        assert {h["host"] for h in hosts} == labels, (stage, hosts)
        assert [h["processes"] for h in hosts] == [per_host, per_host], stage
        assert sorted((p["host"], p["process"]) for p in procs) == sorted(
            (label, k) for label in labels for k in range(per_host)
        ), stage
    workload = stages["workload"]
    assert sum(h["ops"] for h in workload["hosts"]) == workload["ops"] > 0
    assert sum(h["bytes"] for h in workload["hosts"]) == workload["bytes"]
    assert all(h["ops"] > 0 for h in workload["hosts"]), "each host did part of the load"
    assert sum(h["ops"] for h in stages["prepare"]["hosts"]) == PREPARED
    assert sum(h["ops"] for h in stages["cleanup"]["hosts"]) > 0
    with (results_dir(root, name) / "workload_host_stats.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert {r["host"] for r in rows} == labels
    assert sum(int(r["ops"]) for r in rows) == workload["ops"]
    return stages


def mock_stats(mock: MockServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{mock.url}/_mock/stats", timeout=10) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def worker_labels(address: str) -> set[str]:
    return {w.partition("://")[2] for w in worker_pids(address)}


def full_s3_run(
    tmp_path: Path, mock: MockServer, address: str, *extra: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """One full run against the mock; checks hosts, merged totals and the mock's counts."""
    before = mock_stats(mock)
    assert before["objects"]["bench"] == 0
    cfg = write_config(tmp_path, mock_config(f"dask-{uuid.uuid4().hex[:8]}"), "s3run.yaml")
    proc = run_cli(
        ["run", "--config", str(cfg), "--cluster", address, "--processes", "1", *extra],
        tmp_path,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    stages = check_hosts(tmp_path, "s3run", worker_labels(address))
    assert stages["prepare"]["objects_created"] == PREPARED
    assert stages["cleanup"]["objects_deleted"] == PREPARED
    ops = op_counts(tmp_path, "s3run")
    seen = mock_stats(mock)["requests"]
    late = stages["workload"]["late"]
    # Every request the mock saw is one we counted, one that finished after the deadline
    # (counted as late), or one of the coordinator's LISTs: not one per host.
    ours = ops["GET"] + ops["META"] + ops["PUT"] + PREPARED + late + LISTS
    assert seen["GET"] + seen["HEAD"] + seen["PUT"] == ours, (seen, ops, late)
    assert seen["PUT"] - PREPARED >= ops["PUT"]
    # Cleanup removed exactly the prepared objects: what is left is every other PUT.
    assert mock_stats(mock)["objects"]["bench"] == seen["PUT"] - PREPARED
    return stages


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


@pytest.fixture(scope="module")
def local_dask() -> Iterator[Any]:
    """An in-process LocalCluster (its scheduler in this process, 2 worker processes)."""
    with in_process_cluster({"AWS_EC2_METADATA_DISABLED": "true"}) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def local_cluster(local_dask: Any) -> str:
    return str(local_dask.scheduler_address)


def file_config(tmp_path: Path, duration: str = "2s", **more: object) -> dict[str, object]:
    """GET/PUT over PREPARED files under tmp_path/store/data, which holds a file of its own."""
    data = tmp_path / "store" / "data"
    data.mkdir(parents=True)
    (data / "keep.txt").write_text("not ours")
    return {
        "duration": duration,
        "concurrency": 4,
        "target": (tmp_path / "store").as_uri() + "/",
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": PREPARED, "size_spec": "4KiB"}],
            "cleanup": True,
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 70},
            {"op": "put", "path": "new/", "object_size": 1024, "weight": 30},
        ],
        **more,
    }


def read_lines(
    proc: subprocess.Popen[str], lines: list[str], marker: str, seen: threading.Event
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            seen.set()


def signal_at(
    cmd: list[str],
    cwd: Path,
    env: Mapping[str, str],
    marker: str,
    signal_it: Any,
    ready: Callable[[], bool] | None = None,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI; 1.5 s after it prints ``marker`` call ``signal_it(pid of the run)``. Returns
    the run and the seconds from the signal to the run's end.

    ``ready``, when given, must also hold before the signal (polled up to 60 s): a test that
    asserts ops were done waits for evidence of them, not for a fixed time (on a loaded 2-core
    box the workers' first ops came after 1.5 s, and such a run had done 0 ops)."""
    with subprocess.Popen(
        [sys.executable, "-m", "sai3bench", *cmd],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:  # the with closes its pipes
        lines: list[str] = []
        seen = threading.Event()
        reader = threading.Thread(target=read_lines, args=(proc, lines, marker, seen), daemon=True)
        reader.start()
        try:
            assert seen.wait(90), "".join(lines)
            time.sleep(1.5)
            for _ in range(600):
                if ready is None or ready():
                    break
                time.sleep(0.1)
            signal_it(proc.pid)
            signalled_at = time.monotonic()
            proc.wait(timeout=60)
            took = time.monotonic() - signalled_at
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)
        stderr = proc.stderr.read() if proc.stderr else ""
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(lines), stderr), took


def kill_a_worker_at(
    tmp_path: Path, server: MockServer, cfg: Path, marker: str, sig: int = signal.SIGKILL
) -> tuple[subprocess.CompletedProcess[str], str, float]:
    """Run ``cfg`` over a fresh 2-worker cluster; send ``sig`` to one worker's process 1.5 s
    after ``marker`` is printed (a stopped one is continued once the run ended). Returns the
    run, the host's label and the seconds from the signal to the run's end."""
    with dask_cluster(tmp_path, server.env()) as address:
        victim, pid = sorted(worker_pids(address).items())[0]
        cmd = ["run", "--config", str(cfg), "--cluster", address, "--processes", "1"]
        try:
            run, took = signal_at(
                cmd, tmp_path, server.env(), marker, lambda _run_pid: os.kill(pid, sig)
            )
        finally:
            if sig == signal.SIGSTOP:
                os.kill(pid, signal.SIGCONT)
    return run, victim.partition("://")[2], took


def nothing_prepared_left(
    server: MockServer, prefix: str, cwd: Path, run: subprocess.CompletedProcess[str]
) -> None:
    left = run_cli(["util", "list", f"s3://bench/{prefix}/data/"], cwd, env=server.env())
    assert left.returncode == 0, left.stderr
    listed = left.stdout.strip().splitlines()
    assert "prepared-" not in left.stdout, (listed[-1], run.stdout[-4000:] + run.stderr)
