"""The bounded worker pool shared by every stage: N workers pulling batches of tasks.

Each worker takes the next few tasks from a shared source (a plain iterator for prepare and
cleanup, the op mix for the workload), runs them, and hands the results to ``record``.

Blocking backends (file://): each worker *is* a thread running this loop itself. The shared
source and recorder are called under one lock; the storage calls run outside it. An earlier shape
had the event loop pick and record each batch between thread hops: the threads then idled while
the loop worked and the loop competed for the GIL (GET, 100 KiB, page cache, 2 workers: 51k
ops/s that way, 58k now, 61-70k for bare Python threads doing only open/readv/close). Each
lock hold takes a batch of tasks, so the lock is taken twice per batch, not per op.

Async backends: one coroutine per worker on the loop, one task per batch.

Paced (``io_rate``, engine/pacer.py): a worker takes the next slot of the schedule with one
task; it sleeps until the slot's instant if early (in steps, so a stop is seen), starts at once
if late, and gives the task back unstarted when the slot falls after the deadline. An early slot
is taken alone, so no free worker ever waits behind a slot another worker holds; a loop worker
whose slot is already due also takes the next slots that are due (up to LOOP_BATCH) and runs
them back to back: behind schedule every worker is busy anyway, and the batch's bookkeeping is
then shared as in the closed loop (bench_http --instruments, 1 KiB GET on nginx: pacing
cost +6 to +9 us per op with batches of one, +3.1 us with this).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from typing import Final

from sai3bench.engine import interrupt
from sai3bench.engine.batch import BatchResults, exec_batch_async, exec_batch_sync
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.pacer import Pacer
from sai3bench.engine.transient import RetryPolicy
from sai3bench.engine.waker import TimerfdWaker, open_waker, tighten_timer_slack

log = logging.getLogger(__name__)

#: Tasks a thread takes per lock hold. Not sized by time: an op's wall time in a thread includes
#: its GIL waits, which grow with the thread count and shrank time-sized batches to one op at 32
#: threads (two lock round trips per op; measured 14k vs 30k+ GET/s). The stop flag and the
#: deadline are checked between ops, so a long batch never delays an abort or the deadline.
BATCH_MAX: Final = 32
#: Tasks a loop worker takes at a time: amortises the pick/record/release bookkeeping over a
#: few ops (each op still checks the deadline and is timed on its own).
LOOP_BATCH: Final = 4
#: Seconds workers have, once the pool is stopped (a signal, a failed prepare), to finish the op
#: in flight; then loop workers are cancelled and threads are no longer waited for, so an op
#: stuck on the network never holds up the stage.
STOP_GRACE: Final = 1.5
#: Marks a loop worker's result slots not yet filled by its batch: an outcome code never holds
#: it (codes are small; LATE is 0x80), so a cancelled batch's finished ops can be told apart.
_UNSET_CODE: Final = 0xFF
#: How often ``run`` looks whether the pool was stopped (a stop may come from a thread).
_JOIN_TICK: Final = 0.1
_TICK_NS: Final = int(_JOIN_TICK * 1e9)

#: Called after each batch with the tasks, how many ran, and their results.
Recorder = Callable[[Sequence[Task], int, BatchResults], None]
#: Returns up to ``n`` tasks for one worker, or an empty list when there is nothing to run now.
TaskSource = Callable[[int], list[Task]]
#: When the source has nothing now: seconds to wait before asking again, or None to finish.
IdlePolicy = Callable[[], float | None]


def tasks_from(iterator: Iterator[Task]) -> TaskSource:
    """A TaskSource over a plain iterator (prepare, cleanup: a fixed list of tasks)."""
    return lambda n: list(itertools.islice(iterator, n))


class WorkerPool:
    """Runs tasks with ``workers`` in flight until the source is dry or ``stop()`` is called.

    ``lock`` guards everything the source, recorder and hooks touch; code outside the pool that
    reads that state while the pool runs (a progress line) takes it too.
    """

    def __init__(
        self,
        ops: Sequence[PlannedOp],
        *,
        workers: int,
        executor: Executor | None,
        deadline_ns: int = 2**63 - 1,
        retry: RetryPolicy | None = None,
        batch_max: int = BATCH_MAX,
        pacer: Pacer | None = None,
    ) -> None:
        self.ops = ops
        self.workers = workers
        #: A thread pool (>= workers threads) for blocking backends; None runs ops on the loop.
        self.executor = executor
        self.deadline_ns = deadline_ns
        self.retry = retry or RetryPolicy()
        self.batch_max = batch_max if executor is not None else min(batch_max, LOOP_BATCH)
        #: io_rate: when each op starts (None: the closed loop, as fast as the workers go).
        self.pacer = pacer
        #: Loop workers' precise wake-ups for their slots (engine/waker.py), while paced.
        self._waker: TimerfdWaker | None = None
        #: Paced loop workers take this many slots at once when they are already due.
        self.due_batch = 1
        if pacer is not None:
            self.due_batch = 1 if executor is not None else self.batch_max
            self.batch_max = 1
        self.lock = threading.Lock()
        self._outs: list[BatchResults] = []
        self._wake = threading.Condition(self.lock)
        self._stopped = False
        self.retries = 0
        self.batches = 0
        self.batched_tasks = 0
        #: Workers still busy STOP_GRACE seconds after the stop, left behind.
        self.abandoned = 0

    def __repr__(self) -> str:
        mode = "threads" if self.executor is not None else "loop"
        avg = self.batched_tasks / self.batches if self.batches else 0.0
        return (
            f"<WorkerPool {self.workers} workers ({mode}) batches={self.batches} "
            f"avg_batch={avg:.1f} stopped={self._stopped}>"
        )

    def stop(self) -> None:
        self._stopped = True
        for out in self._outs:
            out.stop = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def run(
        self,
        source: TaskSource,
        record: Recorder,
        *,
        on_idle: IdlePolicy | None = None,
        on_done: Callable[[Sequence[Task], int], None] | None = None,
        remaining: Callable[[], int] | None = None,
    ) -> None:
        """Run until the source is dry, the deadline passes or ``stop()`` is called.

        ``on_idle`` says how long to wait when the source has nothing *now* (all ops at their
        caps); without it an empty batch ends the worker. ``on_done`` runs after each batch to
        release what it held. ``remaining`` caps batches so every worker gets a share of a short
        task list.
        """
        loop = asyncio.get_running_loop()
        if self.executor is not None:
            args = (source, record, on_idle, on_done, remaining)
            jobs = [
                loop.run_in_executor(self.executor, self._thread_worker, *args)
                for _ in range(self.workers)
            ]
        else:
            if self.pacer is not None:
                self._waker = open_waker(loop)
            jobs = [
                asyncio.ensure_future(self._loop_worker(source, record, on_idle, on_done))
                for _ in range(self.workers)
            ]
        try:
            with interrupt.watching(self):
                await self._join(jobs)
        finally:
            self.stop()  # a cancelled run stops its threads at their next batch
            if self._waker is not None:
                self._waker.close()
                self._waker = None

    async def _join(self, jobs: list[asyncio.Future[None]]) -> None:
        """Wait for every worker, as ``gather`` would (the first exception is raised), but
        only STOP_GRACE seconds once the pool is stopped: then the rest are abandoned."""
        pending: set[asyncio.Future[None]] = set(jobs)
        stopped_at: float | None = None
        while pending:
            done, pending = await asyncio.wait(
                pending, timeout=_JOIN_TICK, return_when=asyncio.FIRST_EXCEPTION
            )
            for job in done:
                job.result()
            if not self._stopped or not pending:
                continue
            now = time.monotonic()
            stopped_at = stopped_at or now
            if now - stopped_at >= STOP_GRACE:
                self._abandon(pending)
                return

    def _abandon(self, pending: set[asyncio.Future[None]]) -> None:
        """Cancel loop workers still in an op (their batch is not recorded); threads cannot be
        cancelled: they end after their op, unwaited for."""
        self.abandoned = len(pending)
        for job in pending:
            job.cancel()
        interrupt.abandoned(f"{len(pending)} workers still in an op {STOP_GRACE:g}s after the stop")
        log.info("%r: %d workers abandoned", self, len(pending))

    def _batch_size(self, remaining: Callable[[], int] | None) -> int:
        if remaining is None:
            return self.batch_max
        return max(1, min(self.batch_max, remaining() // self.workers))

    def _thread_worker(
        self,
        source: TaskSource,
        record: Recorder,
        on_idle: IdlePolicy | None,
        on_done: Callable[[Sequence[Task], int], None] | None,
        remaining: Callable[[], int] | None,
    ) -> None:
        out = BatchResults(self.batch_max)
        clock, pacer = time.perf_counter_ns, self.pacer
        if pacer is not None:
            tighten_timer_slack()
        with self.lock:
            self._outs.append(out)
            out.stop = self._stopped
        while not self._stopped and clock() < self.deadline_ns:
            with self.lock:
                tasks = source(self._batch_size(remaining))
                if not tasks:
                    wait = on_idle() if on_idle is not None else None
                    if wait is None:
                        break
                    self._wake.wait(min(wait, max(0.0, (self.deadline_ns - clock()) / 1e9)))
                    continue
                due = pacer.take(clock()) if pacer is not None else None
            if due is not None and not self._wait_sync(due, out):
                with self.lock:
                    if on_done is not None:
                        on_done(tasks, 0)
                break
            ran = exec_batch_sync(self.ops, tasks, out, self.deadline_ns, self.retry)
            with self.lock:
                record(tasks, ran, out)
                if on_done is not None:
                    on_done(tasks, ran)
                if pacer is not None:
                    pacer.started += ran
                self.batches += 1
                self.batched_tasks += ran
                self._wake.notify_all()
        with self.lock:
            self.retries += out.retries

    async def _loop_worker(
        self,
        source: TaskSource,
        record: Recorder,
        on_idle: IdlePolicy | None,
        on_done: Callable[[Sequence[Task], int], None] | None,
    ) -> None:
        size = max(self.batch_max, self.due_batch)
        out = BatchResults(size)
        unset = array("B", [_UNSET_CODE]) * size
        pacer = self.pacer
        while not self._stopped and time.perf_counter_ns() < self.deadline_ns:
            n = self.batch_max if pacer is None else self._take_slots(pacer, out)
            tasks = source(n)
            if pacer is not None and len(tasks) < n:
                pacer.give_back(out.intended_ns[len(tasks) : n])
            if not tasks:
                wait = on_idle() if on_idle is not None else None
                if wait is None:
                    break
                await asyncio.sleep(min(wait, 0.002))  # a cap frees up when an op ends
                continue
            if pacer is not None:  # a late slot starts at once, with no coroutine to await
                due = out.intended_ns[0]
                if due >= self.deadline_ns or not (
                    due <= time.perf_counter_ns() or await self._sleep_until(due)
                ):
                    if on_done is not None:
                        on_done(tasks, 0)
                    break
            out.outcome[:] = unset
            try:
                ran = await exec_batch_async(self.ops, tasks, out, self.deadline_ns, self.retry)
            except asyncio.CancelledError:
                # Abandoned after a stop: the ops this batch finished still count (a PUT that
                # prepare made must be known to cleanup); the one cut short does not.
                ran = _finished(out, len(tasks))
                record(tasks, ran, out)
                if on_done is not None:
                    on_done(tasks, ran)
                raise
            record(tasks, ran, out)
            if on_done is not None:
                on_done(tasks, ran)
            if pacer is not None:
                pacer.started += ran
                if ran < len(tasks):  # cut short (deadline, stop): its slots were never started
                    pacer.give_back(out.intended_ns[ran : len(tasks)])
            self.batches += 1
            self.batched_tasks += ran
        self.retries += out.retries

    def _take_slots(self, pacer: Pacer, out: BatchResults) -> int:
        """The next slot into ``out.intended_ns[0]``, plus, when it is already due, up to
        ``due_batch - 1`` more that are due too; returns how many slots were taken."""
        now = time.perf_counter_ns()
        due = out.intended_ns[0] = pacer.take(now)
        if due > now or self.due_batch == 1:
            return 1
        return 1 + pacer.take_due(now, self.due_batch - 1, out.intended_ns, 1)

    def _wait_sync(self, due: int, out: BatchResults) -> bool:
        """A thread sleeps until its slot at ``due``; False when the stage ends first."""
        out.intended_ns[0] = due
        if due >= self.deadline_ns:
            return False
        while (wait := due - time.perf_counter_ns()) > 0:
            if self._stopped:
                return False
            time.sleep(min(wait / 1e9, _JOIN_TICK))
        return not self._stopped

    async def _sleep_until(self, due: int) -> bool:
        """A loop worker sleeps until its slot at ``due``; False when the pool stops first.
        The last _JOIN_TICK is slept on the waker (the loop's own timers are 1 ms coarse);
        without one, a wake that comes early sleeps again: never before the slot."""
        while (wait := due - time.perf_counter_ns()) > 0:
            if self._stopped:
                return False
            if self._waker is not None and wait <= _TICK_NS:
                await self._waker.wait_until(due)
            else:
                await asyncio.sleep(min(wait / 1e9, _JOIN_TICK))
        return not self._stopped


def _finished(out: BatchResults, n: int) -> int:
    """How many of a cancelled batch's ``n`` ops stored a result (the rest still read UNSET)."""
    try:
        return out.outcome.index(_UNSET_CODE, 0, n)
    except ValueError:
        return n
