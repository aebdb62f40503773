"""A stage's intervals on their way to the perf-log: rolled on time in each engine process,
sent to the coordinator, merged there across shares, and handed up one merged row at a time.

Engine process side: ``Timeline`` wakes at each boundary of its ``Intervals`` (metrics/
intervals.py), closes the interval and gives it to the run's ``IntervalSink``: the coordinator's
``IntervalMerger`` itself (``processes: 1``), or a child's pipe to the coordinator
(scale/child.py), whose LocalProcessRunner hands it on. A Dask host's runner has no live sink:
its shares' intervals travel back at the end of the stage in ``ShareDone.intervals``.

Coordinator side: ``IntervalMerger`` merges interval ``i`` of every share exactly and hands the
merged interval to the run's hook (the CLI's perf-log writer) once every share sent ``i`` or
ended; ``end()`` flushes what is left when the stage is over (a lost share never sends more).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

import msgspec

from sai3bench.engine.cpustat import CpuSampler
from sai3bench.metrics.collector import Collector
from sai3bench.metrics.intervals import ClosedInterval, Intervals


class IntervalPart(msgspec.Struct, frozen=True, kw_only=True):
    """One share's interval ``index`` of ``stage``: span in seconds from the stage start, wall
    clock at its end (epoch ms), host CPU use over it, and whether it is the share's last."""

    stage: str
    share: int
    index: int
    start_s: float
    end_s: float
    warmup: bool
    wall_ms: int
    cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)
    last: bool = False


class EncodedInterval(msgspec.Struct, frozen=True):
    """An interval as it crosses a process boundary: its collector encoded losslessly."""

    part: IntervalPart
    collector: bytes

    def decoded(self) -> Collector:
        return Collector.decode(self.collector)


@runtime_checkable
class IntervalSink(Protocol):
    def interval(self, part: IntervalPart, collector: Collector) -> None: ...


class MergedInterval(msgspec.Struct, kw_only=True):
    """Interval ``index`` of a stage, merged over every share that sent it."""

    stage: str
    index: int
    start_s: float
    end_s: float
    warmup: bool
    wall_ms: int
    cpu: tuple[float, float, float]
    collector: Collector
    shares: int = 0


#: Told each merged interval of a run, in order within a stage (the perf-log writer).
IntervalHook = Callable[[MergedInterval], None]


class IntervalMerger:
    """The coordinator's side: one stage at a time, parts from ``shares`` shares."""

    def __init__(self, on_interval: IntervalHook | None = None) -> None:
        self.on_interval = on_interval
        self.stage = ""
        self._pending: dict[int, MergedInterval] = {}
        self._seen: list[int] = []  # per share: parts received (indices arrive in order)
        self._ended: list[int | None] = []  # per share: index of its last part
        self._next = 0
        #: (share, index) of every part taken this stage: a Dask host's parts come twice
        #: (streamed, and again with its result, in case a streamed one was late or lost).
        self._taken: set[tuple[int, int]] = set()

    def __repr__(self) -> str:
        return f"<IntervalMerger {self.stage} next={self._next} pending={len(self._pending)}>"

    def begin(self, stage: str, shares: int) -> None:
        self.end()
        self.stage, self._next = stage, 0
        self._seen, self._ended = [0] * shares, [None] * shares
        self._taken = set()

    def interval(self, part: IntervalPart, collector: Collector) -> None:
        if part.stage != self.stage or not 0 <= part.share < len(self._seen):
            return  # a straggler of an earlier stage
        if (part.share, part.index) in self._taken or part.index < self._next:
            return  # had it already
        self._taken.add((part.share, part.index))
        acc = self._pending.get(part.index)
        if acc is None:
            self._pending[part.index] = _first(part, collector)
        else:
            _add(acc, part, collector)
        self._seen[part.share] = max(self._seen[part.share], part.index + 1)
        if part.last:
            self._ended[part.share] = part.index
        self._flush()

    def add_encoded(self, parts: list[EncodedInterval]) -> None:
        """Intervals that came back with a share's result (a Dask host's)."""
        for p in parts:
            self.interval(p.part, p.decoded())

    def end(self) -> None:
        """The stage is over: hand on everything still waiting, in order."""
        for index in sorted(self._pending):
            self._emit(self._pending.pop(index))
        self._seen, self._ended = [], []

    def _complete(self, index: int) -> bool:
        return all(
            seen > index or (last is not None and last < index)
            for seen, last in zip(self._seen, self._ended, strict=True)
        )

    def _flush(self) -> None:
        while self._next in self._pending and self._complete(self._next):
            self._emit(self._pending.pop(self._next))
            self._next += 1

    def _emit(self, merged: MergedInterval) -> None:
        merged.cpu = tuple(x / max(merged.shares, 1) for x in merged.cpu)  # type: ignore[assignment]
        if self.on_interval is not None:
            self.on_interval(merged)


def _first(part: IntervalPart, collector: Collector) -> MergedInterval:
    return MergedInterval(
        stage=part.stage,
        index=part.index,
        start_s=part.start_s,
        end_s=part.end_s,
        warmup=part.warmup,
        wall_ms=part.wall_ms,
        cpu=part.cpu,
        collector=collector,
        shares=1,
    )


def _add(acc: MergedInterval, part: IntervalPart, collector: Collector) -> None:
    """Exact for the counts and histograms; the span is the widest, the wall clock the latest,
    and CPU is summed here and averaged over the shares when emitted."""
    acc.collector.merge(collector)
    acc.start_s = min(acc.start_s, part.start_s)
    acc.end_s = max(acc.end_s, part.end_s)
    acc.wall_ms = max(acc.wall_ms, part.wall_ms)
    acc.warmup = acc.warmup and part.warmup
    acc.cpu = (acc.cpu[0] + part.cpu[0], acc.cpu[1] + part.cpu[1], acc.cpu[2] + part.cpu[2])
    acc.shares += 1


#: Told each interval a Timeline closes, before it is sent (the progress line).
ClosedHook = Callable[[ClosedInterval], None]


class Timeline:
    """Rolls one stage's ``Intervals`` at each boundary, in one engine process, and sends each
    closed interval to ``sink`` (tagged with the stage and share) and to ``on_closed``."""

    def __init__(
        self,
        intervals: Intervals,
        start_ns: int,
        *,
        stage: str,
        share: int,
        sink: IntervalSink | None,
        on_closed: ClosedHook | None = None,
    ) -> None:
        self.intervals = intervals
        self.stage = stage
        self.share = share
        self.sink = sink
        self.on_closed = on_closed
        self._cpu = CpuSampler()
        #: Wall clock (ns) at the stage's start instant: interval ends map to epoch ms.
        self._wall0 = time.time_ns() - (time.perf_counter_ns() - start_ns)

    def __repr__(self) -> str:
        return f"<Timeline {self.stage} share {self.share} {self.intervals!r}>"

    async def run(self) -> None:
        """Until cancelled, or until no boundary is left before the end (the workload's last
        interval ends with the stage): sleep to the next boundary, close what ended."""
        while not self.intervals.rolled_all:
            wait = (self.intervals.next_boundary_ns - time.perf_counter_ns()) / 1e9
            await asyncio.sleep(max(wait, 0.0005))
            self._send(self.intervals.roll(time.perf_counter_ns()), last=False)

    def close(self) -> None:
        """The stage is over: close the last interval; it is the share's last part."""
        self._send(self.intervals.close(time.perf_counter_ns()), last=True)

    def _send(self, closed: list[ClosedInterval], *, last: bool) -> None:
        if not closed:
            return
        cpu = self._cpu.sample()
        for k, c in enumerate(closed):
            if self.on_closed is not None:
                self.on_closed(c)
            if self.sink is None:
                continue
            part = IntervalPart(
                stage=self.stage,
                share=self.share,
                index=c.index,
                start_s=c.start_ns / 1e9,
                end_s=c.end_ns / 1e9,
                warmup=c.warmup,
                wall_ms=(self._wall0 + c.end_ns) // 1_000_000,
                cpu=cpu,
                last=last and k == len(closed) - 1,
            )
            self.sink.interval(part, c.collector)


#: The interval tap of the prepare or cleanup stage running in this task: task lists record
#: into it as well as into their own collector (engine/tasklist.py).
STAGE_TAP: contextvars.ContextVar[Intervals | None] = contextvars.ContextVar(
    "sai3bench_stage_tap", default=None
)


@contextlib.asynccontextmanager
async def stage_tap(
    sink: IntervalSink | None, share: int, stage: str, step_s: float
) -> AsyncIterator[Intervals]:
    """Intervals for a prepare or cleanup share, from now until the block ends: the task lists
    run inside record into them too (``STAGE_TAP``), and each closed one goes to ``sink``."""
    start = time.perf_counter_ns()
    intervals = Intervals(start, step_s)
    timeline = Timeline(intervals, start, stage=stage, share=share, sink=sink)
    token = STAGE_TAP.set(intervals)
    ticker = asyncio.create_task(timeline.run())
    try:
        yield intervals
    finally:
        STAGE_TAP.reset(token)
        ticker.cancel()
        timeline.close()
