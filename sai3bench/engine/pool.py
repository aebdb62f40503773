"""The bounded worker pool shared by every stage: N workers pulling batches of tasks.

Each worker takes the next few tasks from a plain iterator (no queue hand-off), runs them through
the batch executor, and hands the results to ``record``. Batch size adapts so one batch is about
2 ms of storage work: large enough to amortise the thread hop, small enough to keep the live
counters fresh and the stop flag responsive. Async backends run one task per batch.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Executor
from typing import Final

from sai3bench.engine.batch import BatchResults, RetryPolicy, exec_batch_async, exec_batch_sync
from sai3bench.engine.ops import PlannedOp, Task

BATCH_TARGET_NS: Final = 2_000_000
BATCH_MAX: Final = 64

#: Called after each batch with the tasks, how many ran, and their results.
Recorder = Callable[[Sequence[Task], int, BatchResults], None]
#: Returns up to ``n`` tasks for one worker, or an empty list when there is nothing to run now.
TaskSource = Callable[[int], list[Task]]


def tasks_from(iterator: Iterator[Task]) -> TaskSource:
    """A TaskSource over a plain iterator (prepare, cleanup: a fixed list of tasks)."""
    return lambda n: list(itertools.islice(iterator, n))


class WorkerPool:
    """Runs tasks with ``workers`` in flight until the source is dry or ``stop()`` is called."""

    def __init__(
        self,
        ops: Sequence[PlannedOp],
        *,
        workers: int,
        executor: Executor | None,
        deadline_ns: int = 2**63 - 1,
        retry: RetryPolicy | None = None,
        batch_max: int = BATCH_MAX,
    ) -> None:
        self.ops = ops
        self.workers = workers
        #: A thread pool for blocking backends; None runs ops on the loop (async backends).
        self.executor = executor
        self.deadline_ns = deadline_ns
        self.retry = retry or RetryPolicy()
        self.batch_max = batch_max if executor is not None else 1
        self._stopped = False
        self.retries = 0
        self.batches = 0
        self.batched_tasks = 0

    def __repr__(self) -> str:
        mode = "threads" if self.executor is not None else "loop"
        avg = self.batched_tasks / self.batches if self.batches else 0.0
        return (
            f"<WorkerPool {self.workers} workers ({mode}) batches={self.batches} "
            f"avg_batch={avg:.1f} stopped={self._stopped}>"
        )

    def stop(self) -> None:
        self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def run(
        self,
        source: TaskSource,
        record: Recorder,
        *,
        on_idle: Callable[[], Awaitable[None]] | None = None,
        on_done: Callable[[Sequence[Task], int], None] | None = None,
        remaining: Callable[[], int] | None = None,
    ) -> None:
        """Run until the source is dry. ``on_idle`` is awaited when the source has nothing *now*
        (all ops at their caps); without it an empty batch ends the worker. ``on_done`` runs after
        each batch to release what the batch held. ``remaining`` caps batches so every worker
        gets a share of a short task list."""
        await asyncio.gather(
            *(
                self._worker(source, record, on_idle, on_done, remaining)
                for _ in range(self.workers)
            )
        )

    async def _worker(
        self,
        source: TaskSource,
        record: Recorder,
        on_idle: Callable[[], Awaitable[None]] | None,
        on_done: Callable[[Sequence[Task], int], None] | None,
        remaining: Callable[[], int] | None,
    ) -> None:
        out = BatchResults(self.batch_max)
        loop = asyncio.get_running_loop()
        per_op_ns = BATCH_TARGET_NS // 4  # first batches are small until we know the op cost
        while not self._stopped and time.perf_counter_ns() < self.deadline_ns:
            want = max(1, min(self.batch_max, BATCH_TARGET_NS // max(per_op_ns, 1)))
            if remaining is not None:
                want = max(1, min(want, remaining() // self.workers))
            tasks = source(want)
            if not tasks:
                if on_idle is None:
                    return
                await on_idle()
                continue
            if self.executor is not None:
                ran = await loop.run_in_executor(
                    self.executor,
                    exec_batch_sync,
                    self.ops,
                    tasks,
                    out,
                    self.deadline_ns,
                    self.retry,
                )
            else:
                ran = await exec_batch_async(self.ops, tasks, out, self.deadline_ns, self.retry)
            if ran:
                # The storage time measured in the thread, not the hop: GIL waits would
                # otherwise shrink batches exactly when hops are most expensive.
                per_op_ns = (per_op_ns + sum(out.latency_ns[:ran]) // ran) // 2
            self.batches += 1
            self.batched_tasks += ran
            record(tasks, ran, out)
            if on_done is not None:
                on_done(tasks, ran)
        self.retries += out.retries
