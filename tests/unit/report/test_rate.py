"""report/rate.py and the dry-run line: what a paced run says about its rate and its times."""

from __future__ import annotations

from sai3bench.config.load import load_config
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.pace_stat import PaceResult, merge_pacing
from sai3bench.report.plan import format_plan
from sai3bench.report.rate import format_rate_block, rate_section, rate_sentence


def pace(started: int, backlog: int, offered: float = 10_000.0) -> PaceResult:
    return PaceResult(
        distribution="exponential",
        offered_iops=offered,
        started=started,
        window_s=10.0,
        max_backlog=backlog,
        backlog_end=backlog,
    )


def test_the_fell_behind_sentence_is_the_issue_s_wording() -> None:
    assert rate_sentence(pace(74_120, 3_100)) == (
        "offered 10,000/s, achieved 7,412/s; the backlog grew to 3,100 ops"
    )
    assert rate_sentence(pace(99_990, 4)) == (
        "offered 10,000/s, achieved 9,999/s; largest backlog 4 ops"
    )
    assert rate_sentence(pace(5, 0, offered=0.5)) == (
        "offered 0.5/s, achieved 0.5/s; largest backlog 0 ops"
    )


def test_block_shows_service_and_response_per_kind() -> None:
    c = Collector()
    for _ in range(10):
        c.record(OpKind.GET, 1024, 50_000_000)
        c.record_response(OpKind.GET, 900_000_000)
        c.record(OpKind.STAT, 0, 50_000_000)  # STAT without response: not paced, no line
    block = format_rate_block(c, pace(74_120, 3_100))
    assert "offered 10,000/s, achieved 7,412/s; the backlog grew to 3,100 ops" in block
    assert "  GET service: mean=50.0" in block and "  GET response: mean=900." in block
    assert "STAT response" not in block
    section = rate_section(c, pace(74_120, 3_100))
    assert section["kept"] is False and section["max_backlog"] == 3_100
    assert section["response_ns"]["GET"]["p50"] >= 899_000_000
    assert set(section["response_ns"]) == {"GET"}


def test_shares_merge_to_the_run_s_rate() -> None:
    merged = merge_pacing([pace(50_000, 10, 5000.0), None, pace(49_000, 30, 5000.0)])
    assert merged is not None
    assert (merged.offered_iops, merged.started, merged.max_backlog) == (10_000.0, 99_000, 40)
    assert merged.achieved_iops == 9_900.0 and merged.kept
    assert merge_pacing([None, None]) is None


def test_dry_run_names_the_rate() -> None:
    text = "target: file:///t/\nio_rate: {iops: 2500, distribution: uniform}\n"
    config = load_config(text + "workload: [{op: get, path: 'd/x', weight: 1}]\n").config
    assert "Rate: 2,500 ops/s offered in all, uniform (open loop)" in format_plan(config, "x")


def test_a_slow_rate_that_kept_up_is_not_called_behind() -> None:
    """0.1/s for 10 s: the schedule's one block is 1,000 s, so the window held no slot at all;
    nothing waited at the end, so the run kept its rate (achieved 0 is not 'fell behind')."""
    p = PaceResult(
        distribution="exponential",
        offered_iops=0.1,
        started=0,
        window_s=10.0,
        max_backlog=0,
        backlog_end=0,
    )
    assert p.kept and "the backlog grew" not in rate_sentence(p)
    assert not pace(1_000, 11).kept and pace(1_000, 10).kept  # 1 % of those started
