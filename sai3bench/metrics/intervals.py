"""A stage's measurements cut into fixed intervals: one Collector per interval, swapped at
each boundary, so the perf-log's percentiles are those of the interval alone (upstream's are
cumulative since the stage start).

Boundaries are ``start + k * step`` plus the warmup's end, all relative to the stage's start
instant. Every engine process of a workload starts at the instant of the start barrier and runs
the same config, so interval ``i`` covers the same span in every process and the coordinator
merges interval ``i`` of every share exactly.

An op lands in the interval that is current when its batch is recorded (a batch is at most 4
ops on the event loop, 32 in a thread): the swap is not per op, which keeps the hot path to one
attribute read per batch. Pure: the caller passes the clock readings; ``lock`` is the lock
recorders already hold (the worker pool's), so a swap never races a thread's record.
"""

from __future__ import annotations

import threading

import msgspec

from sai3bench.metrics.collector import Collector

#: Nanoseconds in a second.
_NS = 1_000_000_000


class ClosedInterval(msgspec.Struct, frozen=True):
    """One finished interval: its number in the stage, its span (ns from the stage start),
    whether it lies in the warmup, and what was recorded in it."""

    index: int
    start_ns: int
    end_ns: int
    warmup: bool
    collector: Collector


class Intervals:
    """The interval collectors of one stage in one process.

    ``current`` is what recorders write into (read once per batch); ``summary`` is the exact
    merge of every closed interval outside the warmup: the stage's result.
    """

    __slots__ = (
        "_boundary",
        "_end",
        "_opened",
        "_start",
        "_step",
        "_warmup",
        "current",
        "index",
        "lock",
        "summary",
    )

    def __init__(
        self,
        start_ns: int,
        step_s: float,
        *,
        warmup_s: float = 0.0,
        end_ns: int | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.lock = lock or threading.Lock()
        self.current = Collector()
        self.summary = Collector()
        self.index = 0
        self._start = start_ns
        self._step = max(1, int(step_s * _NS))
        self._warmup = int(warmup_s * _NS)
        #: No boundary at or past the end is rolled by ``roll``: ``close`` ends the last one.
        self._end = end_ns - start_ns if end_ns is not None else 2**63 - 1
        self._opened = 0
        self._boundary = self._next_boundary(0)

    def __repr__(self) -> str:
        return f"<Intervals #{self.index} step={self._step / _NS:g}s warmup={self._warmup}ns>"

    @property
    def rolled_all(self) -> bool:
        """No boundary is left before the end: only ``close`` ends the last interval."""
        return self._boundary >= self._end

    @property
    def next_boundary_ns(self) -> int:
        """When the current interval ends (same clock as ``start_ns``)."""
        return self._start + min(self._boundary, self._end)

    def _next_boundary(self, after: int) -> int:
        step_end = (after // self._step + 1) * self._step
        return self._warmup if after < self._warmup < step_end else step_end

    def roll(self, now_ns: int) -> list[ClosedInterval]:
        """Close every interval whose end has passed by ``now_ns`` (none at or past the end)."""
        rel = now_ns - self._start
        closed: list[ClosedInterval] = []
        if rel < self._boundary or self._boundary >= self._end:
            return closed
        with self.lock:
            while rel >= self._boundary and self._boundary < self._end:
                closed.append(self._swap(self._boundary))
        return self._summed(closed)

    def close(self, now_ns: int) -> list[ClosedInterval]:
        """The stage is over: close what ``roll`` would, then the last, partial interval
        (ending at ``now_ns`` or the end, whichever is first), if it has a length or data."""
        closed = self.roll(now_ns)
        end = min(now_ns - self._start, self._end)
        with self.lock:
            has_data = self.current.ops() or self.current.error_count() or self.current.retries
            last = self._swap(max(end, self._opened)) if end > self._opened or has_data else None
        return closed if last is None else closed + self._summed([last])

    def _swap(self, end: int) -> ClosedInterval:
        """Under the lock: file the current interval as ending at ``end``, open the next."""
        warmup = end <= self._warmup and self._warmup > 0
        done = ClosedInterval(self.index, self._opened, end, warmup, self.current)
        self.current = Collector()
        self.index += 1
        self._opened = end
        self._boundary = self._next_boundary(end)
        return done

    def _summed(self, closed: list[ClosedInterval]) -> list[ClosedInterval]:
        """Merge the new non-warmup intervals into the summary (off the lock: nobody records
        into a closed interval)."""
        for c in closed:
            if not c.warmup:
                self.summary.merge(c.collector)
        return closed
