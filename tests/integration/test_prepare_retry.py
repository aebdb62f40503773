"""Prepare under transient faults (issue 8 item 6): a 503, reset or truncated reply on a PUT is
retried with backoff, counted, and reported; a permanent refusal fails at once with a hint that
fits it; an object whose retries run out fails the stage with one clear line.

Against the bundled mock server (a subprocess on 127.0.0.1, objects kept on disk so the test can
count them without asking the faulty server).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sai3bench.cli.run import RunFlags, run_command
from sai3bench.engine import retry_rounds
from sai3bench.engine.prepare import PrepareFailed
from sai3bench.engine.transient import RetryPolicy
from sai3bench.errors import StorageError
from sai3bench.metrics.collector import OpKind
from sai3bench.mock.app import Headers, Response
from sai3bench.mock.s3app import S3App, error

from ..adversity.test_interrupts import _assert_stopped, _signal_run
from .conftest import run_cli, write_config
from .test_cleanup_failures import _serve_in_thread
from .test_s3_mock import KEY, SECRET, _start, stages

COUNT = 400
SIZE = 2048


def _config(prefix: str, count: int = COUNT, **prepare: Any) -> dict[str, Any]:
    return {
        "duration": "1s",
        "concurrency": 8,
        "target": f"s3://bench/{prefix}/",
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": count, "size_spec": SIZE}],
            "cleanup": False,
            **prepare,
        },
        "workload": [{"op": "get", "path": "data/*", "weight": 1}],
    }


def _stored(store: Path, prefix: str) -> dict[str, int]:
    data = store / "bench" / prefix / "data"
    return {p.name: p.stat().st_size for p in data.iterdir()} if data.exists() else {}


@pytest.mark.parametrize(
    ("fault", "seed"),
    [("--error-rate", 1), ("--error-rate", 2), ("--truncate-rate", 3), ("--reset-rate", 4)],
)
def test_prepare_completes_under_5_percent_faults(tmp_path: Path, fault: str, seed: int) -> None:
    store = tmp_path / "store"
    for mock in _start(
        "--bucket", "bench", "--dir", str(store), fault, "0.05", "--seed", str(seed)
    ):
        cfg = write_config(tmp_path, _config("p"))
        proc = run_cli(
            ["run", "-c", str(cfg), "--prepare-only", "--results-dir", str(tmp_path / "r")],
            tmp_path,
            env=mock.env(),
        )
    assert proc.returncode == 0, proc.stderr
    want = {f"prepared-{i:08d}.dat": SIZE for i in range(COUNT)}
    assert _stored(store, "p") == want
    stage: dict[str, Any] = stages(tmp_path / "r")["prepare"]
    assert stage["objects_created"] == COUNT
    # A PUT reply has no body to cut short, and a reset may be resent by the connection pool
    # unseen (item 8): only the 503s are sure to reach prepare as failures.
    if fault == "--error-rate":
        assert stage["retries"] > 0 and stage["errors"] >= stage["retries"]
        assert "retry round 1 of" in proc.stdout
        assert f"Retries: {stage['retries']:,} (PUT: {stage['retries']:,})" in proc.stdout


@pytest.mark.parametrize("overwrite", [False, True])
def test_prepare_refused_403_fails_at_once(tmp_path: Path, overwrite: bool) -> None:
    """Wrong keys: the LIST (or, with force_overwrite, the first PUT) gets 403. No retry."""
    cfg = write_config(tmp_path, _config("p", count=50, force_overwrite=overwrite))
    for mock in _start("--bucket", "bench", "--auth", f"{KEY}:{SECRET}"):
        t0 = time.monotonic()
        proc = run_cli(
            ["run", "-c", str(cfg), "--prepare-only", "--results-dir", str(tmp_path)],
            tmp_path,
            env=mock.env(secret="wrong-secret"),
        )
        elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "hint:" in proc.stderr and "credentials" in proc.stderr
    assert "retry round" not in proc.stdout
    assert elapsed < 10  # retries would take about 16 s (STAGE_RETRY)


def test_prepare_reports_objects_whose_retries_ran_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that answers every PUT 503 SlowDown: a clear line naming how many objects
    failed, the last outcome and a hint about throttling (not "check that it is writable")."""
    fast = RetryPolicy(max_retries=3, first_s=0.01, max_s=0.05)
    monkeypatch.setattr(retry_rounds, "STAGE_RETRY", fast)
    cfg = write_config(tmp_path, _config("p", count=20, force_overwrite=True))
    for mock in _start("--bucket", "bench", "--error-rate", "1.0", "--error-status", "503"):
        for name, value in mock.env().items():
            monkeypatch.setenv(name, value)
        with pytest.raises(StorageError) as info:
            run_command(cfg, RunFlags(results_dir=tmp_path / "r", prepare_only=True, seed=5))
    err = info.value
    assert err.msg.startswith(
        "prepare failed writing 20 objects: still failing after 3 retry rounds"
    )
    assert "last: THROTTLED" in err.msg
    assert err.hint is not None and "slow down" in err.hint and "writable" not in err.hint
    out = capsys.readouterr().out
    for n in (1, 2, 3):
        assert f"retry round {n} of 3" in out
    assert isinstance(err, PrepareFailed) and err.failed == 20
    # Nothing succeeds, so each round re-sends one PUT per worker (concurrency 8), not all 20.
    assert err.result.retries == 24 and err.result.collector.retries_of(OpKind.PUT) == 24
    assert err.result.collector.error_count() == 20 + 24  # every attempt, once
    # The failed stage's counts are printed and saved too, retries included.
    assert "Retries: 24 (PUT: 24)" in out
    stage: dict[str, Any] = stages(tmp_path / "r")["prepare"]
    assert stage["objects_created"] == 0 and stage["retries"] == 24


class _FlakyPuts(S3App):
    """The mock's S3 dialect, except that a PUT of an odd-numbered object gets 503 SlowDown on
    its first ``failures`` tries: those objects are created only in retry round ``failures``."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.tries: dict[str, int] = {}

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        path = target.partition("?")[0]
        if method == "PUT" and path.endswith(".dat") and int(path[-5]) % 2:
            self.tries[path] = n = self.tries.get(path, 0) + 1
            if n <= self.failures:
                return error(503, "SlowDown", "reduce your request rate")
        return super().handle(method, target, headers, body, size)


def test_signal_during_a_retry_pause_keeps_and_cleans_up_what_prepare_made(
    tmp_path: Path,
) -> None:
    """SIGINT while prepare waits before retry round 7 (5 s +-50 %): the pause ends at once, the
    stage hands back the 30 objects it made, and cleanup removes them. Before, the stage slept
    on past its 3 s grace, was cancelled, and its objects were never cleaned up."""
    app = _FlakyPuts(failures=7)
    app.store.create_bucket("bench")
    cfg = write_config(
        tmp_path,
        {
            **_config("sig", count=60),
            "prepare": {
                "ensure_objects": [{"base_uri": "data/", "count": 60, "size_spec": SIZE}],
                "cleanup": True,
            },
        },
    )
    with _serve_in_thread(app) as mock:
        run = _signal_run(["-c", str(cfg)], tmp_path, banner="retry round 7 of", env=mock.env())
    _assert_stopped(run, 130, "prepare")
    assert "did not stop within" not in run.err
    assert app.store.keys("bench") == []  # the 30 even objects were made, then cleaned up
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == 30
