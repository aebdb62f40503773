"""``sai3bench autotune`` against the mock with a real knee.

The mock serves at most K requests at once, each 20 ms late (``--latency 20ms --max-inflight
K``): throughput is min(c, K) / 20 ms, so by Little's law the ops/s stop rising at
concurrency ~= K. The chosen concurrency must be within a factor 2 of K; cleanup must leave
nothing prepare made; Ctrl-C stops, prints the table so far, cleans up and exits 130.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import run_cli, write_config
from .test_s3_mock import MockServer, _start

K = 8
_ROW = re.compile(r"^[ *]\s+\d+\s+\d+\s+[\d,.]+\s")


@pytest.fixture
def capped_mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench", "--latency", "20ms", "--max-inflight", str(K))


_CONFIG = """\
# a GET workload to tune (this comment must survive)
duration: 30s
concurrency: 2   # the value autotune replaces
target: "s3://bench/tune/"
prepare:
  ensure_objects:
    - {base_uri: "data/", count: 40, size_spec: "4KiB"}
  cleanup: true
workload:
  - {op: get, path: "data/*", weight: 100}
"""


def _objects(mock: MockServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{mock.url}/_mock/stats", timeout=10) as reply:
        return json.loads(reply.read())["objects"]  # type: ignore[no-any-return]


def test_knee_near_littles_law(tmp_path: Path, capped_mock: MockServer) -> None:
    cfg = write_config(tmp_path, _CONFIG, name="get.yaml")
    args = ["autotune", "-c", str(cfg), "--step", "1s", "--max-processes", "2"]
    proc = run_cli(args, tmp_path, env=capped_mock.env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    chosen = re.search(r"^Chosen: processes (\d), concurrency (\d+) .*knee", proc.stdout, re.M)
    assert chosen is not None, proc.stdout
    processes, concurrency = int(chosen.group(1)), int(chosen.group(2))
    assert K / 2 <= concurrency <= 2 * K, proc.stdout
    rows = [ln.split() for ln in proc.stdout.splitlines() if _ROW.match(ln)]
    assert sum(r[0] == "*" for r in rows) == 1  # the final table marks one choice
    assert any(r[-7] == "2" for r in rows)  # then 2 engine processes at that concurrency
    tuned = tmp_path / "get.tuned.yaml"
    text = tuned.read_text()
    assert "# a GET workload to tune (this comment must survive)" in text
    assert f"concurrency: {concurrency} # the value autotune replaces" in text
    assert yaml.safe_load(text)["processes"] == processes
    assert _objects(capped_mock) == {"bench": 0}  # cleanup removed what prepare made
    again = run_cli(args, tmp_path, env=capped_mock.env())
    assert again.returncode == 2 and "exists" in again.stderr and "--force" in again.stderr


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, _CONFIG, name="get.yaml")
    for args, words in (
        (["-c", str(tmp_path / "missing.yaml")], "no such config file"),
        (["-c", str(cfg), "--step", "soon"], "--step"),
        (["-c", str(cfg), "--min-gain", "0"], "--min-gain"),
    ):
        proc = run_cli(["autotune", *args], tmp_path)
        assert proc.returncode == 2, proc.stderr
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and words in errors[0], proc.stderr
    assert not (tmp_path / "get.tuned.yaml").exists()


def test_ctrl_c_prints_the_table_so_far_and_cleans_up(
    tmp_path: Path, capped_mock: MockServer
) -> None:
    cfg = write_config(tmp_path, _CONFIG, name="get.yaml")
    env = {**os.environ, **capped_mock.env()}
    env.pop("PYTHONWARNINGS", None)
    cmd = [sys.executable, "-m", "sai3bench", "autotune", "-c", str(cfg), "--step", "3s"]
    with subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # the first measured row: the second step is under way
            seen.append(line)
            if _ROW.match(line):
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    stdout = "".join(seen) + out
    assert proc.returncode == 130, (stdout, err)
    assert "Stopped before the sweep ended: nothing written." in stdout
    assert "Cleanup complete" in stdout
    assert sum(bool(_ROW.match(ln)) for ln in stdout.splitlines()) >= 2  # live row + table
    assert not (tmp_path / "get.tuned.yaml").exists()
    assert _objects(capped_mock) == {"bench": 0}
