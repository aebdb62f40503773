"""Injected faults at 5 % in each stage of a real `sai3bench run`, checked against the mock's
own counters (GET /_mock/stats).

Each fault (503 SlowDown, connection reset, a body cut off half way, a stalled answer) runs
prepare, the workload and cleanup as three commands against one mock server whose counters are
cleared between them. The client's account must match what the server saw:

- every request the mock read is one attempt the client counted: a success, a final failure,
  a retry (error_handling, prepare/cleanup rounds, or a request the HTTP pool resent), or an
  op that finished after the deadline. The only requests the client does not count as ops are
  the LISTs before a stage (glob resolution, skip-existing), and they are few;
- every injected fault is a failure or a retry the client counted, by outcome;
- prepare leaves every planned object stored; cleanup leaves none; transient faults neither
  stop nor stall a run (no "backing off", no abort).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import Outcome

from ..integration.conftest import run_cli, write_config
from ..integration.test_s3_mock import MockServer, _start

COUNT = 150
#: LIST requests a stage may make beyond its ops (a listing page, plus its own retries).
LIST_SLACK = 6

FAULTS = {
    "503": ("--error-rate", "0.05"),
    "reset": ("--reset-rate", "0.05"),
    "truncate": ("--truncate-rate", "0.05"),
    "stall": ("--stall-rate", "0.05", "--stall-time", "300ms"),
}
#: The outcomes each fault becomes at the client.
CLIENT_OUTCOMES = {
    "503": {Outcome.THROTTLED},
    "reset": {Outcome.CONNECTION},
    "truncate": {Outcome.CONNECTION, Outcome.PROTOCOL},
    "stall": set(),  # answered late: a slow success, no failure
}
STAT_KEY = {"503": "error", "reset": "reset", "truncate": "truncate", "stall": "stall"}


def _config() -> dict[str, Any]:
    return {
        "duration": "2s",
        "concurrency": 8,
        "target": "s3://bench/d/",
        "prepare": {
            "ensure_objects": [{"base_uri": "s3://bench/d/", "count": COUNT, "size_spec": 1024}]
        },
        "workload": [
            {"op": "get", "path": "*", "weight": 3},
            {"op": "put", "path": "s3://scratch/w/", "object_size": 1024, "weight": 1},
        ],
    }


def _mock_stats(mock: MockServer, method: str = "GET") -> dict[str, Any]:
    req = urllib.request.Request(f"{mock.url}/_mock/stats", method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:  # 127.0.0.1 only
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


class Stage:
    """One stage's command: its exit, console, metadata and collector, and the mock's counts."""

    def __init__(self, tmp: Path, mock: MockServer, name: str, flags: list[str]) -> None:
        _mock_stats(mock, "DELETE")
        cfg = write_config(tmp, _config())
        out = tmp / name
        self.proc = run_cli(
            ["run", "-c", str(cfg), "--results-dir", str(out), *flags], tmp, env=mock.env()
        )
        self.mock = _mock_stats(mock)
        self.name = name
        (meta,) = out.glob("sai3-*/metadata.json")
        self.stage: dict[str, Any] = json.loads(meta.read_text())["stages"][name]
        results = json.loads(meta.with_name("results.json").read_text())["stages"]
        self.collector = Collector.decode(base64.b64decode(results[name]))

    def __repr__(self) -> str:
        return f"<Stage {self.name} rc={self.proc.returncode} {self.collector!r} {self.mock}>"

    def check_ran_clean(self) -> None:
        assert self.proc.returncode == 0, (self, self.proc.stdout[-2000:], self.proc.stderr)
        assert "Traceback" not in self.proc.stderr
        assert "backing off" not in self.proc.stderr, self.proc.stderr  # item 7

    def attempts(self, kind: OpKind) -> int:
        """Requests the client made for ops of ``kind``: successes, final failures, retries."""
        c = self.collector
        failed = sum(n for (k, _), n in c.errors().items() if k == kind)
        return c.ops(kind) + failed + c.retries_of(kind)

    def client_faults(self, outcomes: set[Outcome]) -> int:
        """Failed attempts with one of ``outcomes``. In the workload an error is an op's final
        failure and each earlier failed attempt a retry; prepare and cleanup count every failed
        attempt as an error *and* retry it, so there each failed attempt is one retry (the
        stage succeeded: nothing was left unretried), and a resent request one more."""
        c = self.collector
        retried = sum(n for (_, o), n in c.retry_outcomes().items() if o in outcomes)
        if self.name != "workload":
            return retried
        return retried + sum(n for (_, o), n in c.errors().items() if o in outcomes)


@pytest.fixture(params=list(FAULTS))
def faulty(request: pytest.FixtureRequest) -> Iterator[tuple[str, MockServer]]:
    fault = request.param
    flags = ("--bucket", "bench", "--bucket", "scratch", *FAULTS[fault], "--seed", "11")
    for mock in _start(*flags):
        yield fault, mock


def test_faults_at_5_percent_in_every_stage_match_the_mocks_counts(
    tmp_path: Path, faulty: tuple[str, MockServer]
) -> None:
    fault, mock = faulty
    _check_prepare(Stage(tmp_path, mock, "prepare", ["--prepare-only"]), fault)
    _check_workload(Stage(tmp_path, mock, "workload", ["--skip-prepare", "--no-cleanup"]), fault)
    _check_cleanup(Stage(tmp_path, mock, "cleanup", ["--cleanup-only"]), fault)


def _check_prepare(s: Stage, fault: str) -> None:
    s.check_ran_clean()
    assert s.stage["objects_created"] == COUNT, s
    assert s.mock["objects"]["bench"] == COUNT, s  # every planned object is stored, once
    # Each PUT the mock read was a creation or an attempt the client counted as a retry:
    # prepare ends only when every object succeeded (its failed attempts were all retried).
    assert s.mock["requests"]["PUT"] == COUNT + s.collector.retries_of(OpKind.PUT), s
    assert s.collector.retries == s.stage["retries"]
    _check_faults_seen(s, fault)


def _check_workload(s: Stage, fault: str) -> None:
    s.check_ran_clean()
    assert s.stage["aborted"] is None and s.collector.ops() > 200, s  # not stopped or stalled
    late = s.stage["late"]
    puts = s.mock["requests"].get("PUT", 0) - s.attempts(OpKind.PUT)
    assert 0 <= puts <= late, s  # every PUT the mock read is counted (or was late)
    extra = sum(s.mock["requests"].values()) - s.attempts(OpKind.GET) - s.attempts(OpKind.PUT)
    assert late <= extra <= late + LIST_SLACK, s  # the rest: late ops and the glob's LIST
    assert s.stage["retries"] == s.collector.retries
    if s.collector.retries:
        assert "Retries:" in s.proc.stdout  # resends are reported, never hidden (item 8)
    _check_faults_seen(s, fault, slack=late + LIST_SLACK)
    if fault == "stall":  # a stalled answer is a slow success: its latency is kept
        assert s.collector.merged(0).max_ns >= 250_000_000, s  # 300 ms, timers a bit early


def _check_cleanup(s: Stage, fault: str) -> None:
    s.check_ran_clean()
    assert s.mock["objects"]["bench"] == 0, s  # nothing of the prepared set is left
    assert s.stage["objects_deleted"] + s.stage["already_deleted"] == COUNT, s
    assert s.stage["objects_left"] == 0, s
    # One DeleteObjects request per 1,000 keys, each recorded once, as a success or a failure.
    c = s.collector
    failed = sum(n for (k, _), n in c.errors().items() if k == OpKind.DELETE)
    assert s.mock["requests"]["POST"] == c.ops(OpKind.DELETE) + failed, s
    _check_faults_seen(s, fault, slack=LIST_SLACK)


def _check_faults_seen(s: Stage, fault: str, slack: int = LIST_SLACK) -> None:
    """Each fault the mock injected is a failure or retry the client counted (a fault that hit
    a LIST before the stage is retried there, unseen by the stage's counters: the slack)."""
    injected = s.mock["faults"][STAT_KEY[fault]]
    if fault == "stall":
        return  # answered late: nothing for the client to count but the time
    seen = s.client_faults(CLIENT_OUTCOMES[fault])
    assert seen <= injected <= seen + slack, s


def test_a_mock_that_dies_mid_run_ends_the_run_in_time(tmp_path: Path) -> None:
    for mock in _start("--bucket", "bench", "--bucket", "scratch"):
        cfg = write_config(tmp_path, {**_config(), "duration": "4s"})
        cmd = [sys.executable, "-m", "sai3bench", "run", "-c", str(cfg), "--no-cleanup"]
        cmd += ["--results-dir", str(tmp_path / "r")]
        env = {**os.environ, **mock.env()}
        with subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) as p:
            time.sleep(3.0)  # prepare done, the workload under way
            mock.proc.kill()
            t0 = time.monotonic()
            out, _ = p.communicate(timeout=30)
        took = time.monotonic() - t0  # the 1 s left of the run, then the results: 1.7-1.8 s
        assert took < 8, took  # an end or save that waits out a 10 s connect/first-byte bound fails
        assert p.returncode in (0, 1), out
        (res,) = (tmp_path / "r").glob("sai3-*/results.json")
        blob = json.loads(res.read_text())["stages"]["workload"]
        errors = Collector.decode(base64.b64decode(blob)).errors()
        assert {o for (_, o) in errors} == {Outcome.CONNECTION}, errors


@pytest.mark.parametrize(
    ("error_rate", "error_handling", "reason"),
    [
        ("0.7", {"max_total_errors": 1000000}, "ops failed in the last "),  # relative
        ("0.05", {"error_rate_threshold": 5}, "(error_rate_threshold: 5/s)"),  # upstream's
    ],
)
def test_each_backoff_is_printed_with_its_reason(
    tmp_path: Path, error_rate: str, error_handling: dict[str, Any], reason: str
) -> None:
    eh = {"error_rate_window": "500ms", "backoff_duration": "500ms", **error_handling}
    cfg = {
        "duration": "2s",
        "concurrency": 8,
        "target": "s3://scratch/w/",
        "error_handling": eh,
        "workload": [{"op": "put", "path": "s3://scratch/w/", "object_size": 1024, "weight": 1}],
    }
    for mock in _start("--bucket", "scratch", "--error-rate", error_rate, "--seed", "5"):
        out = tmp_path / "r"
        proc = run_cli(
            ["run", "-c", str(write_config(tmp_path, cfg)), "--results-dir", str(out)],
            tmp_path,
            env=mock.env(),
        )
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "backing off" in ln]
    assert lines, proc.stderr
    assert all(ln.startswith("warning: backing off 0.5s: ") and reason in ln for ln in lines)
    (log,) = out.glob("sai3-*/console_log.txt")
    assert lines[0] in log.read_text()  # saved with the results, too
