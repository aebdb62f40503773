"""perf_log.tsv read back (strictly) and merged by interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from sai3bench.errors import UsageError
from sai3bench.report.perf_log import PERF_LOG_HEADER
from sai3bench.report.perflog_rows import merge_perf_logs, parse_perf_log

FIXTURE = Path(__file__).parents[2] / "data" / "perf_log_fixture.tsv"


def test_the_fixture_is_upstreams_30_columns() -> None:
    log = parse_perf_log(FIXTURE.read_text(), "fixture")
    assert len(log.header) == 30 and log.header == PERF_LOG_HEADER.split("\t")
    assert log.stages() == ["Prepare", "Warmup", "Workload", "Cleanup"]


def test_merging_a_log_with_itself_adds_counts_and_keeps_means_exact() -> None:
    log = parse_perf_log(FIXTURE.read_text(), "fixture")
    merged = parse_perf_log(merge_perf_logs([log, log]), "merged")
    assert len(merged.rows) == len(log.rows)
    for a, m in zip(log.rows, merged.rows, strict=True):
        assert m["agent_id"] == "merged" and m["stage"] == a["stage"]
        assert int(m["get_ops"]) == 2 * int(a["get_ops"])
        assert int(m["errors"]) == 2 * int(a["errors"])
        assert float(m["get_iops"]) == pytest.approx(2 * float(a["get_iops"]))
        for col in ("get_mean_us", "get_p99_us", "cpu_user_pct", "timestamp_epoch_ms"):
            assert m[col] == a[col]  # same decimals as the source


def test_intervals_meet_by_number_within_their_stage() -> None:
    text = FIXTURE.read_text()
    log = parse_perf_log(text, "a")
    shorter = parse_perf_log("\n".join(text.splitlines()[:4]) + "\n", "b")  # 3 rows
    merged = parse_perf_log(merge_perf_logs([log, shorter]), "m")
    first_work = next(r for r in merged.rows if r["stage"] == "Workload")
    assert int(first_work["get_ops"]) == 2 * int(log.rows[2]["get_ops"])
    assert len(merged.rows) == len(log.rows)


@pytest.mark.parametrize(
    "text", ["", "a\tb\n", PERF_LOG_HEADER + "\nstandalone\t1\n"], ids=["empty", "header", "row"]
)
def test_a_foreign_file_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="perf"):
        parse_perf_log(text, "perf_log.tsv")
