"""Client or storage (issue 10 item 7), end to end against the mock: a client starved of CPU is
client-bound, a storage that answers in 20 ms is storage-bound; the line is printed after the
results and the verdict, with its evidence, is in results.json.

The client is starved deterministically: it runs pinned (taskset) to one core together with two
CPU hogs pinned there too, so it can run at most about a third of the time and spends the rest
waiting for that core; the mock runs on another core when there is one, at a higher priority
where allowed (root), so that a loaded host slows it less than the client. The slow storage's
run uses two workers: few wake-ups, so a loaded host cannot make an idle client look starved.
No timing is asserted: only which side the run says bounded it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli, write_config
from .test_s3_mock import MockServer

pytestmark = pytest.mark.skipif(
    shutil.which("taskset") is None and os.environ.get("CI") != "true", reason="no taskset"
)

_HOG = "while True: pass"


def _cores() -> tuple[int, int]:
    """(client core, mock core): two different ones when this process may use two."""
    cores = sorted(os.sched_getaffinity(0))
    return cores[0], cores[-1]


def _favoured() -> None:
    """In the mock's process before exec: a higher priority when allowed (root)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)


def _mock(core: int, *args: str) -> Iterator[MockServer]:
    cmd = ["taskset", "-c", str(core), sys.executable, "-m", "sai3bench", "mock-server"]
    cmd += ["--port", "0", "--bucket", "bench", *args]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_favoured
    ) as p:
        try:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert "listening on http://127.0.0.1:" in line, (line, p.stderr and p.stderr.read())
            yield MockServer(p, line.split()[-1])  # type: ignore[arg-type]
        finally:
            p.terminate()
            p.wait(timeout=10)


@pytest.fixture
def fast_mock() -> Iterator[MockServer]:
    yield from _mock(_cores()[1])


@pytest.fixture
def slow_mock() -> Iterator[MockServer]:
    yield from _mock(_cores()[1], "--latency", "20ms")


@pytest.fixture
def hog() -> Iterator[int]:
    """Two CPU hogs on the client's core for the test's duration."""
    core = _cores()[0]
    cmd = ["taskset", "-c", str(core), sys.executable, "-c", _HOG]
    procs = [subprocess.Popen(cmd) for _ in range(2)]
    try:
        yield core
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


def _config(concurrency: int) -> dict[str, Any]:
    return {
        "duration": "3s",
        "concurrency": concurrency,
        "target": "s3://bench/verdict/",
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": 64, "size_spec": 1024}],
            "cleanup": True,
        },
        "workload": [{"op": "get", "path": "data/*", "weight": 1}],
    }


def _run(tmp_path: Path, mock: MockServer, concurrency: int, pin: int | None) -> dict[str, Any]:
    cfg = write_config(tmp_path, _config(concurrency))
    args = ["run", "-c", str(cfg), "--results-dir", str(tmp_path), "--quiet"]
    if pin is not None:  # run_cli's interpreter, pinned: ``taskset -c N python -m sai3bench``
        env = {**mock.env(), "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.run(
            ["taskset", "-c", str(pin), sys.executable, "-m", "sai3bench", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
            check=False,
        )
    else:
        proc = run_cli(args, tmp_path, env=mock.env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    (results,) = tmp_path.glob("sai3-*/results.json")
    verdict: dict[str, Any] = json.loads(results.read_text())["verdict"]
    lines = [ln for ln in proc.stdout.splitlines() if ln.endswith(verdict["line"][-20:])]
    assert lines == [verdict["line"]], proc.stdout  # printed once, as stored
    (log,) = tmp_path.glob("sai3-*/console_log.txt")
    assert verdict["line"] in log.read_text()
    return verdict


def test_a_client_starved_of_cpu_is_client_bound(tmp_path: Path, fast_mock: MockServer, hog: int):
    verdict = _run(tmp_path, fast_mock, concurrency=64, pin=hog)
    ev = verdict["evidence"]
    assert verdict["bound"] == "client", verdict
    assert verdict["line"].startswith("client-bound: engine at "), verdict
    assert ev["processes"] == 1 and ev["lag_samples"] > 0


def test_a_storage_that_answers_in_20ms_is_storage_bound(tmp_path: Path, slow_mock: MockServer):
    verdict = _run(tmp_path, slow_mock, concurrency=2, pin=None)
    assert verdict["bound"] == "storage", verdict
    assert verdict["line"].endswith("; ops waited on storage"), verdict
    assert verdict["evidence"]["cpu"][0] < 0.85
