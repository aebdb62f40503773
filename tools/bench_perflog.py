"""What the perf-log's intervals cost per op: the recorder's hot path and the per-interval work.

    python tools/bench_perflog.py [--rate 20000]

1. Hot path: ``make_recorder`` over a plain Collector (as before intervals) against the same
   recorder over an ``Intervals`` (one extra attribute read per batch), for a batch of 4 ops
   (the event loop's) and of 32 (a thread's). Min of 15 repeats, process CPU time.
2. Per interval: closing an interval (swap + merge into the summary), the progress tick, the
   perf-log row, and for a child process the collector's encoding and the coordinator's decode
   and merge; divided by the ops of one 1 s interval at ``--rate`` ops/s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from sai3bench.engine.batch import BatchResults
from sai3bench.engine.intervals import IntervalMerger, IntervalPart, MergedInterval
from sai3bench.engine.record import Tally, make_recorder
from sai3bench.engine.workload import class_ticks
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.intervals import Intervals
from sai3bench.report.perf_log import format_row

S = 1_000_000_000


class _Op:
    def __init__(self, kind: OpKind) -> None:
        self.kind = kind


def _batch(n: int) -> tuple[list[tuple[int, str, int, int]], BatchResults]:
    out = BatchResults(n)
    for j in range(n):
        out.latency_ns[j] = 150_000 + 997 * j
        out.nbytes[j] = 4096
        out.ttfb_ns[j] = 90_000
    return [(0, f"k{j}", 4096, 0) for j in range(n)], out


def _per_op(fn: Callable[[], None], ops: int, loops: int = 20_000, repeats: int = 15) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(loops):
            fn()
        best = min(best, time.process_time() - t0)
    return best / (loops * ops) * 1e9


def hot_path() -> None:
    ops: Any = [_Op(OpKind.GET)]
    for n in (4, 32):
        tasks, out = _batch(n)
        plain = make_recorder(Collector(), ops, Tally())
        iv = make_recorder(Intervals(0, 1.0), ops, Tally())
        a = _per_op(lambda: plain(tasks, n, out), n)  # noqa: B023 - called in this loop
        b = _per_op(lambda: iv(tasks, n, out), n)  # noqa: B023
        print(
            f"batch {n:2}: plain Collector {a:6.1f} ns/op, Intervals {b:6.1f} ns/op, "
            f"difference {b - a:+5.1f} ns/op"
        )


def _full_interval(ops: int) -> Collector:
    c = Collector()
    for i in range(ops):
        kind = (OpKind.GET, OpKind.GET, OpKind.PUT, OpKind.STAT, OpKind.DELETE)[i % 5]
        c.record(kind, 4096 << (i % 7), 100_000 + (i * 7919) % 5_000_000)
    return c


def _timed(fn: Callable[[], object], repeats: int = 9) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def per_interval(rate: int) -> None:
    filled = _full_interval(rate)
    kinds = [int(k) for k in OpKind]

    def close() -> None:
        iv = Intervals(0, 1.0)
        iv.current = filled
        iv.roll(S)

    blob = filled.encode()
    part = IntervalPart(
        stage="workload", share=0, index=0, start_s=0, end_s=1, warmup=False, wall_ms=0
    )
    merged = MergedInterval(
        stage="workload",
        index=0,
        start_s=0,
        end_s=1,
        warmup=False,
        wall_ms=0,
        cpu=(0, 0, 0),
        collector=filled,
    )

    def merge() -> None:
        m = IntervalMerger(lambda _: None)
        m.begin("workload", 1)
        m.interval(part, Collector.decode(blob))

    costs = {
        "close + summary merge": _timed(close),
        "progress tick (per kind)": _timed(lambda: class_ticks(filled, kinds, 1.0)),
        "perf-log row": _timed(lambda: format_row(merged)),
        "encode (child)": _timed(filled.encode),
        "decode + merge (coordinator)": _timed(merge),
    }
    total = sum(costs.values())
    for name, s in costs.items():
        print(f"  {name:30} {s * 1e3:7.2f} ms/interval = {s / rate * 1e9:6.1f} ns/op")
    print(f"  {'all, per 1 s interval':30} {total * 1e3:7.2f} ms = {total / rate * 1e9:6.1f} ns/op")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=20_000, help="ops per 1 s interval")
    args = ap.parse_args()
    print("Hot path (recorder, per op):")
    hot_path()
    print(f"Per interval at {args.rate:,} ops/s (1 s interval):")
    per_interval(args.rate)


if __name__ == "__main__":
    main()
