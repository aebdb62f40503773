"""``run --cluster``: full prepare -> workload -> cleanup runs over Dask, all on 127.0.0.1.

Two clusters, both started and stopped here: an in-process ``LocalCluster`` (2 worker
processes), and a real ``dask scheduler`` with two ``dask worker`` subprocesses. Each run is
checked per host and merged (metadata.json ``hosts``/``processes``, ``workload_host_stats.tsv``)
and against the mock server's own counts (GET /_mock/stats). A worker killed mid-workload ends
the run with exit 1, naming the host, and nothing prepare made is left. Under CI=true a missing
``distributed`` fails the module instead of skipping it.
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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port, results_dir, run_cli, wait_for_port, write_config
from .test_s3_mock import MockServer, _start, s3_config

if importlib.util.find_spec("distributed") is None:
    if os.environ.get("CI") == "true":
        pytest.fail("distributed is not installed (pip install -e '.[test]')", pytrace=False)
    pytest.skip("distributed is not installed", allow_module_level=True)


def _distributed() -> Any:
    """distributed, imported when a test needs it, not at collection: the rest of the
    session never runs with it loaded. Any: its API is mostly unannotated."""
    import distributed

    return distributed


PREPARED = 200
#: LIST requests of the config below: one for the prepare set, one per glob op (GET and STAT),
#: made once by the coordinator however many hosts run.
LISTS = 3


def _s3_config(prefix: str, duration: str = "2s") -> dict[str, object]:
    """test_s3_mock's GET/STAT/PUT mix over PREPARED objects, for ``duration``."""
    return {**s3_config(prefix, PREPARED), "duration": duration}


# -- clusters -------------------------------------------------------------------------------------


def _workers(address: str) -> dict[str, int]:
    """Worker address -> its pid."""
    with _distributed().Client(address, timeout=10, set_as_default=False) as client:
        return dict(client.run(os.getpid))


@contextlib.contextmanager
def _local_cluster(env: Mapping[str, str]) -> Iterator[Any]:
    with _distributed().LocalCluster(
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
def _counting(scheduler: Any, op: str) -> Iterator[list[int]]:
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


def _spawn(args: list[str], log: Path, env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            stdout=f,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


def _end(proc: subprocess.Popen[bytes]) -> None:
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
_NO_DASHBOARD = ("--no-dashboard", "--dashboard-address", "127.0.0.1:0")


@contextlib.contextmanager
def _dask_cluster(logs: Path, worker_env: Mapping[str, str] | None) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` subprocesses on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        _spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", str(port), *_NO_DASHBOARD],
            logs / "scheduler.log",
            None,
        )
    ]
    try:
        wait_for_port(port, "dask scheduler", timeout=60)
        for k in range(2):
            args = ["worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1"]
            procs.append(_spawn([*args, "--no-dashboard"], logs / f"worker{k}.log", worker_env))
        with _distributed().Client(address, timeout=10, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    except Exception:
        for log in sorted(logs.glob("*.log")):  # why a worker did not come up
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        for proc in reversed(procs):
            _end(proc)


# -- what a run left ------------------------------------------------------------------------------


def _meta(root: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((results_dir(root, name) / "metadata.json").read_text())
    return doc


def _op_counts(root: Path, name: str) -> dict[str, int]:
    """Ops per operation from workload_results.tsv (its ALL rows)."""
    with (results_dir(root, name) / "workload_results.tsv").open() as f:
        rows = csv.DictReader(f, delimiter="\t")
        return {r["operation"]: int(r["count"]) for r in rows if r["size_bucket"] == "ALL"}


def _check_hosts(root: Path, name: str, labels: set[str], per_host: int = 1) -> dict[str, Any]:
    """Every stage ran on both hosts, ``per_host`` processes each, and the per-host figures add
    up to the merged ones; workload_host_stats.tsv says the same. Returns the stages."""
    stages: dict[str, Any] = _meta(root, name)["stages"]
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


def _mock_stats(mock: MockServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{mock.url}/_mock/stats", timeout=10) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def _labels(address: str) -> set[str]:
    return {w.partition("://")[2] for w in _workers(address)}


def _full_s3_run(
    tmp_path: Path, mock: MockServer, address: str, *extra: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """One full run against the mock; checks hosts, merged totals and the mock's counts."""
    before = _mock_stats(mock)
    assert before["objects"]["bench"] == 0
    cfg = write_config(tmp_path, _s3_config(f"dask-{uuid.uuid4().hex[:8]}"), "s3run.yaml")
    proc = run_cli(
        ["run", "--config", str(cfg), "--cluster", address, "--processes", "1", *extra],
        tmp_path,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    stages = _check_hosts(tmp_path, "s3run", _labels(address))
    assert stages["prepare"]["objects_created"] == PREPARED
    assert stages["cleanup"]["objects_deleted"] == PREPARED
    ops = _op_counts(tmp_path, "s3run")
    seen = _mock_stats(mock)["requests"]
    late = stages["workload"]["late"]
    # Every request the mock saw is one we counted, one that finished after the deadline
    # (counted as late), or one of the coordinator's LISTs: not one per host.
    ours = ops["GET"] + ops["META"] + ops["PUT"] + PREPARED + late + LISTS
    assert seen["GET"] + seen["HEAD"] + seen["PUT"] == ours, (seen, ops, late)
    assert seen["PUT"] - PREPARED >= ops["PUT"]
    # Cleanup removed exactly the prepared objects: what is left is every other PUT.
    assert _mock_stats(mock)["objects"]["bench"] == seen["PUT"] - PREPARED
    return stages


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


@pytest.fixture(scope="module")
def local_dask() -> Iterator[Any]:
    """An in-process LocalCluster (its scheduler in this process, 2 worker processes)."""
    with _local_cluster({"AWS_EC2_METADATA_DISABLED": "true"}) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def local_cluster(local_dask: Any) -> str:
    return str(local_dask.scheduler_address)


# -- tests ----------------------------------------------------------------------------------------


def test_local_cluster_s3_forwarded_credentials(
    tmp_path: Path, mock: MockServer, local_cluster: str
) -> None:
    """The workers have no AWS_* of their own: --forward-credentials gives them the client's."""
    stages = _full_s3_run(tmp_path, mock, local_cluster, "--forward-credentials", env=mock.env())
    offsets = [h["clock_offset_ms"] for h in stages["workload"]["hosts"]]
    assert all(isinstance(x, float) for x in offsets)


def _file_config(tmp_path: Path, duration: str = "2s", **more: object) -> dict[str, object]:
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


def test_local_cluster_file(tmp_path: Path, local_dask: Any, local_cluster: str) -> None:
    """Also: the client polls the hosts' message queue a few times a second, not in a loop
    (a pause that returned at once made ~1,000 queue_get calls a second, 17 % of a core)."""
    path = write_config(tmp_path, _file_config(tmp_path), "filerun.yaml")
    data = tmp_path / "store" / "data"
    args = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    with _counting(local_dask.scheduler, "queue_get") as gets:
        t0 = time.monotonic()
        proc = run_cli(args, tmp_path, timeout=180)
        took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert 0 < gets[0] <= 25 * took, (gets[0], took)
    stages = _check_hosts(tmp_path, "filerun", _labels(local_cluster))
    assert stages["prepare"]["objects_created"] == PREPARED
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"], "cleanup left exactly that"
    ops = _op_counts(tmp_path, "filerun")
    made = sum(1 for p in (tmp_path / "store" / "new").rglob("*") if p.is_file())
    assert ops["PUT"] <= made <= ops["PUT"] + stages["workload"]["late"]


def test_two_processes_per_host(tmp_path: Path, local_cluster: str) -> None:
    """--processes 2 means 2 engine processes on each host: 4 shares, dealt host by host."""
    path = write_config(tmp_path, _file_config(tmp_path), "twoeach.yaml")
    args = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "2"]
    proc = run_cli(args, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert f"Cluster {local_cluster}: 2 hosts, 4 engine processes" in proc.stdout
    stages = _check_hosts(tmp_path, "twoeach", _labels(local_cluster), per_host=2)
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
    with _dask_cluster(tmp_path, mock.env()) as address:
        _full_s3_run(tmp_path, mock, address, env=mock.env())


def test_forwarded_credentials_never_written(tmp_path: Path) -> None:
    """--forward-credentials against a mock that checks SigV4: the run works with workers that
    have no credentials, and the secret is in no result file and no Dask log."""
    secret = f"sekrit-{uuid.uuid4().hex}"
    with contextlib.contextmanager(_start)(
        "--bucket", "bench", "--auth", f"AKIDDASK:{secret}"
    ) as server:
        env = server.env(key="AKIDDASK", secret=secret)
        with _dask_cluster(tmp_path, {"AWS_EC2_METADATA_DISABLED": "true"}) as address:
            _full_s3_run(tmp_path, server, address, "--forward-credentials", env=env)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "worker0.log" for p in files)
    leaked = [p for p in files if secret.encode() in p.read_bytes()]
    assert leaked == []


def _read_lines(
    proc: subprocess.Popen[str], lines: list[str], marker: str, seen: threading.Event
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            seen.set()


def _signal_at(
    cmd: list[str], cwd: Path, env: Mapping[str, str], marker: str, signal_it: Any
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI; 1.5 s after it prints ``marker`` call ``signal_it(pid of the run)``. Returns
    the run and the seconds from the signal to the run's end."""
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
        reader = threading.Thread(target=_read_lines, args=(proc, lines, marker, seen), daemon=True)
        reader.start()
        try:
            assert seen.wait(90), "".join(lines)
            time.sleep(1.5)
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


def _kill_a_worker_at(
    tmp_path: Path, server: MockServer, cfg: Path, marker: str, sig: int = signal.SIGKILL
) -> tuple[subprocess.CompletedProcess[str], str, float]:
    """Run ``cfg`` over a fresh 2-worker cluster; send ``sig`` to one worker's process 1.5 s
    after ``marker`` is printed (a stopped one is continued once the run ended). Returns the
    run, the host's label and the seconds from the signal to the run's end."""
    with _dask_cluster(tmp_path, server.env()) as address:
        victim, pid = sorted(_workers(address).items())[0]
        cmd = ["run", "--config", str(cfg), "--cluster", address, "--processes", "1"]
        try:
            run, took = _signal_at(
                cmd, tmp_path, server.env(), marker, lambda _run_pid: os.kill(pid, sig)
            )
        finally:
            if sig == signal.SIGSTOP:
                os.kill(pid, signal.SIGCONT)
    return run, victim.partition("://")[2], took


def _nothing_prepared_left(
    server: MockServer, prefix: str, cwd: Path, run: subprocess.CompletedProcess[str]
) -> None:
    left = run_cli(["util", "list", f"s3://bench/{prefix}/data/"], cwd, env=server.env())
    assert left.returncode == 0, left.stderr
    listed = left.stdout.strip().splitlines()
    assert "prepared-" not in left.stdout, (listed[-1], run.stdout[-4000:] + run.stderr)


def test_worker_killed_mid_workload(tmp_path: Path, mock: MockServer) -> None:
    """SIGKILL of one worker's process while the workload runs: the run ends within 30 s,
    exit 1, naming that host, and cleanup (on the host left) removes every prepared object."""
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path, _s3_config(prefix, duration="60s"), "killed.yaml")
    run, label, took = _kill_a_worker_at(tmp_path, mock, cfg, "=== Test Phase ===")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    assert took < 30, took
    assert f"host {label} lost" in run.stderr, run.stderr
    _nothing_prepared_left(mock, prefix, tmp_path, run)
    assert _mock_stats(mock)["objects"]["bench"] == _mock_stats(mock)["requests"]["PUT"] - PREPARED


def test_worker_frozen_mid_workload(tmp_path: Path, mock: MockServer) -> None:
    """SIGSTOP of one worker's process: the worker stays on the scheduler's list, but its host
    sends no heartbeat; after 10 s it is lost, the run ends (exit 1) naming it, and the host
    left deletes every prepared object."""
    prefix = f"frozen-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path, _s3_config(prefix, duration="60s"), "frozen.yaml")
    run, label, took = _kill_a_worker_at(tmp_path, mock, cfg, "=== Test Phase ===", signal.SIGSTOP)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    assert took < 30, took
    assert f"host {label} lost: no word from it for 10s" in run.stderr, run.stderr
    _nothing_prepared_left(mock, prefix, tmp_path, run)


def test_worker_killed_mid_prepare(tmp_path: Path) -> None:
    """Killed while prepare runs (slowed by 5 ms per response): the lost host's share of the
    indices counts as made, the host left deletes them, and nothing is left."""
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    big = {**s3_config(prefix, 30_000), "duration": "2s"}
    cfg = write_config(tmp_path, big, "killedprep.yaml")
    with contextlib.contextmanager(_start)("--bucket", "bench", "--latency", "5ms") as slow:
        run, label, took = _kill_a_worker_at(tmp_path, slow, cfg, "=== Prepare Phase ===")
        assert run.returncode == 1, run.stdout[-3000:] + run.stderr
        assert "=== Test Phase ===" not in run.stdout, "prepare ended before the kill"
        assert took < 30, took
        assert f"host {label} lost" in run.stderr, run.stderr
        assert "=== Cleanup Phase ===" in run.stdout
        _nothing_prepared_left(slow, prefix, tmp_path, run)
        assert _mock_stats(slow)["objects"]["bench"] == 0


def test_unreachable_scheduler_is_one_usage_error(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path, _s3_config("x"))
    t0 = time.monotonic()
    proc = run_cli(["run", "--config", str(cfg), "--cluster", f"tcp://127.0.0.1:{port}"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - t0 < 20
    assert f"--cluster tcp://127.0.0.1:{port}: cannot reach the Dask scheduler" in proc.stderr
    assert "hint: start a scheduler with `dask scheduler`" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_port_that_is_not_a_scheduler(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, _s3_config("x"))
    where = mock.url.replace("http://", "tcp://")
    proc = run_cli(["run", "--config", str(cfg), "--cluster", where], tmp_path, env=mock.env())
    assert proc.returncode == 2, proc.stderr
    assert "no Dask scheduler answers there" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_malformed_address_is_one_usage_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, _s3_config("x"))
    proc = run_cli(["run", "--config", str(cfg), "--cluster", "foo"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "error: --cluster foo: not a scheduler address" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigint_stops_every_host_and_cleans(tmp_path: Path, local_cluster: str) -> None:
    """Ctrl-C during the workload: every host stops, the partial results are kept (per host),
    cleanup still runs, and the exit code is 130."""
    path = write_config(tmp_path, _file_config(tmp_path, "60s"), "sigint.yaml")
    cmd = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    run, took = _signal_at(
        cmd, tmp_path, {}, "=== Test Phase ===", lambda pid: os.kill(pid, signal.SIGINT)
    )
    assert run.returncode == 130, run.stdout[-3000:] + run.stderr
    assert took < 30, took
    meta = _meta(tmp_path, "sigint")
    assert meta["interrupted"]["signal"] == "SIGINT", meta["interrupted"]
    workload = meta["stages"]["workload"]
    assert workload["interrupted"] is True
    assert {h["host"] for h in workload["hosts"]} == _labels(local_cluster)
    assert sum(h["ops"] for h in workload["hosts"]) == workload["ops"] > 0
    data = tmp_path / "store" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"], "cleanup still ran"


def test_agents_pick_the_workers(tmp_path: Path, local_cluster: str) -> None:
    """distributed.agents naming one worker's host:port runs on that worker alone; an agent
    that names no worker is warned about and ignored."""
    chosen = sorted(_labels(local_cluster))[0]
    agents = {"agents": [{"address": chosen}, {"address": "node9.invalid:7167"}]}
    cfg = _file_config(tmp_path, distributed=agents)
    path = write_config(tmp_path, cfg, "agents.yaml")
    args = ["run", "--config", str(path), "--cluster", local_cluster]
    proc = run_cli(args, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "distributed.agents: node9.invalid:7167 matches no Dask worker; ignored" in proc.stderr
    assert f"Cluster {local_cluster}: 1 host, 1 engine processes" in proc.stdout
    assert f"host {chosen}: 1 process" in proc.stdout
    stages = _meta(tmp_path, "agents")["stages"]
    assert stages["prepare"]["objects_created"] == PREPARED
    assert sorted(p.name for p in (tmp_path / "store" / "data").iterdir()) == ["keep.txt"]


def test_prepare_only_then_cleanup_only(tmp_path: Path, local_cluster: str) -> None:
    """--prepare-only and --cleanup-only run their stage over the hosts too."""
    path = write_config(tmp_path, _file_config(tmp_path), "split.yaml")
    base = ["run", "--config", str(path), "--cluster", local_cluster, "--processes", "1"]
    made = run_cli([*base, "--prepare-only", "--results-dir", "p"], tmp_path, timeout=180)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr
    data = tmp_path / "store" / "data"
    assert len([p for p in data.iterdir() if p.name.startswith("prepared-")]) == PREPARED
    hosts = _meta(tmp_path / "p", "split")["stages"]["prepare"]["hosts"]
    assert {h["host"] for h in hosts} == _labels(local_cluster)
    gone = run_cli([*base, "--cleanup-only", "--results-dir", "c"], tmp_path, timeout=180)
    assert gone.returncode == 0, gone.stdout[-3000:] + gone.stderr
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"]
    cleanup = _meta(tmp_path / "c", "split")["stages"]["cleanup"]
    assert cleanup["objects_deleted"] == PREPARED
    assert {h["host"] for h in cleanup["hosts"]} == _labels(local_cluster)
