"""A results directory read back: what is not one is a UsageError naming why."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sai3bench.errors import UsageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.report.run_data import load_run


def _write(path: Path, results: object, stages: object = None) -> Path:
    path.mkdir()
    (path / "results.json").write_text(json.dumps(results))
    (path / "metadata.json").write_text(json.dumps({"stages": stages or {}}))
    return path


def _doc(c: Collector) -> dict[str, object]:
    blob = base64.b64encode(c.encode()).decode()
    return {"format": "sai3bench-results", "version": 1, "stages": {"workload": blob}}


def test_a_run_reads_back_with_its_walls_and_side_files(tmp_path: Path) -> None:
    c = Collector()
    c.record(OpKind.GET, 10, 1000)
    run = _write(tmp_path / "r", _doc(c), {"workload": {"wall_seconds": 2.5}})
    (run / "perf_log.tsv").write_text("x")
    (run / "workload_endpoint_stats.tsv").write_text("y")
    got = load_run(run)
    assert got.collectors["workload"].encode() == c.encode()
    assert got.walls == {"workload": 2.5} and got.stages() == ["workload"]
    assert got.perf_log_text == "x" and got.intervals_text is None
    assert got.small_tsvs == {"workload_endpoint_stats.tsv": "y"}


@pytest.mark.parametrize(
    ("results", "why"),
    [
        (None, "no results.json"),
        ([1], "results.json is not a JSON object"),
        ({"format": "other", "version": 1}, "results.json is 'other' v1"),
        ({"format": "sai3bench-results", "version": 1}, "results.json has no stages"),
        (
            {"format": "sai3bench-results", "version": 1, "stages": {"workload": "!!"}},
            "stage 'workload'",
        ),
    ],
)
def test_what_is_not_a_results_directory_is_said(tmp_path: Path, results: object, why: str) -> None:
    run = _write(tmp_path / "r", results)
    if results is None:
        (run / "results.json").unlink()
    with pytest.raises(UsageError, match="is not a sai3bench results directory") as info:
        load_run(run)
    assert why in info.value.msg


def test_a_missing_directory_is_said(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such directory"):
        load_run(tmp_path / "nope")
