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
# GET latencies are worked out in test_tsv.py: p50 = 2,020 ns, p90 and up = max. Each latency
# line is in the unit of its p50 (GET: µs, the rest: ns); LIST and STAT get a block each.
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
  Latency: mean=715.20µs, p50=2.02µs, p90=3,000.00µs, p99=3,000.00µs, p99.9=3,000.00µs, \
max=3,000.00µs

PUT Performance:
  Ops: 2 (1.00 ops/s)
  Bytes: 16,384 (0.02 MiB)
  Throughput: 0.01 MiB/s
  Latency: mean=600ns, p50=500ns, p90=700ns, p99=700ns, p99.9=700ns, max=700ns

LIST Performance:
  Ops: 1 (0.50 ops/s)
  Bytes: 0 (0.00 MiB)
  Latency: mean=300ns, p50=300ns, p90=300ns, p99=300ns, p99.9=300ns, max=300ns

STAT Performance:
  Ops: 1 (0.50 ops/s)
  Bytes: 0 (0.00 MiB)
  Latency: mean=100ns, p50=100ns, p90=100ns, p99=100ns, p99.9=100ns, max=100ns

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
    assert "\nErrors: 0\n" in text and "Retries" not in text
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
        "  Latency: mean=2.10ms, p50=2.10ms, p90=2.20ms, p99=2.20ms, p99.9=2.20ms, max=2.20ms\n"
        "\n"
        "Errors: 0\n"
    )


def test_prepare_results_when_everything_existed():
    text = format_prepare_results(Collector(), 0.01, created=0, existed=1_000)
    assert text == "Prepared 1,000 objects (0 created, 1,000 existed) in 0.01s\n"


def test_bucket_table_golden():
    assert format_bucket_table(small_run(), OpClass.GET) == (
        "GET latency:\n"
        "  [     1B-8KiB] count=4 mean=1.58µs p50=1.50µs p90=2.02µs p99=2.02µs p99.9=2.02µs"
        " max=2.02µs\n"
        "  [64KiB-512KiB] count=3 mean=1.67ms p50=1.00ms p90=3.00ms p99=3.00ms p99.9=3.00ms"
        " max=3.00ms\n"
    )
    assert format_bucket_table(Collector(), OpClass.PUT) == ""
