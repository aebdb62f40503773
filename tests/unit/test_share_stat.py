"""ShareStat and its reports: exact text for a small case, per-host sums, sorting, edge cases."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.share_stat import ShareStat, first_op_offsets_ms, share_stat
from sai3bench.outcome import Outcome
from sai3bench.report.shares import (
    HOST_TSV_HEADER,
    format_host_block,
    format_host_tsv,
    format_process_block,
    host_sections,
    host_totals,
    share_sections,
)

MIB = 1_048_576
HOST_B = "tcp://10.0.0.2:40000"


def stats() -> list[ShareStat]:
    """Given out of order: host "b" first, local's process 1 before its process 0."""
    return [
        ShareStat(HOST_B, 0, 1_000, 10 * MIB, 2, 4.0, 2.5, -0.4125),
        ShareStat("local", 1, 3_000, 3 * MIB, 1, 2.0, 1.25),
        ShareStat("local", 0, 1_000, MIB, 0, 1.0, 0.0),
    ]


def test_share_stat_takes_the_collectors_counts() -> None:
    c = Collector()
    c.record(OpKind.GET, 4096, 1_000)
    c.record(OpKind.PUT, 100, 2_000)
    c.record(OpKind.DELETE, 0, 500)
    c.record_error(OpKind.GET, Outcome.NOT_FOUND)
    c.record_retry(OpKind.GET, Outcome.TIMEOUT)  # a retry is not an error
    s = share_stat("local", 3, c, 1.5, 0.25)
    assert s == ShareStat("local", 3, 3, 4196, 1, 1.5, 0.25, None)
    assert share_stat("h", 0, Collector(), 0.0, None, 7.0).clock_offset_ms == 7.0


def test_share_stat_round_trips_through_msgspec() -> None:
    s = stats()[0]
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(s), type=ShareStat) == s
    with pytest.raises(AttributeError):
        s.ops = 1  # type: ignore[misc]  # frozen


def test_first_op_offsets_are_ms_after_the_earliest() -> None:
    assert first_op_offsets_ms([5_000_000, None, 2_000_000, 2_500_000]) == [3.0, None, 0.0, 0.5]
    assert first_op_offsets_ms([None, None]) == [None, None]
    assert first_op_offsets_ms([]) == []


def test_process_block_exact_text() -> None:
    assert format_process_block(stats()) == (
        "Per process:\n"
        "  host                  proc    ops     ops/s  MiB/s  errors  first op\n"
        "  local                    0  1,000  1,000.00   1.00       0  +0.00 ms\n"
        "  local                    1  3,000  1,500.00   1.50       1  +1.25 ms\n"
        "  tcp://10.0.0.2:40000     0  1,000    250.00   2.50       2  +2.50 ms\n"
        "  start spread: 2.50 ms (first to last process's first op)\n"
    )


def test_process_block_share_without_ops_and_zero_wall() -> None:
    """Prepare and cleanup shares have no start barrier: no first-op column, no spread."""
    text = format_process_block([ShareStat("local", 0, 0, 0, 0, 0.0, None)])
    assert text == (
        "Per process:\n"
        "  host   proc  ops  ops/s  MiB/s  errors\n"
        "  local     0    0   0.00   0.00       0\n"
    )


def test_host_block_sums_per_host_and_rates_by_its_longest_wall() -> None:
    # local: 4,000 ops and 4 MiB over max(2.0, 1.0) s -> 2,000 ops/s, 2 MiB/s.
    assert format_host_block(stats()) == (
        "Per host:\n"
        "  host                  procs    ops     ops/s  MiB/s  errors  clock offset\n"
        "  local                     2  4,000  2,000.00   2.00       1             -\n"
        "  tcp://10.0.0.2:40000      1  1,000    250.00   2.50       2      -0.41 ms\n"
    )


def test_host_block_leaves_out_the_clock_column_when_no_host_measured_one() -> None:
    assert format_host_block(stats()[1:]) == (
        "Per host:\n"
        "  host   procs    ops     ops/s  MiB/s  errors\n"
        "  local      2  4,000  2,000.00   2.00       1\n"
    )


def test_host_tsv_exact_text() -> None:
    assert format_host_tsv(stats()) == (
        "host\tprocesses\tops\tbytes\terrors\twall_seconds\tops_per_sec\tmib_per_sec"
        "\tclock_offset_ms\tfirst_op_spread_ms\n"
        "local\t2\t4000\t4194304\t1\t2.000\t2000.00\t2.00\t\t1.250\n"
        f"{HOST_B}\t1\t1000\t10485760\t2\t4.000\t250.00\t2.50\t-0.412\t0.000\n"
    )


def test_host_tsv_sorts_by_label_and_handles_zero_wall() -> None:
    shares = [
        ShareStat("zeta", 0, 5, 5, 0, 0.0, None),
        ShareStat("alpha", 1, 7, 7, 0, 0.0, None),
        ShareStat("alpha", 0, 1, 1, 1, 0.0, None),
    ]
    lines = format_host_tsv(shares).splitlines()
    assert lines == [
        HOST_TSV_HEADER,
        "alpha\t2\t8\t8\t1\t0.000\t0.00\t0.00\t\t",
        "zeta\t1\t5\t5\t0\t0.000\t0.00\t0.00\t\t",
    ]


def test_empty_list_gives_no_block_and_a_header_only_tsv() -> None:
    assert format_process_block([]) == ""
    assert format_host_block([]) == ""
    assert format_host_tsv([]) == HOST_TSV_HEADER + "\n"
    assert share_sections([]) == []
    assert host_sections([]) == []
    assert host_totals([]) == []


def test_host_totals_take_the_first_known_clock_offset_and_spread_within_host() -> None:
    shares = [
        ShareStat("h", 0, 1, 0, 0, 1.0, 4.0, None),
        ShareStat("h", 1, 2, 0, 0, 3.0, 9.5, 1.5),
        ShareStat("h", 2, 0, 0, 0, 2.0, None, 1.5),
    ]
    (h,) = host_totals(shares)
    assert (h.processes, h.ops, h.wall_s, h.clock_offset_ms) == (3, 3, 3.0, 1.5)
    assert h.first_op_spread_ms == 5.5


def test_share_sections_are_sorted_json_ready_dicts() -> None:
    sections = share_sections(stats())
    assert [(d["host"], d["process"]) for d in sections] == [
        ("local", 0),
        ("local", 1),
        (HOST_B, 0),
    ]
    assert sections[2] == {
        "host": HOST_B,
        "process": 0,
        "ops": 1_000,
        "bytes": 10 * MIB,
        "errors": 2,
        "wall_seconds": 4.0,
        "ops_per_sec": 250.0,
        "mib_per_sec": 2.5,
        "first_op_ms": 2.5,
        "clock_offset_ms": -0.412,
    }
    assert orjson.loads(orjson.dumps(sections)) == sections


def test_host_sections_sum_per_host() -> None:
    local, remote = host_sections(stats())
    assert local == {
        "host": "local",
        "processes": 2,
        "ops": 4_000,
        "bytes": 4 * MIB,
        "errors": 1,
        "wall_seconds": 2.0,
        "ops_per_sec": 2000.0,
        "mib_per_sec": 2.0,
        "clock_offset_ms": None,
        "first_op_spread_ms": 1.25,
    }
    assert (remote["host"], remote["first_op_spread_ms"]) == (HOST_B, 0.0)
