"""``sai3bench replay`` and ``sort`` on their way out: a dead target (exit 1, one error line),
a signal mid-replay (the partial report, exit 128 + the signal) or mid-sort (no spill left)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sai3bench.metrics.oplog_file import FrameWriter, IsoFormatter
from sai3bench.metrics.oplog_sort import CHUNK_ROWS

from .conftest import run_cli

#: S3 at a closed local port (static credentials: no lookup leaves the machine).
_DEAD = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_REGION": "us-east-1",
}


def _log(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    """An op-log of (op, file, seconds after the first) rows."""
    iso, t0 = IsoFormatter(), time.time_ns()
    lines = []
    for n, (op, file, after_s) in enumerate(rows):
        at = iso(t0 + after_s * 1_000_000_000)
        lines.append(f"{n}\t0\t{op}\tstandalone\t1\t10\ts3://\t{file}\t\t{at}\t{at}\t{at}\t1000\n")
    writer = FrameWriter(path, fresh=True)
    writer.write("".join(lines))
    writer.close()
    return path


def test_a_replay_whose_every_op_failed_exits_1(tmp_path: Path) -> None:
    log = _log(tmp_path / "r.tsv.zst", [("GET", f"b/k{n}", 0) for n in range(3)])
    args = ["replay", "--op-log", str(log), "--target", "s3://bench/x/"]
    proc = run_cli(args, tmp_path, env=_DEAD)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Errors: 3 (GET CONNECTION 3)" in proc.stdout
    assert proc.stderr.startswith("error: replay: all 3 ops failed\nhint: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigterm_stops_a_replay_with_its_partial_report(tmp_path: Path) -> None:
    """The first PUT is sent, the second is due in 10 minutes: SIGTERM once the first is in
    the store; the replay reports the one op and exits 143 at once."""
    log = _log(tmp_path / "r.tsv.zst", [("PUT", "b/first", 0), ("PUT", "b/second", 600)])
    store = tmp_path / "store"
    args = ["replay", "--op-log", str(log), "--target", f"file://{store}/"]
    rc, out, err = _sigterm_once(args, tmp_path, (store / "b" / "first").exists, wait=60)
    assert rc == 143, out + err
    assert "Stopped by a signal" in out
    assert "Replayed 1 ops" in out and "PUT 1" in out, out
    assert "Traceback" not in err
    assert not (store / "b" / "second").exists()


def test_writes_and_deletes_are_announced_before_they_are_sent(tmp_path: Path) -> None:
    """A replay's DELETEs remove objects it did not create: --dry-run counts them, and a replay
    onto the logged URIs themselves (no --target, no --remap) warns first."""
    rows = [("GET", "b/a", 0), ("PUT", "b/c", 0), ("DELETE", "b/d", 0), ("DELETE", "b/e", 0)]
    log = _log(tmp_path / "r.tsv.zst", rows)
    proc = run_cli(["replay", "--op-log", str(log), "--dry-run"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Writes: 1 PUTs overwrite and 2 DELETEs remove objects" in proc.stdout
    store = tmp_path / "s"
    (store / "b").mkdir(parents=True)
    (store / "b" / "e").write_bytes(b"not the replay's")
    proc = run_cli(["replay", "--op-log", str(log), "--target", f"file://{store}/"], tmp_path)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert not (store / "b" / "e").exists()  # what the warning is about
    missing = tmp_path / "missing.tsv.zst"
    proc = run_cli(["replay", "--op-log", str(missing)], tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: cannot read"), proc.stderr
    args = ["replay", "--op-log", str(log), "--max-in-flight", "1"]
    proc = run_cli(args, tmp_path, env=_DEAD)  # the logged s3://b/...: a closed local port
    assert proc.stderr.startswith("warning: no --target or --remap"), proc.stderr


def test_sigterm_during_sort_leaves_no_spill_files(tmp_path: Path) -> None:
    """More rows than one in-memory chunk: SIGTERM once the first run is spilled; the spill
    directory and the temporary output go with the process (exit 143)."""
    rows = [("GET", f"b/k{n}", (n * 7919) % 1000) for n in range(CHUNK_ROWS + 50_000)]
    log = _log(tmp_path / "big.tsv.zst", rows)

    def spilled() -> bool:
        return bool(list(tmp_path.glob(".oplog-sort-*/run-0.tsv.zst")))

    rc, out, err = _sigterm_once(["sort", "--op-log", str(log)], tmp_path, spilled, wait=120)
    assert rc == 143, out + err
    assert err.startswith("error: interrupted"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tsv.zst"]


def test_sort_into_a_missing_directory_is_one_error_line(tmp_path: Path) -> None:
    log = _log(tmp_path / "r.tsv.zst", [("GET", "b/k", 0)])
    out = tmp_path / "nowhere" / "s.tsv.zst"
    proc = run_cli(["sort", "--op-log", str(log), "-o", str(out)], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: sort: cannot write "), proc.stderr
    assert "Traceback" not in proc.stderr


def _sigterm_once(
    args: list[str], cwd: Path, ready: Callable[[], bool], *, wait: float
) -> tuple[int, str, str]:
    """Run ``sai3bench ARGS`` in its own session, SIGTERM it once ``ready()`` holds (the
    process must still be running then), and return (exit code, stdout, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sai3bench", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + wait
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, proc.returncode
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, out, err
