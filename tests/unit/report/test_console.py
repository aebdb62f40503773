"""End-of-run console text: number helpers and hand-computed golden blocks."""

from __future__ import annotations

import pytest

from sai3bench.metrics.collector import Collector, OpClass, OpKind
from sai3bench.report.console import (
    fmt_int,
    fmt_latency,
    fmt_mib,
    fmt_rate,
    format_bucket_table,
    format_prepare_results,
    format_workload_results,
)
from tests.unit.report.test_tsv import small_run


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0ns"),
        (-3, "0ns"),
        (999, "999ns"),
        (9_999, "9,999ns"),
        (9_999.6, "9.9996µs"),
        (10_000, "10.000µs"),
        (95_231, "95.231µs"),
        (715_202.857, "715.20µs"),
        (2_100_000, "2,100.0µs"),
        (9_999_990, "10.000ms"),  # 9,999.99 µs rounds to 10,000: next unit
        (29_309_000, "29.309ms"),  # sai3-bench's own examples
        (666_623_000, "666.62ms"),
        (999_999_999, "1,000.0ms"),
        (3_600_000_000_000, "3,600.0s"),
        (40_000_000_000_000, "40,000s"),
    ],
)
def test_fmt_latency_five_significant_digits(ns, text):
    assert fmt_latency(ns) == text


def test_number_helpers():
    assert fmt_int(0) == "0"
    assert fmt_int(102_400_000) == "102,400,000"
    assert fmt_rate(13_179) == "13,179.00"
    assert fmt_mib(102_400_000) == "97.66 MiB"
    assert fmt_mib(0) == "0.00 MiB"


# small_run() at wall 2.0 s: 11 ops (GET 7, PUT 2, LIST 1, STAT 1), 332,768 bytes.
# GET latencies are worked out in test_tsv.py; in console units p50 = 2,020 ns, p95/p99 = max.
EXPECTED_WORKLOAD = """\
=== Results ===
Configuration:
  Duration: 2.00s
  Configured duration: 2s
  Concurrency: 16 threads

Actual Operation Distribution:
  GET: 7 ops (63.6%)
  PUT: 2 ops (18.2%)
  LIST: 1 ops (9.1%)
  STAT: 1 ops (9.1%)

Overall Performance:
  Total ops: 11
  Total bytes: 332,768 (0.32 MiB)
  Throughput: 5.50 ops/s

GET Performance:
  Ops: 7 (3.50 ops/s)
  Bytes: 316,384 (0.30 MiB)
  Throughput: 0.15 MiB/s
  Latency: mean=715.20µs, p50=2,020ns, p95=3,000.0µs, p99=3,000.0µs

PUT Performance:
  Ops: 2 (1.00 ops/s)
  Bytes: 16,384 (0.02 MiB)
  Throughput: 0.01 MiB/s
  Latency: mean=600ns, p50=500ns, p95=700ns, p99=700ns

META-DATA Performance:
  Ops: 2 (1.00 ops/s)
  Bytes: 0 (0.00 MiB)
  Latency: mean=200ns, p50=100ns, p95=300ns, p99=300ns

Errors: 2 failed ops
  GET NOT_FOUND: 1
  PUT TIMEOUT: 1

Retries: 1 (GET: 1)
  GET after CONNECTION: 1
"""


def test_workload_results_golden():
    assert format_workload_results(small_run(), 2.0, 16, 2.0) == EXPECTED_WORKLOAD


def test_workload_results_omit_empty_sections_and_errors():
    c = Collector()
    for _ in range(1000):
        c.record(OpKind.GET, 1_048_576, 2_000_000)
    text = format_workload_results(c, 10.0, 4, 10.0)
    assert "PUT Performance" not in text and "META-DATA" not in text
    assert "Errors" not in text and "Retries" not in text
    assert "  GET: 1,000 ops (100.0%)\n" in text
    assert "  Throughput: 100.00 ops/s\n" in text
    assert "  Total bytes: 1,048,576,000 (1000.00 MiB)\n" in text
    assert "  Throughput: 100.00 MiB/s\n" in text


def test_workload_results_of_an_empty_run_does_not_crash():
    text = format_workload_results(Collector(), 0.0, 1, 0.0)
    assert "  Total ops: 0\n" in text and "  Throughput: 0.00 ops/s\n" in text


def test_prepare_results_golden():
    c = Collector()
    for lat in (2_000_000, 2_100_000, 2_200_000):  # p50: bucket midpoint 2,100,224 ns
        c.record(OpKind.PUT, 102_400, lat)
    assert format_prepare_results(c, 0.5, created=3, existed=1) == (
        "Prepared 4 objects (3 created, 1 existed) in 0.50s\n"
        "Prepare Performance:\n"
        "  Total ops: 3 (6.00 ops/s)\n"
        "  Total bytes: 307,200 (0.29 MiB)\n"
        "  Throughput: 0.59 MiB/s\n"
        "  Latency: mean=2,100.0µs, p50=2,100.2µs, p95=2,200.0µs, p99=2,200.0µs\n"
    )


def test_prepare_results_when_everything_existed():
    text = format_prepare_results(Collector(), 0.01, created=0, existed=1_000)
    assert text == "Prepared 1,000 objects (0 created, 1,000 existed) in 0.01s\n"


def test_bucket_table_golden():
    assert format_bucket_table(small_run(), OpClass.GET) == (
        "GET latency:\n"
        "  [     1B-8KiB] count=4 mean=1,580ns p50=1,500ns p95=2,020ns p99=2,020ns"
        " max=2,020ns\n"
        "  [64KiB-512KiB] count=3 mean=1,666.7µs p50=1,000.2µs p95=3,000.0µs p99=3,000.0µs"
        " max=3,000.0µs\n"
    )
    assert format_bucket_table(Collector(), OpClass.PUT) == ""
