"""A stage's live progress line, as numbers first, so the ticks of several processes add up.

One process prints ``format_progress(tick)``. An engine child process instead sends its ticks
to the coordinator (an Output that is a ProgressSink), which adds the latest tick of every
process and prints one line for the whole run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec


class ClassTick(msgspec.Struct, frozen=True):
    """One op kind (GET, PUT, LIST, STAT, DELETE) over the last interval."""

    name: str
    ops_s: float
    mib_s: float
    p99_us: float
    errors: int


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    """Where a stage stands. Task lists (prepare, cleanup) fill ``total``; the workload fills
    ``duration_s``, and its ``rate``/``mib_s`` and ``classes`` cover the last interval
    (``perf_log.interval``, 1 s by default)."""

    label: str
    elapsed_s: float
    done: int
    rate: float
    total: int = 0
    duration_s: float = 0.0
    mib_s: float = 0.0
    errors: int = 0
    classes: list[ClassTick] = []


@runtime_checkable
class ProgressSink(Protocol):
    def progress_tick(self, tick: Tick) -> None: ...


class _Out(Protocol):
    def progress(self, line: str) -> None: ...


def format_progress(t: Tick) -> str:
    if t.duration_s:
        return (
            f"[{t.elapsed_s:5.0f}s/{t.duration_s:g}s] {t.rate:,.0f} ops/s "
            f"{t.mib_s:,.1f} MiB/s  errors {t.errors:,}"
        )
    return f"{t.label}: {t.done:,}/{t.total:,} objects ({t.rate:,.0f}/s)"


def add_ticks(ticks: Sequence[Tick]) -> Tick:
    """The run's tick from each process's latest: counts and rates add, time is the longest."""
    first = ticks[0]
    return Tick(
        label=first.label,
        elapsed_s=max(t.elapsed_s for t in ticks),
        done=sum(t.done for t in ticks),
        rate=sum(t.rate for t in ticks),
        total=sum(t.total for t in ticks),
        duration_s=first.duration_s,
        mib_s=sum(t.mib_s for t in ticks),
        errors=sum(t.errors for t in ticks),
        classes=add_classes(ticks),
    )


def add_classes(ticks: Sequence[Tick]) -> list[ClassTick]:
    """Per op kind over every process: rates and errors add; p99 is the largest process's p99
    (an upper bound of the merged p99, never below it; the perf-log's percentiles are exact)."""
    merged: dict[str, ClassTick] = {}
    for t in ticks:
        for c in t.classes:
            m = merged.get(c.name)
            merged[c.name] = (
                c
                if m is None
                else ClassTick(
                    c.name,
                    m.ops_s + c.ops_s,
                    m.mib_s + c.mib_s,
                    max(m.p99_us, c.p99_us),
                    m.errors + c.errors,
                )
            )
    return list(merged.values())


def tell(out: _Out, tick: Tick) -> None:
    """Hand ``tick`` to a sink that adds it up, else print it."""
    if isinstance(out, ProgressSink):
        out.progress_tick(tick)
    else:
        out.progress(format_progress(tick))
