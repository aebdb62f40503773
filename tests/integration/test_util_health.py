"""``util health``: reachability, credentials and a PUT/GET/DELETE round trip, each timed.

Against the mock with --auth: the right secret passes every step and leaves no object behind;
a wrong one fails at the credentials step with one error line; a dead port fails at connect.
file:// passes in a writable directory and fails, naming the step, on a missing one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import free_port, run_cli
from .test_s3_mock import KEY, SECRET, MockServer, _start


@pytest.fixture
def mock_auth() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench", "--auth", f"{KEY}:{SECRET}")


STEPS = ("resolve", "connect", "credentials", "put", "get", "delete")


def _rows(stdout: str) -> dict[str, str]:
    """step -> RESULT column of the table."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (*STEPS, "directory", "access"):
            rows[parts[0]] = parts[1]
    return rows


def _stats(mock: MockServer) -> dict[str, object]:
    with urllib.request.urlopen(f"{mock.url}/_mock/stats", timeout=10) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


def test_right_secret_passes_and_leaves_nothing(tmp_path: Path, mock_auth: MockServer) -> None:
    proc = run_cli(["util", "health", "s3://bench/h/"], tmp_path, env=mock_auth.env())
    assert proc.returncode == 0, proc.stderr
    assert _rows(proc.stdout) == dict.fromkeys(STEPS, "ok")
    assert "All 6 steps passed" in proc.stdout
    stats = _stats(mock_auth)
    assert stats["objects"] == {"bench": 0}  # the health key was deleted
    assert stats["requests"] == {"GET": 2, "PUT": 1, "DELETE": 1}  # LIST, GET; nothing else


def test_wrong_secret_fails_at_credentials(tmp_path: Path, mock_auth: MockServer) -> None:
    proc = run_cli(["util", "health", "s3://bench/h/"], tmp_path, env=mock_auth.env(secret="no"))
    assert proc.returncode == 1, proc.stderr
    rows = _rows(proc.stdout)
    assert rows["connect"] == "ok" and rows["credentials"] == "FAILED"
    assert {rows[s] for s in ("put", "get", "delete")} == {"skipped"}
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "credentials failed" in errors[0], proc.stderr
    assert "SignatureDoesNotMatch" in errors[0] and "check the secret key" in proc.stderr
    assert _stats(mock_auth)["requests"] == {"GET": 1}  # the LIST only: nothing written


def test_missing_bucket_and_read_only(tmp_path: Path, mock_auth: MockServer) -> None:
    proc = run_cli(["util", "health", "s3://nobucket/h/"], tmp_path, env=mock_auth.env())
    assert proc.returncode == 1 and "NoSuchBucket" in proc.stderr
    assert "bucket or container does not exist" in proc.stderr
    args = ["util", "health", "--read-only", "s3://bench/h/"]
    proc = run_cli(args, tmp_path, env=mock_auth.env())
    assert proc.returncode == 0, proc.stderr
    assert _rows(proc.stdout)["put"] == "skipped" and _rows(proc.stdout)["credentials"] == "ok"
    assert "PUT" not in _stats(mock_auth)["requests"]  # type: ignore[operator]


def test_dead_port_fails_at_connect(tmp_path: Path, mock_auth: MockServer) -> None:
    env = {**mock_auth.env(), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    proc = run_cli(["util", "health", "s3://bench/h/"], tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    assert _rows(proc.stdout)["resolve"] == "ok" and _rows(proc.stdout)["connect"] == "FAILED"
    assert "connect failed" in proc.stderr and "check the endpoint and its port" in proc.stderr


def test_file_directory(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    proc = run_cli(["util", "health", f"file://{store}/"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert set(_rows(proc.stdout).values()) == {"ok"} and len(_rows(proc.stdout)) == 5
    assert list(store.iterdir()) == []
    proc = run_cli(["util", "health", f"file://{store}"], tmp_path)  # a directory without /
    assert proc.returncode == 0 and f"to file://{store}/sai3bench-health-" in proc.stdout
    assert list(store.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["store"]
    proc = run_cli(["util", "health", f"file://{tmp_path}/missing/"], tmp_path)
    assert proc.returncode == 1
    assert _rows(proc.stdout)["directory"] == "FAILED" and "directory failed" in proc.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_after_put_still_deletes_the_health_key(tmp_path: Path, signum: int) -> None:
    """Ctrl-C or SIGTERM once the PUT was sent: the key is deleted, the table so far printed,
    exit 128 + signal (before: KeyboardInterrupt / the default SIGTERM left the key behind)."""
    for mock in _start("--bucket", "bench", "--latency", "1s"):
        cmd = [sys.executable, "-m", "sai3bench", "util", "health", "s3://bench/h/"]
        with subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env={**os.environ, **mock.env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as proc:
            deadline = time.monotonic() + 60
            while "PUT" not in _stats(mock)["requests"]:  # type: ignore[operator]
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
                time.sleep(0.05)
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signum, err
        assert f"Stopped by {signal.Signals(signum).name}" in out, out
        assert _rows(out)["delete"] == "ok" and "Traceback" not in err, (out, err)
        assert _stats(mock)["objects"] == {"bench": 0}
