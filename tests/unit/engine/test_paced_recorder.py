"""engine.paced.paced_recorder: each successful paced op's response time is its service time
plus how late it started (never less than the service time), filed under the op's kind."""

from __future__ import annotations

from collections.abc import Sequence

from sai3bench.engine.batch import BatchResults
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.paced import paced_recorder
from sai3bench.metrics.collector import Collector, OpKind


def test_response_is_service_plus_lateness_and_failures_are_skipped() -> None:
    ops = [
        PlannedOp(index=0, kind=OpKind.GET, backend=None, label="get"),  # type: ignore[arg-type]
        PlannedOp(index=1, kind=OpKind.STAT, backend=None, label="stat"),  # type: ignore[arg-type]
    ]
    out = BatchResults(4)
    # (task op index, intended, start, latency, outcome)
    rows = [
        (0, 1_000_000, 1_300_000, 50_000, 0),  # 300 us late: 350 us
        (0, 2_000_000, 1_990_000, 70_000, 0),  # early (never, but clamped): 70 us
        (1, 3_000_000, 3_000_000, 40_000, 0),  # on time: 40 us, under STAT
        (0, 4_000_000, 9_000_000, 10_000, 3),  # failed: no response time
    ]
    tasks: list[Task] = []
    for j, (op, due, t0, lat, oc) in enumerate(rows):
        tasks.append((op, "", 0, 0))
        out.intended_ns[j], out.start_ns[j], out.latency_ns[j], out.outcome[j] = due, t0, lat, oc
    inner_calls: list[int] = []

    def inner(t: Sequence[Task], ran: int, o: BatchResults) -> None:
        inner_calls.append(ran)

    collector = Collector()
    paced_recorder(inner, ops, lambda: collector)(tasks, 4, out)
    assert inner_calls == [4]
    get, stat = collector.response(OpKind.GET), collector.response(OpKind.STAT)
    assert get is not None and stat is not None
    assert (get.count, get.min_ns, get.max_ns, get.total_ns) == (2, 70_000, 350_000, 420_000)
    assert (stat.count, stat.total_ns) == (1, 40_000)
