"""A stage over a fixed list of tasks: prepare, cleanup, verify and the util bulk commands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor

from sai3bench.engine import oplog
from sai3bench.engine.batch import BatchResults
from sai3bench.engine.context import Output
from sai3bench.engine.intervals import STAGE_TAP
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.pool import Recorder, WorkerPool, tasks_from
from sai3bench.engine.progress import Tick, tell
from sai3bench.engine.record import Tally, TaskHook, make_recorder
from sai3bench.metrics.collector import Collector

log = logging.getLogger(__name__)


class TaskListResult:
    """What running a task list gave: its collector, tally, and wall time in seconds."""

    def __init__(self, collector: Collector, tally: Tally, wall_s: float) -> None:
        self.collector = collector
        self.tally = tally
        self.wall_s = wall_s

    def __repr__(self) -> str:
        return f"<TaskListResult ops={self.collector.ops()} wall={self.wall_s:.3f}s {self.tally}>"


async def run_task_list(
    ops: Sequence[PlannedOp],
    tasks: Iterator[Task],
    total: int,
    *,
    workers: int,
    executor: Executor | None,
    on_task: TaskHook | None = None,
    stop_when: Callable[[int], bool] | None = None,
    out: Output | None = None,
    label: str = "",
) -> TaskListResult:
    """Run ``total`` tasks with ``workers`` in flight; stop at the first failure whose outcome
    code ``stop_when`` accepts (prepare: a permanent one), if given.

    With ``out``, a status line shows objects done every second (``label`` names them).
    """
    collector, tally = Collector(), Tally()
    left = [total]
    pool = WorkerPool(ops, workers=workers, executor=executor)

    def hook(task: Task, code: int) -> None:
        left[0] -= 1
        if on_task is not None:
            on_task(task, code)
        if code and stop_when is not None and stop_when(code):
            pool.stop()

    t0 = time.perf_counter()
    ticker = (
        asyncio.create_task(report_progress(out, label, total, lambda: total - left[0]))
        if out and total
        else None
    )
    try:
        if total:
            await pool.run(
                tasks_from(tasks),
                _tapped(oplog.chained(make_recorder(collector, ops, tally, hook), ops), ops),
                remaining=lambda: left[0],
            )
    finally:
        if ticker is not None:
            ticker.cancel()
            assert out is not None
            out.progress("")
    result = TaskListResult(collector, tally, time.perf_counter() - t0)
    log.info("%s: %r %r", label or "tasks", pool, result)
    return result


def _tapped(record: Recorder, ops: Sequence[PlannedOp]) -> Recorder:
    """``record``, after the stage's interval tap (engine/intervals.py) when one is set: a
    prepare or cleanup share's perf-log intervals, under the tap's own lock."""
    tap = STAGE_TAP.get()
    if tap is None:
        return record
    tap_record = make_recorder(tap, ops, Tally(), keep_retry_log=True)

    def both(tasks: Sequence[Task], ran: int, out: BatchResults) -> None:
        with tap.lock:
            tap_record(tasks, ran, out)
        record(tasks, ran, out)  # clears the batch's retry log

    return both


async def report_progress(
    out: Output, label: str, total: int, done_so_far: Callable[[], int]
) -> None:
    """Until cancelled, once a second: ``label``'s objects done of ``total``, and the rate."""
    t0 = time.perf_counter()
    while True:
        await asyncio.sleep(1.0)
        done = done_so_far()
        elapsed = time.perf_counter() - t0
        tell(out, Tick(label=label, elapsed_s=elapsed, done=done, rate=done / elapsed, total=total))
