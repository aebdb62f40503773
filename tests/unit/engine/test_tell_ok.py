"""The workload recorder skips on_task for successes that have nothing to tell it, and only
those: failures, DELETEs, feeding PUTs and an op's first success always reach it."""

from __future__ import annotations

import random
from typing import Any

from sai3bench.config.schema import ErrorHandling
from sai3bench.engine.batch import LATE, BatchResults
from sai3bench.engine.mix import OpMix
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.record import Tally, make_recorder
from sai3bench.engine.workload import WorkloadResult, WorkloadState, error_guard
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import Outcome

B: Any = object()


def _batch(codes: list[int]) -> BatchResults:
    out = BatchResults(len(codes))
    for j, code in enumerate(codes):
        out.outcome[j] = code
        out.latency_ns[j] = 1000
    return out


def test_recorder_skips_only_successes_tell_ok_marks_quiet() -> None:
    ops = [PlannedOp(index=i, kind=OpKind.GET, backend=B, label=str(i)) for i in range(2)]
    seen: list[tuple[Task, int]] = []
    tell_ok = [False, True]
    record = make_recorder(
        Collector(), ops, Tally(), lambda t, c: seen.append((t, c)), tell_ok=tell_ok
    )
    tasks: list[Task] = [(0, "a", 0, 0), (1, "b", 0, 0), (0, "c", 0, 0), (0, "d", 0, 0)]
    record(tasks, 4, _batch([0, 0, int(Outcome.NOT_FOUND), LATE]))
    assert seen == [(tasks[1], 0), (tasks[2], Outcome.NOT_FOUND), (tasks[3], LATE)]


def test_on_task_quiets_a_plain_op_after_its_first_success_only() -> None:
    class Feeder:
        def __init__(self) -> None:
            self.keys: list[str] = []

        def add(self, key: str) -> None:
            self.keys.append(key)

    get = PlannedOp(index=0, kind=OpKind.GET, backend=B, label="get", keys=["k"])
    delete = PlannedOp(index=1, kind=OpKind.DELETE, backend=B, label="del", keys=["x", "y"])
    put = PlannedOp(index=2, kind=OpKind.PUT, backend=B, label="put")
    feeder = Feeder()
    put.feeder = feeder  # type: ignore[assignment]
    state = WorkloadState(
        [get, delete, put],
        OpMix([1, 1, 1], [4, 4, 4], seed=1),
        random.Random(1),
        error_guard(ErrorHandling(), 0.0),
        WorkloadResult(Collector(), 0.0, 1),
        stop=lambda: None,
        say=lambda line: None,
    )
    state.on_task((0, "k", 0, 0), int(Outcome.NOT_FOUND))
    assert state.tell_ok == [True, True, True]  # a failure: the first success is still owed
    for task in [(0, "k", 0, 0), (1, "x", 0, 0), (2, "p", 0, 0)]:
        state.on_task(task, 0)
    assert state.tell_ok == [False, True, True]
    assert state.result.deleted_keys == {"x"} and feeder.keys == ["p"]
    assert state.ever_ok == [True, True, True]
