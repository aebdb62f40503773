"""``perf_log_intervals.jsonl``: the perf-log's intervals, lossless, beside perf_log.tsv.

perf_log.tsv keeps upstream's 30 columns: p50/p90/p99 per op class in whole microseconds, no
p99.9, and percentiles that cannot be merged. This file keeps each merged interval's collector
(docs/FORMAT.md §3) with its span, wall clock, CPU and warmup flag, one JSON object per
line, appended as the run goes (a killed run keeps complete lines). From it the HTML report
draws p50/p99/p99.9 per op kind over time, and ``merge`` rebuilds merged intervals exactly and
writes their perf_log.tsv rows with the perf-log's own formatter.

Cost (measured on this 2-core VM): encoding a busy interval's collector (3 kinds, ~6k ops) takes
5-15 ms of the coordinator's loop, once per interval, in Histogram.encode's pure-Python varints;
the line is ~7 KB. A writer thread was tried and dropped: under the GIL it did not shorten the
loop's worst stall (a 1 ms timer's max lateness 6.1 ms with it, 6.2 ms without).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from sai3bench.engine.intervals import IntervalHook, MergedInterval
from sai3bench.errors import UsageError
from sai3bench.metrics.collector import Collector

INTERVALS_NAME = "perf_log_intervals.jsonl"


class IntervalLine(msgspec.Struct, kw_only=True):
    """One line of the file (version 1)."""

    stage: str
    index: int
    start_s: float
    end_s: float
    warmup: bool
    wall_ms: int
    cpu: tuple[float, float, float]
    shares: int
    collector: msgspec.Raw  # Collector.encode(), the JSON object itself


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(IntervalLine)


def to_line(m: MergedInterval) -> bytes:
    fields = {f: getattr(m, f) for f in IntervalLine.__struct_fields__ if f != "collector"}
    raw = msgspec.Raw(m.collector.encode())
    return _ENCODER.encode(IntervalLine(**fields, collector=raw)) + b"\n"


def from_line(line: IntervalLine) -> MergedInterval:
    fields = {f: getattr(line, f) for f in IntervalLine.__struct_fields__ if f != "collector"}
    return MergedInterval(**fields, collector=Collector.decode(bytes(line.collector)))


class IntervalLog:
    """The run's interval hook: hands each merged interval on to ``then`` (the perf-log
    writer), then appends it here. A failed write drops later lines; the run goes on."""

    def __init__(self, out_dir: Path, then: IntervalHook | None = None) -> None:
        self.path = out_dir / INTERVALS_NAME
        self.then = then
        self.failure: OSError | None = None
        self._fd = -1

    def __repr__(self) -> str:
        return f"<IntervalLog {self.path}>"

    def __call__(self, merged: MergedInterval) -> None:
        if self.then is not None:
            self.then(merged)
        if self.failure is not None:
            return
        try:
            if self._fd < 0:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(self._fd, to_line(merged))  # one write per line
        except OSError as exc:
            self.failure = exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_intervals(text: str, source: str) -> list[MergedInterval]:
    """Every complete line of the file; a corrupt one is a UsageError naming it."""
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            out.append(from_line(_DECODER.decode(raw)))
        except (msgspec.DecodeError, ValueError) as exc:
            raise UsageError(
                f"{source}:{n}: not an interval line ({exc})",
                hint="the file is corrupt; the perf_log.tsv beside it still has the series",
            ) from None
    return out


def merge_intervals(runs: list[list[MergedInterval]]) -> list[MergedInterval]:
    """Interval i of each stage across runs made at once, exactly (collectors added); span the
    widest, wall clock the latest, CPU averaged, warmup only if warmup in every run."""
    groups: dict[tuple[str, int], list[MergedInterval]] = {}
    for intervals in runs:
        for m in intervals:
            groups.setdefault((m.stage, m.index), []).append(m)
    merged = []
    for parts in groups.values():
        c = Collector()
        for p in parts:
            c.merge(p.collector)
        cpu = tuple(sum(p.cpu[i] for p in parts) / len(parts) for i in range(3))
        merged.append(
            MergedInterval(
                stage=parts[0].stage,
                index=parts[0].index,
                start_s=min(p.start_s for p in parts),
                end_s=max(p.end_s for p in parts),
                warmup=all(p.warmup for p in parts),
                wall_ms=max(p.wall_ms for p in parts),
                cpu=(cpu[0], cpu[1], cpu[2]),
                collector=c,
                shares=sum(p.shares for p in parts),
            )
        )
    return sorted(merged, key=lambda m: (m.wall_ms, m.index))
