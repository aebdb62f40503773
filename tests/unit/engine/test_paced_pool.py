"""A paced WorkerPool (engine/pool.py with a Pacer): batches of one, never started before the
slot, a slot after the deadline handed back unstarted, and late slots started at once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sai3bench.engine.batch import BatchResults
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.pacer import Pacer, schedule
from sai3bench.engine.pool import LOOP_BATCH, WorkerPool
from sai3bench.metrics.collector import OpKind
from tests.conftest import LoopRunner


class InstantBackend:
    async def get(self, key: str) -> tuple[int, int]:
        return 1, 0


def run_paced(
    run_loop: LoopRunner, rate: float, seconds: float, phase_s: float = 0.0
) -> dict[str, Any]:
    op = PlannedOp(index=0, kind=OpKind.GET, backend=InstantBackend(), label="g", keys=["k"])  # type: ignore[arg-type]
    got: dict[str, Any] = {"starts": [], "intended": [], "batches": [], "given_back": 0}

    def record(tasks: Sequence[Task], ran: int, out: BatchResults) -> None:
        got["batches"].append(len(tasks))
        got["starts"].extend(out.start_ns[:ran])
        got["intended"].extend(out.intended_ns[:ran])

    def on_done(tasks: Sequence[Task], ran: int) -> None:
        got["given_back"] += len(tasks) - ran

    async def body() -> None:
        start = time.perf_counter_ns()
        deadline = start + int(seconds * 1e9)
        pacer = Pacer(schedule(rate, "deterministic", 0, phase_s), rate, start, deadline)
        pool = WorkerPool([op], workers=4, executor=None, deadline_ns=deadline, pacer=pacer)
        await pool.run(lambda n: [(0, "k", 0, 0)] * n, record, on_done=on_done)
        got["pacer"] = pacer

    run_loop(body())
    return got


def test_batches_of_one_never_early_and_the_last_slot_given_back(run_loop: LoopRunner) -> None:
    got = run_paced(run_loop, rate=50.0, seconds=0.5, phase_s=0.001)
    assert set(got["batches"]) == {1}
    assert len(got["starts"]) == 25  # slots at 1, 21, ... 481 ms
    assert all(s >= i for s, i in zip(got["starts"], got["intended"], strict=True))
    assert got["given_back"] >= 1  # a worker took the 501 ms slot and handed it back
    assert got["pacer"].started == 25


def test_a_pool_far_behind_starts_late_slots_at_once(run_loop: LoopRunner) -> None:
    """1,000,000/s offered for 0.2 s: every slot is late, none is slept for; the backlog is
    counted, and the pacer says how many started."""
    got = run_paced(run_loop, rate=1_000_000.0, seconds=0.2)
    pacer = got["pacer"]
    assert pacer.started == len(got["starts"]) > 100
    assert pacer.max_backlog > 10_000
    assert pacer.close(pacer.deadline_ns) > 10_000


def test_slots_already_due_run_together_early_ones_alone(run_loop: LoopRunner) -> None:
    """Far behind: a loop worker takes up to LOOP_BATCH due slots at once (the batch's
    bookkeeping shared, as in the closed loop), each op still timed from its own slot; at a
    slow rate every slot is early and taken alone."""
    behind = run_paced(run_loop, rate=1_000_000.0, seconds=0.2)
    assert max(behind["batches"]) == LOOP_BATCH
    assert all(s >= i for s, i in zip(behind["starts"], behind["intended"], strict=True))
    slow = run_paced(run_loop, rate=50.0, seconds=0.3, phase_s=0.001)
    assert set(slow["batches"]) == {1}


def test_due_slots_not_used_go_back_in_order() -> None:
    """Slots taken for tasks the op mix did not have are next in line again, in order."""
    pacer = Pacer(schedule(1000.0, "deterministic", 0), 1000.0, 0, 10**12)
    into = [0] * 4
    into[0] = pacer.take(10**9)
    assert pacer.take_due(10**9, 3, into, 1) == 3
    assert into == [0, 1_000_000, 2_000_000, 3_000_000]
    pacer.give_back(into[2:])
    assert [pacer.take(10**9) for _ in range(3)] == [2_000_000, 3_000_000, 4_000_000]
    assert pacer.take_due(0, 3, into, 1) == 0  # nothing is due at the origin but the first
