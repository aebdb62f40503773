"""autotune's sweep (pure): concurrency doubles to the knee, then processes while they pay."""

from __future__ import annotations

from sai3bench.engine.sweep import Point, Sweep, SweepRules
from sai3bench.report.autotune import chosen_line, table_header, table_row


def _capacity(k: int, latency_ms: float = 20.0, client_limit: float = 1e9) -> dict[int, float]:
    """ops/s of a target serving k at once (Little's law), per concurrency."""
    return {c: min(min(c, k) / (latency_ms / 1000), client_limit) for c in (1, 2, 4, 8, 16, 32)}


def _run(sweep: Sweep, ops: dict[tuple[int, int], float]) -> list[tuple[int, int]]:
    steps = []
    while (step := sweep.next()) is not None:
        steps.append(step)
        p, c = step
        rate = ops[step]
        p99 = int(c / rate * 1e9)  # in flight / throughput: the wait grows past the knee
        sweep.add(Point(p, c, rate, rate / 256, p99 // 2, p99, 0))
    return steps


def test_knee_at_the_capacity_then_no_process_gain() -> None:
    by_c = _capacity(8)
    ops = {(1, c): r for c, r in by_c.items()} | {(2, 8): by_c[8] * 1.01}
    sweep = Sweep(SweepRules(max_concurrency=256, max_processes=4))
    steps = _run(sweep, ops)
    assert steps == [(1, 1), (1, 2), (1, 4), (1, 8), (1, 16), (2, 8)]
    assert sweep.best is not None and (sweep.best.processes, sweep.best.concurrency) == (1, 8)
    assert sweep.reason.startswith("the knee: doubling to 16 gave +0.0% ops/s (under 5%)")


def test_processes_kept_while_they_pay() -> None:
    by_c = _capacity(4)
    ops = {(1, c): r for c, r in by_c.items()} | {(2, 4): 300.0, (3, 4): 330.0, (4, 4): 335.0}
    sweep = Sweep(SweepRules(max_concurrency=64, max_processes=8))
    _run(sweep, ops)
    assert sweep.best is not None and (sweep.best.processes, sweep.best.concurrency) == (3, 4)
    assert "; 2 processes: +50% ops/s over 1; 3 processes: +10% ops/s over 2" in sweep.reason


def test_cap_reached_and_errors_stop() -> None:
    sweep = Sweep(SweepRules(max_concurrency=4))
    _run(sweep, {(1, c): 100.0 * c for c in (1, 2, 4)})
    assert sweep.best is not None and sweep.best.concurrency == 4
    assert "still rose at the cap, concurrency 4" in sweep.reason
    failing = Sweep(SweepRules())
    failing.add(Point(1, 1, 50, 0, 1, 2, 0))
    failing.add(Point(1, 2, 100, 0, 1, 2, 7))
    assert failing.next() is None and failing.best is not None
    assert failing.best.concurrency == 1 and "had 7 failed ops" in failing.reason


def test_table_lines() -> None:
    p = Point(1, 8, 380.0, 1.48, 20_880_000, 23_270_000, 0)
    assert table_header().split() == [
        "processes",
        "concurrency",
        "ops/s",
        "MiB/s",
        "p50",
        "p99",
        "errors",
    ]
    assert table_row(p, chosen=True).split() == [
        "*",
        "1",
        "8",
        "380.0",
        "1.48",
        "20.88ms",
        "23.27ms",
        "0",
    ]
    assert chosen_line(p, "why") == (
        "Chosen: processes 1, concurrency 8 (380.0 ops/s, p99 23.27ms): why"
    )
