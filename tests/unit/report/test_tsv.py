"""sai3-bench TSV: the header byte for byte, and hand-computed rows for known inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import Outcome
from sai3bench.report.tsv import TSV_HEADER, format_prepare_tsv, format_results_tsv

DATA = Path(__file__).parents[2] / "data"


def small_run() -> Collector:
    """Known ops. Latencies below 2048 ns are stored exactly; the rest is worked out below."""
    c = Collector()
    for lat in (1000, 1500, 1800, 2020):  # GET, bucket 1 (4 KiB)
        c.record(OpKind.GET, 4096, lat)
    # GET, bucket 3 (100,000 B). 1,000,000 and 1,000,100 share the bucket [999,936, 1,000,447]
    # (bit_length 20, k = 9, width 512), whose midpoint is 1,000,192.
    for lat in (1_000_000, 1_000_100, 3_000_000):
        c.record(OpKind.GET, 100_000, lat)
    for lat in (500, 700):  # PUT, bucket 1: 8 KiB is the inclusive upper bound
        c.record(OpKind.PUT, 8192, lat)
    c.record(OpKind.LIST, 0, 300)  # META, bucket 0
    c.record(OpKind.STAT, 0, 100)
    c.record_error(OpKind.GET, Outcome.NOT_FOUND)  # failures: never in the TSV
    c.record_error(OpKind.PUT, Outcome.TIMEOUT)
    c.record_retry(OpKind.GET, Outcome.CONNECTION)
    return c


# wall = 2.0 s. Columns: mean p50 p90 p95 p99 max (us), avg_bytes, ops/s, MiB/s, count.
# META: 100, 300 -> mean 200; p50 rank 1 -> 100; p90.. rank 2 -> 300.
# GET b1: 1000 1500 1800 2020 -> mean 1580; p50 rank 2 -> 1500; p90 rank 4 -> 2020;
#   MiB/s = 16384 / 1048576 / 2 = 0.0078 -> 0.01.
# GET b3: mean 5,000,100 / 3 = 1,666,700; p50 rank 2 -> midpoint 1,000,192; p90 rank 3 -> max;
#   MiB/s = 300,000 / 1048576 / 2 = 0.143 -> 0.14.
# GET ALL: 7 values, sum 5,006,420 -> mean 715,202.86 ns; p50 rank 4 -> 2020; p90 rank 7 -> max;
#   avg_bytes 316,384 / 7 = 45,197.7 -> 45198; 3.50 ops/s; 316,384 / 1048576 / 2 = 0.151 -> 0.15.
EXPECTED_RESULTS = [
    "META\tzero\t0\t0.20\t0.10\t0.30\t0.30\t0.30\t0.30\t0\t1.00\t0.00\t2",
    "GET\t1B-8KiB\t1\t1.58\t1.50\t2.02\t2.02\t2.02\t2.02\t4096\t2.00\t0.01\t4",
    "PUT\t1B-8KiB\t1\t0.60\t0.50\t0.70\t0.70\t0.70\t0.70\t8192\t1.00\t0.01\t2",
    "GET\t64KiB-512KiB\t3\t1666.70\t1000.19\t3000.00\t3000.00\t3000.00\t3000.00\t100000\t1.50\t0.14\t3",
    "META\tALL\t97\t0.20\t0.10\t0.30\t0.30\t0.30\t0.30\t0\t1.00\t0.00\t2",
    "GET\tALL\t98\t715.20\t2.02\t3000.00\t3000.00\t3000.00\t3000.00\t45198\t3.50\t0.15\t7",
    "PUT\tALL\t99\t0.60\t0.50\t0.70\t0.70\t0.70\t0.70\t8192\t1.00\t0.01\t2",
]


def test_header_matches_sai3bench_golden_file_byte_for_byte():
    golden = (DATA / "sai3bench_results_header.tsv").read_bytes()
    assert (TSV_HEADER + "\n").encode() == golden
    assert format_results_tsv(Collector(), 1.0).encode() == golden
    assert format_prepare_tsv(Collector(), 1.0).encode() == golden
    assert len(TSV_HEADER.split("\t")) == 13


def test_results_tsv_hand_computed():
    text = format_results_tsv(small_run(), 2.0)
    assert text == TSV_HEADER + "\n" + "".join(row + "\n" for row in EXPECTED_RESULTS)


def test_prepare_tsv_has_put_rows_only():
    text = format_prepare_tsv(small_run(), 2.0)
    assert text.splitlines()[1:] == [EXPECTED_RESULTS[2], EXPECTED_RESULTS[6]]


def test_prepare_tsv_hand_computed_with_bucketed_median():
    c = Collector()
    # 2,100,000 ns: bit_length 22, k = 11, bucket [2,099,200, 2,101,247], midpoint 2,100,224.
    for lat in (2_000_000, 2_100_000, 2_200_000):
        c.record(OpKind.PUT, 102_400, lat)
    row = "\t2100.00\t2100.22\t2200.00\t2200.00\t2200.00\t2200.00\t102400\t6.00\t0.59\t3"
    assert format_prepare_tsv(c, 0.5).splitlines()[1:] == [
        "PUT\t64KiB-512KiB\t3" + row,
        "PUT\tALL\t99" + row,
    ]


def test_rows_sort_by_bucket_then_get_put_meta():
    c = Collector()
    c.record(OpKind.DELETE, 0, 1000)
    c.record(OpKind.PUT, 0, 1000)  # a zero-byte PUT lands in bucket 0 too
    c.record(OpKind.GET, 0, 1000)
    c.record(OpKind.PUT, 5 * 2**30, 1000)
    keys = [tuple(line.split("\t")[:3]) for line in format_results_tsv(c, 1.0).splitlines()[1:]]
    assert keys == [
        ("GET", "zero", "0"),
        ("PUT", "zero", "0"),
        ("META", "zero", "0"),
        ("PUT", ">2GiB", "8"),
        ("META", "ALL", "97"),
        ("GET", "ALL", "98"),
        ("PUT", "ALL", "99"),
    ]


@pytest.mark.parametrize("wall", [0.0, -1.0])
def test_zero_wall_time_gives_zero_rates_not_a_crash(wall):
    c = Collector()
    c.record(OpKind.GET, 10, 1000)
    row = format_results_tsv(c, wall).splitlines()[1].split("\t")
    assert row[10:] == ["0.00", "0.00", "1"]
