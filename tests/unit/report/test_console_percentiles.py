"""Issue 10 item 5: every op kind on its own block with p50, p90, p99, p99.9 and max in ONE unit
per line, an "Errors:" line always, and results.json's p99.9 and p99.99."""

from __future__ import annotations

import re

import pytest

from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.histogram import Histogram
from sai3bench.outcome import Outcome
from sai3bench.report.console import (
    fmt_in,
    format_workload_results,
    latency_line,
    latency_summary,
    line_unit,
)

_LINE = re.compile(
    r"^  Latency: mean=(?P<mean>[\d,.]+)(?P<u>ns|µs|ms|s), "
    r"p50=[\d,.]+(?P=u), p90=[\d,.]+(?P=u), p99=[\d,.]+(?P=u), p99\.9=[\d,.]+(?P=u), "
    r"max=[\d,.]+(?P=u)$"
)


@pytest.mark.parametrize(
    ("p50_ns", "unit"),
    [
        (0, "ns"),
        (999, "ns"),
        (1_000, "µs"),
        (8_300, "µs"),
        (999_999, "µs"),
        (1_000_000, "ms"),
        (60_375_000, "ms"),
        (1_000_000_000, "s"),
        (4_000_000_000_000, "s"),
    ],
)
def test_a_line_takes_the_largest_unit_its_median_is_at_least_one_of(p50_ns, unit):
    assert line_unit(p50_ns)[0] == unit


def test_fmt_in_keeps_one_unit_whatever_the_magnitude():
    us = line_unit(8_300)
    assert fmt_in(8_300, us) == "8.30µs"
    assert fmt_in(60_375_000, us) == "60,375.00µs"  # the issue's mixed line, in one unit
    assert fmt_in(804_100, us) == "804.10µs"
    ns = line_unit(500)
    assert fmt_in(500.4, ns) == "500ns" and fmt_in(2_500_000, ns) == "2,500,000ns"


def test_the_issues_mixed_units_line_is_now_in_one_unit():
    h = Histogram()
    for v in [8_300] * 50 + [804_100] * 45 + [60_375_000] * 5:
        h.record(v)
    line = latency_line(h)
    m = _LINE.match(line)
    assert m is not None and m["u"] == "µs", line
    assert "max=60,375.00µs" in line


def _each_kind() -> Collector:
    c = Collector()
    for _ in range(10):
        c.record(OpKind.GET, 4096, 2_000_000)  # ms
        c.record(OpKind.PUT, 4096, 40_000)  # µs
        c.record(OpKind.LIST, 0, 3_000_000_000)  # s
        c.record(OpKind.STAT, 0, 700)  # ns
        c.record(OpKind.DELETE, 0, 90_000)  # µs
    return c


def test_every_kind_has_its_own_block_and_latency_line_in_its_own_unit():
    text = format_workload_results(_each_kind(), 10.0, 4, 10.0)
    blocks = re.findall(r"^(\w+) Performance:\n(?:  .*\n)*?(  Latency: .*)$", text, re.M)
    got = {name: _LINE.match(line)["u"] for name, line in blocks if _LINE.match(line)}
    assert got == {"GET": "ms", "PUT": "µs", "LIST": "s", "STAT": "ns", "DELETE": "µs"}, text
    assert "META-DATA" not in text
    assert "  Latency: mean=3.00s, p50=3.00s, p90=3.00s, p99=3.00s, p99.9=3.00s, max=3.00s" in text


def test_errors_line_is_always_printed():
    text = format_workload_results(_each_kind(), 10.0, 4, 10.0)
    assert "\nErrors: 0\n" in text
    empty = format_workload_results(Collector(), 0.0, 1, 1.0)
    assert "\nErrors: 0\n" in empty
    c = _each_kind()
    c.record_error(OpKind.STAT, Outcome.NOT_FOUND)
    text = format_workload_results(c, 10.0, 4, 10.0)
    assert "\nErrors: 1 failed ops\n  STAT NOT_FOUND: 1\n" in text and "Errors: 0" not in text


def test_results_summary_carries_p999_and_p9999_per_kind():
    c = Collector()
    for v in range(1, 100_001):  # 1..100,000 µs: the quantiles are known to 1/2048
        c.record(OpKind.GET, 1024, v * 1_000)
    c.record(OpKind.DELETE, 0, 5_000)
    c.record_error(OpKind.DELETE, Outcome.SERVER_ERROR)
    s = latency_summary(c, 10.0)
    assert set(s) == {"GET", "DELETE"}
    lat = s["GET"]["latency_ns"]
    assert isinstance(lat, dict)
    for label, exact in (("p50", 50_000_000), ("p99.9", 99_900_000), ("p99.99", 99_990_000)):
        assert abs(lat[label] - exact) <= exact / 2048, (label, lat[label])
    assert lat["max"] == 100_000_000
    assert s["GET"]["ops"] == 100_000 and s["GET"]["ops_per_sec"] == 10_000.0
    assert s["DELETE"]["errors"] == 1 and s["GET"]["errors"] == 0


def test_an_older_results_file_without_the_split_prints_one_meta_data_block():
    from tests.unit.metrics.test_meta_kinds import _as_old_file

    old = Collector.decode(_as_old_file(_each_kind()))
    text = format_workload_results(old, 10.0, 4, 10.0)
    assert "META-DATA Performance:\n  Ops: 30 (3.00 ops/s)\n" in text
    assert "LIST Performance" not in text and "GET Performance" in text
    assert set(latency_summary(old, 10.0)) == {"GET", "PUT", "META-DATA"}
