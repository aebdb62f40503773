"""autotune's sweep: which (processes, concurrency) to measure next, and where the knee is (pure).

Concurrency doubles from 1 (1, 2, 4, ... up to a cap) in one engine process while each doubling
still buys at least ``min_gain`` more ops/s. A doubling that buys less is the knee: past it the
extra ops in flight only queue, so by Little's law the latency climbs by about the factor the
throughput does not, and the setting before it is chosen (the same ops/s with half the ops in
flight, at the lower p99). Then, at that concurrency, processes go 2, 3, ... up to the cap
(``processes: auto``'s core count) while each one still adds ``min_gain``: more processes help
only when the client's CPU was the limit. Errors stop the sweep too: a setting whose ops fail is
past what the target takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    """One short run: its setting and what it measured (latencies in ns)."""

    processes: int
    concurrency: int
    ops_s: float
    mib_s: float
    p50_ns: int
    p99_ns: int
    errors: int


@dataclass(frozen=True)
class SweepRules:
    """How far to go, and what still counts as a gain (0.05: 5 % more ops/s per step)."""

    max_concurrency: int = 256
    max_processes: int = 1
    min_gain: float = 0.05


@dataclass
class Sweep:
    """The sweep's state: ``next()`` says what to run, ``add()`` takes what it measured."""

    rules: SweepRules
    points: list[Point] = field(default_factory=list)
    best: Point | None = None
    #: Why ``best`` was chosen, for the last line of the table.
    reason: str = ""
    _phase: str = "concurrency"

    def next(self) -> tuple[int, int] | None:
        """(processes, concurrency) of the next run, or None when the sweep is over."""
        if self._phase == "concurrency":
            if self.best is None:
                return 1, 1
            return 1, min(self.best.concurrency * 2, self.rules.max_concurrency)
        if self._phase == "processes":
            assert self.best is not None
            last = self.points[-1]
            return last.processes + 1, self.best.concurrency
        return None

    def add(self, point: Point) -> None:
        self.points.append(point)
        if self._phase == "concurrency":
            self._add_concurrency(point)
        else:
            self._add_process(point)

    def _add_concurrency(self, point: Point) -> None:
        prev, rules = self.best, self.rules
        if prev is None:
            self.best = point
            self.reason = "the only setting measured"
        elif _worse(point, prev, rules.min_gain):
            self.reason = _knee_reason(prev, point, rules.min_gain)
            self._to_processes()
            return
        else:
            self.best = point
        if point.concurrency >= rules.max_concurrency:
            self.reason = (
                f"ops/s still rose at the cap, concurrency {rules.max_concurrency} "
                "(raise --max-concurrency to look further)"
            )
            self._to_processes()

    def _to_processes(self) -> None:
        assert self.best is not None
        more = min(self.rules.max_processes, self.best.concurrency) > 1
        self._phase = "processes" if more else "done"

    def _add_process(self, point: Point) -> None:
        best = self.best
        assert best is not None
        if _worse(point, best, self.rules.min_gain):
            self._phase = "done"
            return
        self.best = point
        self.reason += (
            f"; {point.processes} processes: {_gain(point, best):+.0%} ops/s over {best.processes}"
        )
        cap = min(self.rules.max_processes, best.concurrency)
        if point.processes >= cap:
            self._phase = "done"


def _gain(point: Point, base: Point) -> float:
    return point.ops_s / base.ops_s - 1.0 if base.ops_s > 0 else float("inf")


def _worse(point: Point, base: Point, min_gain: float) -> bool:
    """Not worth it: less than ``min_gain`` more ops/s, or errors that ``base`` did not have."""
    return _gain(point, base) < min_gain or (point.errors > 0 and base.errors == 0)


def _knee_reason(prev: Point, point: Point, min_gain: float) -> str:
    if point.errors and not prev.errors:
        return f"concurrency {point.concurrency} had {point.errors:,} failed ops"
    p99 = f"p99 {prev.p99_ns / 1e6:.2f} -> {point.p99_ns / 1e6:.2f} ms"
    return (
        f"the knee: doubling to {point.concurrency} gave {_gain(point, prev):+.1%} ops/s "
        f"(under {min_gain:.0%}) while {p99}"
    )
