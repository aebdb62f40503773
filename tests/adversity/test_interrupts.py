"""Ctrl-C and SIGTERM sent to a real ``sai3bench run`` in each stage, on file:// and s3://.

Each test starts the CLI in its own session (so the signal goes to it alone, unless the test
sends it to the whole process group as a terminal does), reads its stdout until the stage's
banner, then signals it. Asserted: the exit code (130 SIGINT, 143 SIGTERM), that it stopped
within 15 s, the saved partial results (metadata.json's ``interrupted`` block, console_log.txt),
and what is left in the store: nothing after one signal with cleanup on, and exactly the count
the run reported after a second signal skipped cleanup.

Stages are made slow enough to hit with the mock's ``--latency`` (s3://) or many small files
(file://), never by sleeping blindly.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import uvloop

from sai3bench.http.endpoint import Endpoint
from sai3bench.http.h1build import build_request_head
from sai3bench.http.pool import H1Pool

from ..integration.conftest import prepared_names, write_config
from ..integration.test_s3_mock import MockServer, _start, listed
from .runs import read_until, start_run

SIGTERM = signal.SIGTERM
#: The bound the issue sets on stopping after a signal.
STOP_WITHIN = 15.0


class Signalled:
    """A finished, signalled run: exit code, seconds from the first signal to exit, output."""

    def __init__(self, rc: int, took: float, out: str, err: str, results: Path) -> None:
        self.rc, self.took, self.out, self.err = rc, took, out, err
        (self.dir,) = results.glob("sai3-*")
        self.meta: dict[str, Any] = json.loads((self.dir / "metadata.json").read_text())
        self.log = (self.dir / "console_log.txt").read_text()

    @property
    def interrupted(self) -> dict[str, Any]:
        mark: dict[str, Any] = self.meta["interrupted"]
        return mark


def _signal_run(
    args: list[str],
    cwd: Path,
    *,
    banner: str,
    signals: tuple[signal.Signals, ...] = (signal.SIGINT,),
    after: float = 0.0,
    env: dict[str, str] | None = None,
    group: bool = False,
    children: list[int] | None = None,
    ready: Callable[[], bool] | None = None,
) -> Signalled:
    """Run ``sai3bench run ...``; once ``banner`` shows on stdout, ``ready()`` holds (polled)
    and ``after`` seconds passed, send the first signal; each further one once the run said it
    got the previous one (stderr)."""
    results = cwd / "results"
    proc = start_run([*args, "--results-dir", str(results)], cwd, env or {})
    try:
        seen = read_until(proc, banner)
        _wait_until(ready)
        time.sleep(after)
        if children is not None:
            children += _children(proc.pid)
        t0 = time.monotonic()
        errs = _send(proc, signals, group)
        out, err = proc.communicate(timeout=STOP_WITHIN + 5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    took = time.monotonic() - t0
    return Signalled(proc.returncode, took, "".join(seen) + out, errs + err, results)


def _wait_until(ready: Callable[[], bool] | None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while ready is not None and not ready():
        assert time.monotonic() < deadline, "the stage never got going"
        time.sleep(0.02)


def _mock_stats(mock: MockServer) -> dict[str, Any]:
    """The mock's own counters (/_mock/stats, answered at once, without the latency)."""
    with urllib.request.urlopen(f"{mock.url}/_mock/stats", timeout=5) as resp:
        stats: dict[str, Any] = json.loads(resp.read())
    return stats


def _mock_objects(mock: MockServer) -> int:
    return int(_mock_stats(mock)["objects"].get("bench", 0))


def _send(proc: subprocess.Popen[str], signals: tuple[signal.Signals, ...], group: bool) -> str:
    """Send the signals in turn, each after the run acknowledged the one before."""
    assert proc.stderr is not None
    err = ""
    for i, sig in enumerate(signals):
        if i:
            for line in proc.stderr:
                err += line
                if sig.name in line:
                    break
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    return err


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _assert_stopped(run: Signalled, code: int, stage: str) -> None:
    assert run.rc == code, (run.rc, run.out[-2000:], run.err[-2000:])
    assert run.took < STOP_WITHIN, run.took
    assert "Traceback" not in run.err, run.err
    assert run.interrupted["signal"] == signal.Signals(code - 128).name
    assert run.interrupted["stage"] == stage, run.interrupted
    assert f"interrupted by {run.interrupted['signal']}" in run.log


# -- file:// ------------------------------------------------------------------------------------


def _config(tmp_path: Path, target: str, count: int, duration: str = "30s", **kw: int) -> Path:
    """prepare ``count`` small objects under ``target``data/, GET them, clean them up."""
    return write_config(
        tmp_path,
        {
            "target": target,
            "duration": duration,
            "concurrency": kw.get("concurrency", 2),
            "prepare": {
                "cleanup": True,
                "ensure_objects": [
                    {"base_uri": "data/", "count": count, "size_spec": kw.get("size", 1)}
                ],
            },
            "workload": [{"op": "get", "path": "data/*", "weight": 1}],
        },
    )


def _file_config(tmp_path: Path, count: int, duration: str = "30s") -> Path:
    return _config(tmp_path, f"file://{tmp_path}/store/", count, duration)


@pytest.mark.parametrize("sig", [signal.SIGINT, SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_file_signal_in_prepare_keeps_what_it_made_then_cleans_it_up(
    tmp_path: Path, sig: signal.Signals
) -> None:
    cfg = _file_config(tmp_path, 40_000)
    data = tmp_path / "store" / "data"
    run = _signal_run(
        ["-c", str(cfg)],
        tmp_path,
        banner="=== Prepare Phase ===",
        ready=lambda: data.is_dir() and any(data.glob("prepared-*.dat")),
        signals=(sig,),
    )
    _assert_stopped(run, 128 + sig, "prepare")
    prep = run.meta["stages"]["prepare"]
    assert prep["interrupted"] is True and 0 < prep["objects_created"] < 40_000
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == prep["objects_created"]
    assert "workload" not in run.meta["stages"]  # the interrupted run did not go on
    assert (run.dir / "prepare_results.tsv").exists()
    assert prepared_names(tmp_path / "store" / "data") == []


@pytest.mark.parametrize("sig", [signal.SIGINT, SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_file_signal_in_workload_saves_partial_results(tmp_path: Path, sig: signal.Signals) -> None:
    cfg = _file_config(tmp_path, 50)
    run = _signal_run(
        ["-c", str(cfg)], tmp_path, banner="Starting execution", after=1.0, signals=(sig,)
    )
    _assert_stopped(run, 128 + sig, "workload")
    wl = run.meta["stages"]["workload"]
    assert wl["interrupted"] is True and wl["ops"] > 0 and wl["wall_seconds"] < 15
    assert (run.dir / "workload_results.tsv").read_text().count("\n") > 1
    assert json.loads((run.dir / "results.json").read_text())["stages"]["workload"]
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == 50
    assert not (tmp_path / "store" / "data").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_file_signal_in_cleanup_lets_it_finish(tmp_path: Path, sig: signal.Signals) -> None:
    cfg = _file_config(tmp_path, 12_000, duration="0.2s")
    run = _signal_run(["-c", str(cfg)], tmp_path, banner="=== Cleanup Phase ===", signals=(sig,))
    _assert_stopped(run, 128 + sig, "cleanup")
    assert run.interrupted["cleanup"] == "done"
    assert prepared_names(tmp_path / "store" / "data") == []


def test_file_second_sigint_in_cleanup_stops_it_and_counts_what_is_left(tmp_path: Path) -> None:
    cfg = _file_config(tmp_path, 12_000, duration="0.2s")
    run = _signal_run(
        ["-c", str(cfg)],
        tmp_path,
        banner="=== Cleanup Phase ===",
        signals=(signal.SIGINT, signal.SIGINT),
    )
    _assert_stopped(run, 130, "cleanup")
    mark = run.interrupted
    left = prepared_names(tmp_path / "store" / "data")
    assert mark["cleanup"] == "stopped" and mark["objects_left_exact"] is True
    assert mark["objects_left"] == len(left) > 0  # the first signal let cleanup go on a while
    assert f"left {len(left):,} prepared objects under file://" in run.err


# -- s3:// against the mock server -------------------------------------------------------------


@pytest.fixture
def slow_mock(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    yield from _start("--bucket", "bench", "--latency", request.param)


def _s3_config(tmp_path: Path, prefix: str, count: int, duration: str = "30s") -> Path:
    return _config(tmp_path, f"s3://bench/{prefix}/", count, duration, concurrency=16, size=1024)


@pytest.mark.parametrize("slow_mock", ["20ms"], indirect=True)
@pytest.mark.parametrize("sig", [signal.SIGINT, SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_s3_signal_in_prepare_cleans_up_exactly_what_it_made(
    tmp_path: Path, slow_mock: MockServer, sig: signal.Signals
) -> None:
    cfg = _s3_config(tmp_path, "p", 4000)
    env = slow_mock.env()
    run = _signal_run(
        ["-c", str(cfg)],
        tmp_path,
        banner="=== Prepare Phase ===",
        ready=lambda: _mock_objects(slow_mock) >= 16,
        signals=(sig,),
        env=env,
    )
    _assert_stopped(run, 128 + sig, "prepare")
    prep = run.meta["stages"]["prepare"]
    assert prep["interrupted"] is True and 0 < prep["objects_created"] < 4000
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == prep["objects_created"]
    assert listed(slow_mock, "s3://bench/p/", tmp_path) == 0


@pytest.mark.parametrize("slow_mock", ["20ms"], indirect=True)
@pytest.mark.parametrize("sig", [signal.SIGINT, SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_s3_signal_in_workload_does_not_hang_in_cleanup(
    tmp_path: Path, slow_mock: MockServer, sig: signal.Signals
) -> None:
    """Used to hang for ever: the cancelled workload leaked every pooled connection's slot,
    and cleanup's DeleteObjects then waited for a free connection."""
    cfg = _s3_config(tmp_path, "w", 64)
    env = slow_mock.env()
    run = _signal_run(
        ["-c", str(cfg)],
        tmp_path,
        banner="Starting execution",
        ready=lambda: _mock_stats(slow_mock)["requests"].get("GET", 0) > 20,  # GETs run
        signals=(sig,),
        env=env,
    )
    _assert_stopped(run, 128 + sig, "workload")
    wl = run.meta["stages"]["workload"]
    assert wl["interrupted"] is True and wl["ops"] > 0
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == 64
    assert listed(slow_mock, "s3://bench/w/", tmp_path) == 0


@pytest.mark.parametrize("slow_mock", ["400ms"], indirect=True)
@pytest.mark.parametrize("sig", [signal.SIGINT, SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_s3_signal_in_cleanup_lets_it_finish(
    tmp_path: Path, slow_mock: MockServer, sig: signal.Signals
) -> None:
    cfg = _s3_config(tmp_path, "c", 16, duration="0.5s")
    env = slow_mock.env()
    run = _signal_run(
        ["-c", str(cfg)], tmp_path, banner="=== Cleanup Phase ===", signals=(sig,), env=env
    )
    _assert_stopped(run, 128 + sig, "cleanup")
    assert run.interrupted["cleanup"] == "done"
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == 16
    assert listed(slow_mock, "s3://bench/c/", tmp_path) == 0


@pytest.mark.parametrize("slow_mock", ["400ms"], indirect=True)
def test_s3_double_sigint_skips_cleanup_and_says_what_it_left(
    tmp_path: Path, slow_mock: MockServer
) -> None:
    cfg = _s3_config(tmp_path, "d", 16)
    env = slow_mock.env()
    run = _signal_run(
        ["-c", str(cfg)],
        tmp_path,
        banner="Starting execution",
        after=0.2,
        signals=(signal.SIGINT, signal.SIGINT),  # the 2nd while in-flight GETs drain (400 ms)
        env=env,
    )
    _assert_stopped(run, 130, "workload")
    mark = run.interrupted
    assert mark["cleanup"] == "skipped" and mark["objects_left"] == 16
    assert mark["left_under"] == ["s3://bench/d/data/prepared-*"]
    assert "left 16 prepared objects under s3://bench/d/data/prepared-*" in run.err
    assert "=== Cleanup Phase ===" not in run.out
    assert listed(slow_mock, "s3://bench/d/", tmp_path) == 16


def test_quickstart_sigint_to_the_process_group_cleans_up_and_stops_the_mock(
    tmp_path: Path,
) -> None:
    """A terminal's Ctrl-C reaches the whole group: the embedded mock server must outlive the
    run's cleanup (its own session), and must not outlive the run."""
    kids: list[int] = []
    run = _signal_run(
        [], tmp_path, banner="Starting execution", after=0.5, group=True, children=kids
    )
    _assert_stopped(run, 130, "workload")
    stages = run.meta["stages"]
    # The mock was still up for cleanup: every prepared object deleted (or by the workload's
    # DELETEs before), none failed.
    assert stages["cleanup"]["errors"] == 0 and stages["cleanup"]["already_deleted"] == 0
    assert 0 < stages["cleanup"]["objects_deleted"] <= stages["prepare"]["objects_created"]
    assert kids and not any(_alive(pid) for pid in kids)


@pytest.mark.parametrize("slow_mock", ["3s"], indirect=True)
def test_util_command_exits_130_on_sigint(tmp_path: Path, slow_mock: MockServer) -> None:
    """typer 0.29 returns Ctrl-C as 130 instead of raising; that return is now the exit code."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sai3bench", "util", "list", "s3://bench/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **slow_mock.env()},
        start_new_session=True,
    )
    time.sleep(1.5)  # started, and waiting for the 3 s answer
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=STOP_WITHIN)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and re.search(r"^error: interrupted$", err, re.M)


# -- the root cause of the s3:// hang, in-process ----------------------------------------------


class _HangServer(asyncio.Protocol):
    """Answers every request except ``GET /hang``."""

    open: ClassVar[list[asyncio.Transport]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.open.append(self.t)

    def data_received(self, data: bytes) -> None:
        for head in data.split(b"\r\n\r\n")[:-1]:
            if b" /hang " not in head:
                self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_a_cancelled_request_frees_its_pool_slot() -> None:
    """A request cancelled mid-flight (an interrupted stage) gave its connection slot back
    never: with every slot gone the next acquire waited for ever (cleanup's hang)."""

    async def go() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_HangServer, "127.0.0.1", 0)
        pool = H1Pool(Endpoint("127.0.0.1", server.sockets[0].getsockname()[1]), max_size=1)
        head = build_request_head("GET", "/hang", "127.0.0.1", ())
        try:
            hung = asyncio.ensure_future(pool.send(head))
            queued = asyncio.ensure_future(pool.send(head.replace(b"/hang", b"/ok")))
            await asyncio.sleep(0.1)  # one in flight, one waiting for the only slot
            hung.cancel()
            queued.cancel()
            await asyncio.gather(hung, queued, return_exceptions=True)
            async with asyncio.timeout(5):
                conn = await pool.send(build_request_head("GET", "/ok", "127.0.0.1", ()))
            assert conn.parser.status == 200
            pool.release(conn)
        finally:
            await pool.close()
            server.close()
            for t in _HangServer.open:  # an open exchange would hold up the loop's close
                t.abort()

    uvloop.run(go())


# -- the engine side, in-process ---------------------------------------------------------------


class _Stuck:
    """DELETEs that never answer until ``hang`` is cleared: an op stuck on the network."""

    def __init__(self, hang_after: int) -> None:
        self.left = hang_after
        self.done: list[str] = []

    async def delete(self, key: str) -> tuple[int, int]:
        self.left -= 1
        if self.left < 0:
            await asyncio.Event().wait()
        self.done.append(key)
        return 0, 0


class _Said:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warn(self, line: str) -> None:
        self.lines.append(line)


def test_a_signal_stops_the_pool_and_abandons_a_stuck_op_after_the_grace() -> None:
    """The first signal stops every pool of the run at its next op; an op that never ends is
    abandoned STOP_GRACE later, so the stage still returns its partial results."""
    from sai3bench.engine.interrupt import Interrupt
    from sai3bench.engine.ops import PlannedOp
    from sai3bench.engine.pool import STOP_GRACE
    from sai3bench.engine.tasklist import run_task_list
    from sai3bench.metrics.collector import OpKind

    backend = _Stuck(hang_after=22)  # mid-batch: 2 of a 4-op batch done, then stuck
    ops = [PlannedOp(index=0, kind=OpKind.DELETE, backend=backend, label="t")]  # type: ignore[arg-type]
    tasks = ((0, f"k{i}", 0, 0) for i in range(10_000))
    said = _Said()
    stop = Interrupt(said)

    async def go() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        with stop.attach(loop, signals=False):
            loop.call_later(0.2, stop.on_signal, signal.SIGINT)
            t0 = loop.time()
            run = await stop.bounded(
                "cleanup", run_task_list(ops, tasks, 10_000, workers=4, executor=None)
            )
            return run.collector.ops(), loop.time() - t0

    ops_done, took = uvloop.run(go())
    assert ops_done == len(backend.done) == 22  # every finished op counted, none invented
    assert took < 0.2 + STOP_GRACE + 1.0
    assert stop.exit_code == 130 and stop.stage == "cleanup"
    assert any("abandoned" in line for line in said.lines), said.lines
