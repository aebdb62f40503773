"""perf_log_intervals.jsonl: the perf-log's intervals kept lossless, and merged exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from sai3bench.engine.intervals import MergedInterval
from sai3bench.errors import UsageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.report.interval_log import IntervalLog, merge_intervals, read_intervals


def _interval(index: int, base_ns: int, *, warmup: bool = False) -> MergedInterval:
    c = Collector()
    for i in range(200):
        c.record(OpKind.GET, 1024, base_ns + 1000 * i)
        c.record(OpKind.DELETE, 0, 3 * base_ns)
    return MergedInterval(
        stage="workload",
        index=index,
        start_s=index * 1.0,
        end_s=index + 1.0,
        warmup=warmup,
        wall_ms=1_000_000 + 1000 * index,
        cpu=(10.0, 5.0, 0.0),
        collector=c,
        shares=1,
    )


def test_lines_round_trip_exactly_and_the_writer_hands_on(tmp_path: Path) -> None:
    seen: list[int] = []
    log = IntervalLog(tmp_path, lambda m: seen.append(m.index))
    sent = [_interval(0, 50_000, warmup=True), _interval(1, 80_000)]
    for m in sent:
        log(m)
    log.close()
    back = read_intervals((tmp_path / "perf_log_intervals.jsonl").read_text(), "f")
    assert seen == [0, 1]
    assert [m.collector.encode() for m in back] == [m.collector.encode() for m in sent]
    assert [(m.index, m.warmup, m.wall_ms, m.cpu) for m in back] == [
        (0, True, 1_000_000, (10.0, 5.0, 0.0)),
        (1, False, 1_001_000, (10.0, 5.0, 0.0)),
    ]


def test_merge_adds_interval_i_of_every_run() -> None:
    a = [_interval(0, 50_000), _interval(1, 60_000)]
    b = [_interval(0, 90_000)]
    merged = merge_intervals([a, b])
    assert [m.index for m in merged] == [0, 1]
    want = Collector()
    want.merge(a[0].collector)
    want.merge(b[0].collector)
    assert merged[0].collector.encode() == want.encode()
    assert merged[0].shares == 2 and merged[1].collector.ops() == a[1].collector.ops()
    h = merged[0].collector.kind_histogram(OpKind.GET)
    assert h is not None and h.count == 400


def test_a_corrupt_line_is_one_usage_error() -> None:
    with pytest.raises(UsageError, match="f:2: not an interval line"):
        read_intervals('\n{"nope": 1}\n', "f")
