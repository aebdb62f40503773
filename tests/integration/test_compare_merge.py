"""``sai3bench compare`` as a CI gate and ``sai3bench merge``, on real runs against the mock.

The regression is real: the NEW run goes to a mock that adds 20 ms to every response
(``--latency``), so its p99 is far above BASE's and its ops/s far below, whatever the box's load.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sai3bench.metrics.collector import Collector, OpClass
from tests.integration.conftest import run_cli, write_config
from tests.integration.test_s3_mock import MockServer, _start

pytestmark = pytest.mark.integration

GATE = ["--fail-if", "ops_per_sec < -5%", "--fail-if", "p99 > +10%"]


@pytest.fixture
def slow_mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench", "--latency", "20ms")


@pytest.fixture(scope="module")
def fast_mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


def _run(server: MockServer, root: Path, name: str) -> Path:
    """A 1 s GET/PUT run named ``name``; its results directory."""
    cfg = {
        "duration": "1s",
        "concurrency": 4,
        "target": f"s3://bench/{name}/",
        "perf_log": {"interval": "500ms"},
        "prepare": {
            "ensure_objects": [{"base_uri": "d/", "count": 20, "size_spec": "1KiB"}],
            "cleanup": True,
        },
        "workload": [
            {"op": "get", "path": "d/*", "weight": 70},
            {"op": "put", "path": "n/", "object_size": 512, "weight": 30},
        ],
    }
    path = write_config(root, cfg, f"{name}.yaml")
    proc = run_cli(["run", "-c", str(path), "--results-dir", str(root)], root, env=server.env())
    assert proc.returncode == 0, proc.stderr
    (out,) = root.glob(f"sai3-*-{name}")
    return out


@pytest.fixture(scope="module")
def base_run(fast_mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(fast_mock, tmp_path_factory.mktemp("base"), "base")


def test_the_same_run_against_itself_passes_the_gate(base_run: Path, tmp_path: Path) -> None:
    proc = run_cli(["compare", str(base_run), str(base_run), *GATE], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS: 2 --fail-if rules held" in proc.stdout
    assert "GET" in proc.stdout and "p99.9" in proc.stdout


def test_a_latency_regression_fails_the_gate_naming_the_rules(
    base_run: Path, slow_mock: MockServer, tmp_path: Path
) -> None:
    slow = _run(slow_mock, tmp_path, "slow")
    proc = run_cli(["compare", str(base_run), str(slow), *GATE], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL 'p99 > +10%': GET p99 +" in proc.stdout
    assert "FAIL 'ops_per_sec < -5%': GET ops_per_sec -" in proc.stdout
    assert proc.stderr.splitlines()[0] == (
        "error: regression: 2 of 2 --fail-if rules tripped: 'ops_per_sec < -5%', 'p99 > +10%'"
    )
    # the other way round it is an improvement: the gate passes
    back = run_cli(["compare", str(slow), str(base_run), *GATE], tmp_path)
    assert back.returncode == 0, back.stdout + back.stderr


def test_a_bad_rule_is_one_error_exit_2_before_anything_is_read(tmp_path: Path) -> None:
    proc = run_cli(["compare", "nowhere", "nowhere", "--fail-if", "p99 > 10"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --fail-if 'p99 > 10': an absolute p99 change needs")
    assert "Traceback" not in proc.stderr


def _collectors(run: Path) -> dict[str, Collector]:
    doc = json.loads((run / "results.json").read_text())
    return {k: Collector.decode(base64.b64decode(v)) for k, v in doc["stages"].items()}


def test_merge_of_two_runs_is_their_exact_sum(
    base_run: Path, fast_mock: MockServer, tmp_path: Path
) -> None:
    other = _run(fast_mock, tmp_path, "other")
    out = tmp_path / "merged"
    proc = run_cli(["merge", str(base_run), str(other), "-o", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    a, b, m = _collectors(base_run), _collectors(other), _collectors(out)
    for stage in ("prepare", "workload", "cleanup"):
        want = Collector()
        want.merge(a[stage])
        want.merge(b[stage])
        assert m[stage].encode() == want.encode(), stage
    for cls in (OpClass.GET, OpClass.PUT):
        assert m["workload"].merged(cls).count == (
            a["workload"].merged(cls).count + b["workload"].merged(cls).count
        )
    meta = json.loads((out / "metadata.json").read_text())
    runs = [json.loads((r / "metadata.json").read_text())["stages"] for r in (base_run, other)]
    assert meta["stages"]["workload"]["ops"] == sum(s["workload"]["ops"] for s in runs)
    assert [s["path"] for s in meta["merged_from"]] == [str(base_run), str(other)]
    assert (out / "workload_results.tsv").exists()
    _assert_perf_logs_add_up(base_run, other, out)
    again = run_cli(["merge", str(base_run), str(other), "-o", str(out)], tmp_path)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr


def _get_ops(run: Path) -> list[int]:
    """GET ops of each Workload (or Warmup) row of the run's perf_log.tsv."""
    with (run / "perf_log.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [int(r["get_ops"]) for r in rows if r["stage"] in ("Workload", "Warmup")]


def _assert_perf_logs_add_up(a: Path, b: Path, merged: Path) -> None:
    """Interval i of the merge holds interval i of both runs (a run may have one fewer)."""
    ga, gb, gm = _get_ops(a), _get_ops(b), _get_ops(merged)
    assert len(gm) == max(len(ga), len(gb))
    pad = len(gm)
    assert gm == [x + y for x, y in zip(ga + [0] * pad, gb + [0] * pad, strict=False)][:pad]
    assert sum(gm) == sum(ga) + sum(gb) > 0
    assert (merged / "perf_log_intervals.jsonl").exists()


def test_merge_refuses_a_perf_log_in_one_run_only(base_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in ("results.json", "metadata.json"):
        (copy / f).write_bytes((base_run / f).read_bytes())
    proc = run_cli(["merge", str(base_run), str(copy), "-o", str(tmp_path / "m")], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: cannot merge: {copy} has no perf_log.tsv")
    assert not (tmp_path / "m").exists()
