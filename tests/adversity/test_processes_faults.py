"""Faults in a ``--processes 2`` run: an engine child killed or frozen, and signals at the
coordinator, in each stage.

The issue's bar (issue 9, "Failure is loud and bounded"): a child that dies or hangs stops the
run within seconds, naming the process, with exit 1 and no orphaned processes; what was created
is still cleaned up; Ctrl-C stops every child and keeps the partial results.

Every run gets a marker in its environment, which its engine children inherit: the test finds
them by it (``/proc/*/environ``), orphans included, and kills whatever is left in teardown
(a SIGSTOPped child included: SIGKILL reaches a stopped process).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.scale.local import HANG_S

from ..integration.conftest import prepared_names, write_config
from ..integration.test_s3_mock import MockServer, _start, listed
from .runs import read_until, start_run
from .test_interrupts import STOP_WITHIN, Signalled, _assert_stopped, _mock_stats, _signal_run

#: Seconds a run may take to end after a child dies (the issue: "within a few seconds";
#: generous for a loaded 2-core box: cleanup still runs after).
DIED_WITHIN = 20.0
#: After a child freezes: hang detection (HANG_S) plus the same margin.
HUNG_WITHIN = HANG_S + DIED_WITHIN
MARK = "SAI3_TEST_PROCESSES_RUN"
CHILD = b"sai3bench.scale.child"


# -- finding the engine children ------------------------------------------------------------------


def _marked_children(mark: str) -> list[int]:
    """Live (not zombie) engine child processes whose environment carries ``mark``."""
    want = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if CHILD not in (entry / "cmdline").read_bytes():
                continue
            if want not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def _kill_marked(mark: str) -> None:
    for pid in _marked_children(mark):
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _none_left(mark: str, within: float = 5.0) -> None:
    """No engine child of this run outlives it (PDEATHSIG or the coordinator's kill: allow a
    moment for the kernel to deliver)."""
    deadline = time.monotonic() + within
    while (left := _marked_children(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], f"orphaned engine processes: {left}"


@pytest.fixture
def mark() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    _kill_marked(value)


def _wait(what: str, ready: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


# -- a run with a fault injected into one of its children -----------------------------------------


class Faulted:
    """A finished run, a child of which was hit: exit code, seconds from the fault to the
    exit, output, the saved metadata, the child's pid and the run's marker."""

    def __init__(
        self, rc: int, took: float, out: str, err: str, results: Path, pid: int, mark: str
    ) -> None:
        self.rc, self.took, self.out, self.err, self.pid = rc, took, out, err, pid
        self.mark = mark
        (self.dir,) = results.glob("sai3-*")
        self.meta: dict[str, Any] = json.loads((self.dir / "metadata.json").read_text())


def _fault_run(
    args: list[str],
    cwd: Path,
    mark: str,
    *,
    banner: str,
    ready: Callable[[], bool],
    sig: signal.Signals,
    env: dict[str, str] | None = None,
    within: float = DIED_WITHIN,
) -> Faulted:
    """``sai3bench run --processes 2 ...``; once ``banner`` shows, both children run and
    ``ready()`` holds, send ``sig`` to one child; wait for the run to end."""
    results = cwd / "results"
    run_args = [*args, "--processes", "2", "--results-dir", str(results)]
    proc = start_run(run_args, cwd, {**(env or {}), MARK: mark})
    try:
        seen = read_until(proc, banner)
        _wait("two engine children", lambda: len(_marked_children(mark)) == 2)
        _wait("the stage under way", ready)
        victim = _marked_children(mark)[0]
        os.kill(victim, sig)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=within + 15)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return Faulted(proc.returncode, took, "".join(seen) + out, err, results, victim, mark)


def _assert_failed_loudly(run: Faulted, how: str, within: float) -> None:
    assert run.rc == 1, (run.rc, run.out[-2000:], run.err[-2000:])
    assert run.took < within, run.took
    assert "Traceback" not in run.err, run.err
    named = re.compile(rf"^error: local process \d \(pid {run.pid}\) {how}", re.M)
    assert named.search(run.err), run.err
    assert len([ln for ln in run.err.splitlines() if ln.startswith("error:")]) == 1, run.err


# -- the configs ----------------------------------------------------------------------------------


@pytest.fixture
def slow_mock() -> Iterator[MockServer]:
    """Each request answered after 20 ms: stages last long enough to be hit, never by sleeping."""
    yield from _start("--bucket", "bench", "--latency", "20ms")


def _config(tmp_path: Path, target: str, count: int, duration: str = "30s", c: int = 8) -> Path:
    """``count`` 1 KiB objects under data/, a GET/PUT workload, cleanup on."""
    return write_config(
        tmp_path,
        {
            "target": target,
            "duration": duration,
            "concurrency": c,
            "prepare": {
                "cleanup": True,
                "ensure_objects": [{"base_uri": "data/", "count": count, "size_spec": 1024}],
            },
            "workload": [
                {"op": "get", "path": "data/*", "weight": 3},
                {"op": "put", "path": "new/", "object_size": 1024, "weight": 1},
            ],
        },
    )


def _gets(mock: MockServer) -> int:
    return int(_mock_stats(mock)["requests"].get("GET", 0))


def _objects(mock: MockServer) -> int:
    return int(_mock_stats(mock)["objects"].get("bench", 0))


# -- a child that dies or hangs ----------------------------------------------------------------


def _assert_lost(run: Faulted, sig: signal.Signals) -> None:
    """Exit 1 within the bound, naming the process: died (SIGKILL) or hung (SIGSTOP, after
    HANG_S without a heartbeat); no engine child left."""
    if sig == signal.SIGKILL:
        _assert_failed_loudly(run, r"died \(killed by SIGKILL\)", DIED_WITHIN)
    else:
        _assert_failed_loudly(run, rf"hung: no heartbeat for {HANG_S:g}s", HUNG_WITHIN)
        assert run.took >= HANG_S - 1  # hang detection waits HANG_S (a timer may fire early)
    _none_left(run.mark)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["died", "hung"])
def test_child_lost_mid_workload_fails_the_run_and_cleanup_still_runs(
    tmp_path: Path, slow_mock: MockServer, mark: str, sig: signal.Signals
) -> None:
    cfg = _config(tmp_path, "s3://bench/kw/", 64)
    run = _fault_run(
        ["-c", str(cfg)],
        tmp_path,
        mark,
        banner="Starting execution",
        ready=lambda: _gets(slow_mock) > 40,
        sig=sig,
        env=slow_mock.env(),
        within=HUNG_WITHIN,
    )
    _assert_lost(run, sig)
    stages = run.meta["stages"]
    assert stages["workload"]["ops"] > 0  # the survivor's partial results were kept
    assert stages["cleanup"]["objects_deleted"] == 64 and stages["cleanup"]["errors"] == 0
    assert listed(slow_mock, "s3://bench/kw/data/", tmp_path) == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["died", "hung"])
def test_child_lost_mid_prepare_fails_the_run_and_leaves_nothing_prepared(
    tmp_path: Path, slow_mock: MockServer, mark: str, sig: signal.Signals
) -> None:
    cfg = _config(tmp_path, "s3://bench/kp/", 4000, c=16)
    run = _fault_run(
        ["-c", str(cfg)],
        tmp_path,
        mark,
        banner="=== Prepare Phase ===",
        ready=lambda: _objects(slow_mock) >= 32,
        sig=sig,
        env=slow_mock.env(),
        within=HUNG_WITHIN,
    )
    _assert_lost(run, sig)
    assert "workload" not in run.meta["stages"]  # the run stops: no workload on half a prepare
    # What the lost process may have made counts as created (all 2,000 indices it had, as
    # the survivor stopped early), and cleanup tries every one of them.
    created = run.meta["stages"]["prepare"]["objects_created"]
    cleanup = run.meta["stages"]["cleanup"]
    assert 2000 <= created <= 4000  # the survivor: stopped at once, or done before a hang shows
    assert cleanup["objects_deleted"] + cleanup["already_deleted"] == created
    assert cleanup["errors"] == 0
    assert listed(slow_mock, "s3://bench/kp/data/", tmp_path) == 0


# -- signals at the coordinator ----------------------------------------------------------------


def _signal_two(
    tmp_path: Path,
    mark: str,
    cfg: Path,
    *,
    banner: str,
    ready: Callable[[], bool],
    signals: tuple[signal.Signals, ...],
    env: dict[str, str] | None = None,
    group: bool = False,
) -> Signalled:
    """``_signal_run`` with ``--processes 2``, once both children run and ``ready()`` holds."""

    def both_and_ready() -> bool:
        return len(_marked_children(mark)) == 2 and ready()

    return _signal_run(
        ["-c", str(cfg), "--processes", "2"],
        tmp_path,
        banner=banner,
        ready=both_and_ready,
        signals=signals,
        env={**(env or {}), MARK: mark},
        group=group,
    )


@pytest.mark.parametrize("group", [False, True], ids=["coordinator", "terminal-group"])
def test_sigint_in_workload_stops_both_children_and_keeps_partial_results(
    tmp_path: Path, slow_mock: MockServer, mark: str, group: bool
) -> None:
    """To the coordinator alone, or to its process group as a terminal's Ctrl-C is (the
    children are in their own session: they get one Stop frame, never the signal)."""
    cfg = _config(tmp_path, "s3://bench/iw/", 64)
    run = _signal_two(
        tmp_path,
        mark,
        cfg,
        banner="Starting execution",
        ready=lambda: _gets(slow_mock) > 40,
        signals=(signal.SIGINT,),
        env=slow_mock.env(),
        group=group,
    )
    _assert_stopped(run, 130, "workload")
    _none_left(mark)
    wl = run.meta["stages"]["workload"]
    assert wl["interrupted"] is True and wl["ops"] > 0 and wl["wall_seconds"] < STOP_WITHIN
    assert [p["process"] for p in wl["processes"]] == [0, 1]
    assert sum(p["ops"] for p in wl["processes"]) == wl["ops"]
    assert json.loads((run.dir / "results.json").read_text())["stages"]["workload"]
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == 64
    assert listed(slow_mock, "s3://bench/iw/data/", tmp_path) == 0


def test_sigterm_in_prepare_cleans_up_exactly_what_both_children_made(
    tmp_path: Path, slow_mock: MockServer, mark: str
) -> None:
    cfg = _config(tmp_path, "s3://bench/tp/", 4000, c=16)
    run = _signal_two(
        tmp_path,
        mark,
        cfg,
        banner="=== Prepare Phase ===",
        ready=lambda: _objects(slow_mock) >= 32,
        signals=(signal.SIGTERM,),
        env=slow_mock.env(),
    )
    _assert_stopped(run, 143, "prepare")
    _none_left(mark)
    prep = run.meta["stages"]["prepare"]
    assert prep["interrupted"] is True and 0 < prep["objects_created"] < 4000
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == prep["objects_created"]
    assert "workload" not in run.meta["stages"]
    assert listed(slow_mock, "s3://bench/tp/data/", tmp_path) == 0


def test_second_sigint_in_cleanup_stops_it_and_counts_what_is_left(
    tmp_path: Path, mark: str
) -> None:
    store = tmp_path / "store"
    cfg = _config(tmp_path, f"file://{store}/", 12_000, duration="0.2s", c=2)
    run = _signal_two(
        tmp_path,
        mark,
        cfg,
        banner="=== Cleanup Phase ===",
        ready=lambda: True,
        signals=(signal.SIGINT, signal.SIGINT),
    )
    _assert_stopped(run, 130, "cleanup")
    _none_left(mark)
    mark_ = run.interrupted
    left = prepared_names(store / "data")
    assert mark_["cleanup"] == "stopped" and mark_["objects_left_exact"] is True
    assert mark_["objects_left"] == len(left) > 0
    assert f"left {len(left):,} prepared objects under file://" in run.err


def test_child_killed_mid_cleanup_fails_the_run_and_says_what_may_be_left(
    tmp_path: Path, mark: str
) -> None:
    """Its deletes are unknown: a LIST afterwards counts exactly what it left, and the run
    says so (before, every index it was given counted as left: an overstatement)."""
    store = tmp_path / "store"
    cfg = _config(tmp_path, f"file://{store}/", 12_000, duration="0.2s", c=2)
    run = _fault_run(
        ["-c", str(cfg)],
        tmp_path,
        mark,
        banner="=== Cleanup Phase ===",
        ready=lambda: True,
        sig=signal.SIGKILL,
    )
    assert run.rc == 1, (run.out[-2000:], run.err)
    assert run.took < DIED_WITHIN and "Traceback" not in run.err
    assert re.search(rf"local process \d \(pid {run.pid}\) died \(killed by SIGKILL\)", run.err)
    _none_left(mark)
    cleanup = run.meta["stages"]["cleanup"]
    left = prepared_names(store / "data")
    # The survivor deletes its whole half (it is not stopped); what the lost one left is listed.
    assert 0 < len(left) == cleanup["objects_left"] <= 6000, (run.err, cleanup)
    assert cleanup["objects_deleted"] + cleanup["objects_left"] == 12_000


def test_coordinator_killed_takes_its_children_with_it(
    tmp_path: Path, slow_mock: MockServer, mark: str
) -> None:
    """SIGKILL runs no code in the coordinator: PR_SET_PDEATHSIG must end the children."""
    cfg = _config(tmp_path, "s3://bench/ck/", 64)
    cmd = [sys.executable, "-m", "sai3bench", "run", "-c", str(cfg), "--processes", "2"]
    proc = subprocess.Popen(
        [*cmd, "--results-dir", str(tmp_path / "results")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **slow_mock.env(), MARK: mark},
        start_new_session=True,
    )
    try:
        _wait("two engine children", lambda: len(_marked_children(mark)) == 2, timeout=30)
        _wait("the workload under way", lambda: _gets(slow_mock) > 40)
        proc.kill()
        proc.wait(timeout=10)
        _none_left(mark)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_child_killed_before_the_start_is_the_error_not_the_others_stop(
    tmp_path: Path, mark: str
) -> None:
    """Killed while the others wait at the start barrier: no process has a workload result,
    and the error must still name the dead one (it said 'the workload stage did not stop
    within 3s', the survivor's abandoned wait for Go)."""
    store = tmp_path / "store"
    cfg = _config(tmp_path, f"file://{store}/", 50)
    run = _fault_run(
        ["-c", str(cfg)],
        tmp_path,
        mark,
        banner="Starting execution",
        ready=lambda: True,  # as soon as both children exist: before either is ready
        sig=signal.SIGKILL,
    )
    _assert_lost(run, signal.SIGKILL)
    cleanup = run.meta["stages"]["cleanup"]
    assert cleanup["objects_deleted"] == 50, (cleanup, run.out[-3000:], run.err[-1500:])
    assert prepared_names(store / "data") == []
