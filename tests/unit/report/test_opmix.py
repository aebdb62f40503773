"""The op mix beside the weights: shares per kind, the >5-point warning and its named cause."""

from __future__ import annotations

from typing import Any

from sai3bench.config.load import load_config
from sai3bench.config.schema import Config
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import Outcome
from sai3bench.report.console import format_workload_results
from sai3bench.report.opmix import distribution_lines, mix_section, op_mix

_PER_OP_CAPS = """
duration: 5s
concurrency: 16
target: "file:///tmp/x/"
workload:
  - {op: get, path: "data/*", weight: 60, concurrency: 64}
  - {op: put, path: "out/", object_size: 1024, weight: 40, concurrency: 4}
"""

_NO_CAPS = """
duration: 5s
concurrency: 16
target: "file:///tmp/x/"
workload:
  - {op: get, path: "data/*", weight: 30}
  - {op: get, path: "more/*", weight: 30}
  - {op: put, path: "out/", object_size: 1024, weight: 30}
  - {op: delete, path: "data/*", weight: 10}
"""


def _config(text: str, **top: Any) -> Config:
    extra = "".join(f"{k}: {v}\n" for k, v in top.items())
    return load_config(text + extra).config


def _ran(**ops: int) -> Collector:
    c = Collector()
    for name, n in ops.items():
        kind = OpKind[name]
        for _ in range(n):
            c.record(kind, 1024 if kind <= OpKind.PUT else 0, 1000)
    return c


def test_per_op_caps_skew_named_with_fix() -> None:
    report = op_mix(_ran(GET=9950, PUT=50), _config(_PER_OP_CAPS))
    lines = distribution_lines(report)
    assert lines[0] == "Actual Operation Distribution:"
    assert lines[1] == "  GET: 9,950 ops (99.5%)   configured 60.0%"
    assert lines[2] == "  PUT: 50 ops (0.5%)   configured 40.0%, at most 4 in flight"
    assert lines[3].startswith("warning: the op mix is 39.5 points off the weights")
    assert "per-op concurrency caps (PUT at most 4 in flight, of 64 workers" in lines[3]
    assert lines[4].startswith("hint: to run the weights, drop or raise the per-op")
    assert len(lines) == 5


def test_weights_summed_per_kind_and_no_warning_within_five_points() -> None:
    # GET 60 (two entries), PUT 30, DELETE 10; ran 63/28/9: at most 3 points off.
    report = op_mix(_ran(GET=6300, PUT=2800, DELETE=900), _config(_NO_CAPS))
    assert [(r.kind, r.configured_pct) for r in report.rows] == [
        ("GET", 60.0),
        ("PUT", 30.0),
        ("DELETE", 10.0),
    ]
    assert report.warning is None and report.hint is None
    assert len(distribution_lines(report)) == 4


def test_a_few_ops_are_not_judged_by_chance() -> None:
    # 40 ops, 8 points off on a 30 % share: 3 sigma is 21.7 points, so no warning.
    report = op_mix(_ran(GET=25, PUT=9, DELETE=6), _config(_NO_CAPS))
    assert report.warning is None


def test_errors_and_an_empty_delete_pool_are_causes() -> None:
    c = _ran(GET=7000, PUT=1000, DELETE=2000)
    for _ in range(500):
        c.record_error(OpKind.PUT, Outcome.SERVER_ERROR)
    report = op_mix(c, _config(_NO_CAPS), exhausted=["workload[3] (delete data/*)"])
    assert report.warning is not None and report.hint is not None
    assert "errors (500 PUT ops failed; failed ops are not counted)" in report.warning
    assert "a DELETE pool ran dry (workload[3] (delete data/*))" in report.warning
    assert "fix what fails" in report.hint


def test_io_rate_named_when_nothing_else_explains_it() -> None:
    config = _config(_NO_CAPS, io_rate="{iops: 100}")
    report = op_mix(_ran(GET=8000, PUT=1500, DELETE=500), config)
    assert report.warning is not None and "cause: io_rate" in report.warning
    plain = op_mix(_ran(GET=8000, PUT=1500, DELETE=500), _config(_NO_CAPS))
    assert plain.warning is not None and "no cap, error or io_rate explains it" in plain.warning


def test_results_block_and_json_section() -> None:
    c = _ran(GET=9950, PUT=50)
    report = op_mix(c, _config(_PER_OP_CAPS))
    text = format_workload_results(c, 5.0, 64, 5.0, report)
    assert "  PUT: 50 ops (0.5%)   configured 40.0%, at most 4 in flight\nwarning:" in text
    section = mix_section(report)
    assert section["kinds"] == {
        "GET": {"ops": 9950, "failed": 0, "actual_pct": 99.5, "configured_pct": 60.0, "cap": None},
        "PUT": {"ops": 50, "failed": 0, "actual_pct": 0.5, "configured_pct": 40.0, "cap": 4},
    }
    assert section["warning"] == report.warning
