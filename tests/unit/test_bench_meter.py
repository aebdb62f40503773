"""tools/bench_http.py's server-CPU metering: how nginx's CPU is read, and what it is divided by.

The bench's numbers themselves are measured, not tested; these pin the arithmetic and parsing
that turn /proc readings into the "server CPU us/op" column and the line under each table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
sys.path.insert(0, str(TOOLS))

# tools/ is a directory of scripts, not a package: found through sys.path, as the scripts do
import bench_http  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from _benchratios import CORES, pair_cell  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from _benchutil import Metered, metered, tree_cpu  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

MiB = 1024 * 1024


def test_wrk_ops_at_16_mib_is_bytes_read_over_size() -> None:
    out = "  84 requests in 3.01s, 1.50GB read\nRequests/sec:     27.91\n"
    assert bench_http._wrk_ops(out, 16 * MiB) == pytest.approx(1.5 * 1024 / 16)


def test_wrk_ops_below_one_mib_is_its_request_count() -> None:
    out = "  50000 requests in 3.11s, 60.00MB read\nRequests/sec:  16077.17\n"
    assert bench_http._wrk_ops(out, 1024) == 50000


def test_wrk_ops_is_unknown_without_the_summary_line() -> None:
    assert bench_http._wrk_ops("Requests/sec:  16077.17\n", 1024) is None


def test_metered_returns_the_server_delta_and_a_busy_share() -> None:
    readings = iter([10.0, 10.25])
    out, meter = metered(lambda: next(readings), lambda: "done")
    assert out == "done"
    assert meter.server_s == pytest.approx(0.25)
    assert 0.0 <= meter.box_busy <= 1.0


def test_metered_without_a_server_has_no_server_cpu() -> None:
    _, meter = metered(None, lambda: None)
    assert meter.server_s is None
    assert meter.per_op(100) is None


def test_metered_sample_divides_by_the_ops_the_server_served() -> None:
    sample = bench_http.Sample(1000.0, 20e-6)
    got = bench_http.metered_sample(sample, Metered(0.5, 0.75), 25_000)
    assert got.server_cpu_per_op == pytest.approx(20e-6)
    assert got.box_busy == 0.75
    assert got.cpu_per_op == 20e-6


def test_served_ops_adds_the_late_ones(tmp_path: Path) -> None:
    run = tmp_path / "sai3-20260101-run7"
    run.mkdir()
    stage = {"ops": 70, "late": 8, "errors": 0, "ops_per_sec": 23.3}
    (run / "metadata.json").write_text(json.dumps({"stages": {"workload": stage}}))
    assert bench_http.served_ops(tmp_path, "run7") == 78


def test_pair_cell_adds_client_and_server_and_scales_by_ops_per_second() -> None:
    s = bench_http.Sample(20_000.0, 30e-6, server_cpu_per_op=15e-6, box_busy=0.9)
    cell = pair_cell([s, "failed: x"])
    pair = 45e-6 * 20_000 / CORES
    assert cell == f"45.0 us, {pair:.0%} of {CORES} cores (box 90% busy), nginx 0.30 core"


def test_pair_cell_is_none_without_server_cpu() -> None:
    assert pair_cell([bench_http.Sample(1000.0, 30e-6)]) is None


def test_tree_cpu_counts_the_direct_children() -> None:
    """nginx's workers are its master's children: their CPU must be in the master's reading."""
    burn = (
        "import os,sys\n"
        "while sum(os.times()[:2]) < 0.3: pass\n"
        "print('ok', flush=True); sys.stdin.read()\n"
    )
    own = sum(os.times()[:2])
    child = subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ok\n"
        assert tree_cpu(os.getpid()) - own >= 0.25
    finally:
        child.communicate("")
    assert tree_cpu(None) == 0.0


def test_instruments_and_ratio_tables_share_one_measured_protocol() -> None:
    # duplicates --change D1: one Protocol for bench_http's Sample, imported where it is needed
    import _benchinstruments  # type: ignore[import-not-found, unused-ignore]
    import _benchratios  # type: ignore[import-not-found, unused-ignore]

    assert vars(_benchinstruments)["Measured"] is _benchratios.Measured
    fields = set(bench_http.Sample.__dataclass_fields__)
    assert {"ops_s", "cpu_per_op", "stage_cpu_per_op", "server_cpu_per_op"} <= fields


def test_ctrl_c_exits_130_with_one_line_and_removes_the_scratch_dir(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ctrl-C printed a 20-line KeyboardInterrupt traceback; now one line, exit 130
    import signal

    seen: list[Path] = []

    def interrupted(root: Path, _loads: object) -> None:
        seen.append(root)
        raise KeyboardInterrupt

    argv = ["bench_http.py", "--quick", "--no-tls", "--no-h2", "--no-dialects", "--load", "none"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(bench_http, "ensure_tools", list)
    monkeypatch.setattr(bench_http, "prepare", interrupted)
    term, intr = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert bench_http.main() == 130
    finally:
        signal.signal(signal.SIGTERM, term)
        signal.signal(signal.SIGINT, intr)
    assert "interrupted: removing" in capsys.readouterr().err
    assert seen and not seen[0].exists() and not seen[0].parent.exists()


def test_peer_cpu_per_op_is_the_timed_loop_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # a peer's import and set-up were charged to its timed ops (sai3bench's start-up is
    # subtracted): 0.5 s of set-up CPU must not show in a 0.2 s loop's CPU
    import argparse
    import asyncio
    import time

    import _benchpeers  # type: ignore[import-not-found, unused-ignore]

    def setup_heavy(a: argparse.Namespace) -> object:
        end = time.process_time() + 0.5
        while time.process_time() < end:
            pass

        async def op(w: int, i: int) -> None:
            await asyncio.sleep(0.001)

        return _benchpeers._async_ops(a, op)

    class Exited(Exception):
        pass

    def no_exit(code: int) -> None:
        raise Exited

    monkeypatch.setitem(_benchpeers.PEERS, "setup-heavy", setup_heavy)
    monkeypatch.setattr(os, "_exit", no_exit)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "restored after the test")
    a = argparse.Namespace(peer="setup-heavy", url="http://127.0.0.1:1", duration=0.2, conc=2)
    out: list[str] = []
    monkeypatch.setattr("builtins.print", lambda s, **_: out.append(s))
    with pytest.raises(Exited):
        _benchpeers.peer_main(a, {})
    got = json.loads(out[-1])
    assert got["ops"] > 0
    assert got["cpu_per_op"] * got["ops"] < 0.4  # the loop's CPU, at most its 0.2 s wall
