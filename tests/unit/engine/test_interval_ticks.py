"""The workload's live figures per op kind (Tick.classes) from one interval, and how the ticks
of several processes add up."""

from __future__ import annotations

import asyncio
import time

import pytest

from sai3bench.engine.intervals import IntervalPart, Timeline
from sai3bench.engine.progress import ClassTick, Tick, add_ticks
from sai3bench.engine.workload import _Progress, class_ticks
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.intervals import ClosedInterval, Intervals
from sai3bench.outcome import Outcome
from tests.conftest import LoopRunner

MIB = 1048576


def test_class_ticks_over_one_interval() -> None:
    c = Collector()
    for ms in range(1, 101):  # 100 GETs of 1 MiB, 1..100 ms
        c.record(OpKind.GET, MIB, ms * 1_000_000)
    c.record(OpKind.DELETE, 0, 3_000_000)
    c.record_error(OpKind.DELETE, Outcome.NOT_FOUND)
    c.record_error(OpKind.GET, Outcome.THROTTLED)
    ticks = class_ticks(c, [OpKind.GET, OpKind.PUT, OpKind.DELETE], 0.5)
    assert [t.name for t in ticks] == ["GET", "PUT", "DELETE"]
    get, put, delete = ticks
    assert (get.ops_s, get.mib_s, get.errors) == (200.0, 200.0, 1)
    assert get.p99_us == pytest.approx(99_000, rel=1e-3)  # the histogram's 3-digit precision
    assert put == ClassTick("PUT", 0.0, 0.0, 0.0, 0)
    assert (delete.ops_s, delete.errors) == (2.0, 1)
    assert delete.p99_us == pytest.approx(3_000, rel=1e-3)


def _tick(*classes: ClassTick) -> Tick:
    return Tick(label="workload", elapsed_s=1.0, done=10, rate=10.0, classes=list(classes))


def test_add_ticks_sums_rates_and_errors_and_takes_the_worst_p99() -> None:
    total = add_ticks(
        [
            _tick(ClassTick("GET", 100.0, 1.5, 800.0, 1), ClassTick("PUT", 5.0, 0.5, 90.0, 0)),
            _tick(ClassTick("GET", 50.0, 0.5, 1200.0, 2)),
        ]
    )
    assert total.classes == [
        ClassTick("GET", 150.0, 2.0, 1200.0, 3),
        ClassTick("PUT", 5.0, 0.5, 90.0, 0),
    ]
    assert total.done == 20 and total.rate == 20.0


class _Parts:
    def __init__(self) -> None:
        self.parts: list[IntervalPart] = []

    def interval(self, part: IntervalPart, collector: Collector) -> None:
        self.parts.append(part)


def test_timeline_rolls_on_time_then_stops_before_the_end(run_loop: LoopRunner) -> None:
    """Boundaries at 0.1 s and 0.2 s, the stage ends at 0.25 s: the ticker sends intervals 0
    and 1 and then returns (it used to spin until the pool finished); close() sends the last."""

    async def scenario() -> list[IntervalPart]:
        start = time.perf_counter_ns()
        iv = Intervals(start, 0.1, end_ns=start + 250_000_000)
        sink = _Parts()
        timeline = Timeline(iv, start, stage="workload", share=3, sink=sink)
        await asyncio.wait_for(timeline.run(), timeout=10)
        assert [p.index for p in sink.parts] == [0, 1]
        timeline.close()
        return sink.parts

    parts = run_loop(scenario())
    assert [(p.index, p.share, p.last) for p in parts] == [
        (0, 3, False),
        (1, 3, False),
        (2, 3, True),
    ]
    assert [(p.start_s, p.end_s) for p in parts][:2] == [(0.0, 0.1), (0.1, 0.2)]
    assert parts[2].start_s == 0.2 and 0.2 < parts[2].end_s <= 0.25


class _Ticks:
    def __init__(self) -> None:
        self.ticks: list[Tick] = []

    def say(self, line: str = "") -> None:
        raise AssertionError(line)

    def warn(self, line: str) -> None:
        raise AssertionError(line)

    def progress(self, line: str) -> None:
        raise AssertionError(line)

    def progress_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)


def test_the_live_view_says_warmup_while_the_warmup_runs() -> None:
    """warmup_period: 1s, 1 s intervals: the first tick is labelled warmup (its figures are
    left out of the results), the next workload; counts so far include both."""
    out = _Ticks()
    progress = _Progress(out, [OpKind.GET], duration=3.0)
    for i, warmup in enumerate((True, False)):
        c = Collector()
        c.record(OpKind.GET, MIB, 1_000_000)
        progress(ClosedInterval(i, i * 1_000_000_000, (i + 1) * 1_000_000_000, warmup, c))
    assert [(t.label, t.done) for t in out.ticks] == [("warmup", 1), ("workload", 2)]
