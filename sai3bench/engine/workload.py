"""The timed workload: a closed loop of workers running the weighted op mix until the deadline.

Accounting rule (upstream bug 9 fixed): rates use the configured window exactly. An op that
finishes after the deadline is not counted in ops, bytes or latency; it is tallied as late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from sai3bench.config.schema import Config, ErrorHandling
from sai3bench.engine.batch import LATE
from sai3bench.engine.context import RunContext
from sai3bench.engine.mix import OpMix
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.pool import WorkerPool
from sai3bench.engine.record import Tally, make_recorder
from sai3bench.engine.transient import RetryPolicy
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.outcome import Outcome

log = logging.getLogger(__name__)


class WorkloadResult:
    def __init__(self, collector: Collector, wall_s: float, workers: int) -> None:
        self.collector = collector
        self.wall_s = wall_s
        self.workers = workers
        #: Per-endpoint counts for this stage when multi_endpoint routes ops, else None.
        self.endpoint_stats: list[EndpointStat] | None = None
        self.late = 0
        self.retries = 0
        self.aborted: str | None = None
        self.exhausted: list[str] = []
        self.deleted_keys: set[str] = set()
        #: (key, detail) of the first failed op, for the one-line summary of a failed run.
        self.first_error: tuple[str, str] | None = None
        #: (op label, key, detail, outcome) when an op kept failing before it ever succeeded:
        #: a set-up problem (refused credentials, dead endpoint, missing bucket), not a result.
        self.refused: tuple[str, str, str, Outcome] | None = None


#: Failures of an op that never succeeded, by outcome, that end the run as a set-up error.
_SETUP_FAILURES: dict[int, int] = {
    Outcome.PERMISSION: 1,
    Outcome.CONNECTION: 3,
    Outcome.TIMEOUT: 3,
    Outcome.NOT_FOUND: 3,
    Outcome.CLIENT_ERROR: 3,
    Outcome.PROTOCOL: 3,
}


def retry_policy(eh: ErrorHandling) -> RetryPolicy:
    if not eh.retry_on_error:
        return RetryPolicy()
    return RetryPolicy(
        max_retries=eh.max_retries,
        first_s=eh.initial_retry_delay_ms / 1000,
        max_s=eh.max_retry_delay_ms / 1000,
        multiplier=eh.retry_backoff_multiplier,
        jitter=eh.retry_jitter_factor,
    )


class _ErrorGuard:
    """error_handling: abort at max_total_errors; back off when the error rate is too high."""

    def __init__(self, eh: ErrorHandling) -> None:
        self.eh = eh
        self.total = 0
        self.window_start = time.monotonic()
        self.window_errors = 0
        self.backoff_until = 0.0

    def on_error(self) -> bool:
        """Count one error; True if the run must abort."""
        self.total += 1
        now = time.monotonic()
        if now - self.window_start >= self.eh.error_rate_window:
            self.window_start, self.window_errors = now, 0
        self.window_errors += 1
        if self.window_errors / self.eh.error_rate_window >= self.eh.error_rate_threshold:
            self.backoff_until = now + self.eh.backoff_duration
            self.window_errors = 0
        return self.total >= self.eh.max_total_errors


async def _report_progress(
    ctx: RunContext, pool: WorkerPool, collector: Collector, start_ns: int, duration: float
) -> None:
    """Once a second: ops/s and MiB/s over the last second, and errors so far."""
    last_ops, last_bytes, last_t = 0, 0, time.perf_counter_ns()
    while True:
        await asyncio.sleep(1.0)
        now = time.perf_counter_ns()
        with pool.lock:  # worker threads record under it
            ops, nbytes, errors = collector.ops(), collector.nbytes(), collector.error_count()
        dt = max(now - last_t, 1) / 1e9
        ctx.out.progress(
            f"[{(now - start_ns) / 1e9:5.0f}s/{duration:g}s] {(ops - last_ops) / dt:,.0f} ops/s "
            f"{(nbytes - last_bytes) / dt / 1048576:,.1f} MiB/s  errors {errors:,}"
        )
        last_ops, last_bytes, last_t = ops, nbytes, now


async def run_workload(ctx: RunContext, config: Config, planned: list[PlannedOp]) -> WorkloadResult:
    caps = [op.concurrency or config.concurrency for op in config.workload]
    workers = max(config.concurrency, *caps)
    mix = OpMix([op.weight for op in config.workload], caps, seed=ctx.rng.getrandbits(32))
    collector, tally = Collector(), Tally()
    guard = _ErrorGuard(config.error_handling)
    start_ns = time.perf_counter_ns()
    deadline_ns = start_ns + int(config.duration * 1e9)
    result = WorkloadResult(collector, 0.0, workers)
    rng = ctx.rng
    pool = WorkerPool(
        planned,
        workers=workers,
        executor=ctx.executor_for([p.backend for p in planned], workers),
        deadline_ns=deadline_ns,
        retry=retry_policy(config.error_handling),
    )

    #: Tasks picked but not yet finished, per op: a DELETE pool that is empty *now* may get
    #: keys back from a batch that stopped early, so it is retired only when none are out.
    outstanding = [0] * len(planned)

    def source(n: int) -> list[Task]:
        if time.monotonic() < guard.backoff_until:
            return []
        held: list[int] = []
        tasks: list[Task] = []
        for _ in range(n):
            oi = mix.next_op(held)
            if oi is None:
                break
            task = planned[oi].pick(rng)
            if task is None:  # delete pool empty
                if outstanding[oi] == 0:
                    mix.retire(oi)
                    result.exhausted.append(planned[oi].label)
                    continue
                break  # keys may come back; ask again when a batch ends
            if oi not in held:
                mix.acquire(oi)
                held.append(oi)
            outstanding[oi] += 1
            tasks.append(task)
        return tasks

    def on_done(tasks: Sequence[Task], ran: int) -> None:
        for oi in {t[0] for t in tasks}:
            mix.release(oi)
        for t in tasks:
            outstanding[t[0]] -= 1
        for t in tasks[ran:]:
            planned[t[0]].unpick(t)

    def on_idle() -> float | None:
        """All live ops at their caps (wait for one to finish), backing off, or nothing left."""
        if not mix.any_live:
            return None
        return max(guard.backoff_until - time.monotonic(), 0.001)

    ever_ok = [False] * len(planned)
    failed_before_ok = [0] * len(planned)

    def on_task(task: Task, code: int) -> None:
        late, code = code & LATE, code & ~LATE
        oi = task[0]
        if code == 0:
            ever_ok[oi] = True
            if planned[oi].kind == OpKind.DELETE:
                result.deleted_keys.add(task[1])
            return
        if not ever_ok[oi] and code in _SETUP_FAILURES and result.refused is None:
            # An op that has never worked and fails this way is mis-aimed (refused credentials,
            # dead endpoint, missing bucket): stop with one line, before the error-rate backoff
            # (5 errors/s) stalls the run. 503/5xx and throttling stay results.
            failed_before_ok[oi] += 1
            if failed_before_ok[oi] >= _SETUP_FAILURES[code]:
                result.refused = (planned[oi].label, task[1], "", Outcome(code))
                pool.stop()
                return
        if not late and guard.on_error() and result.aborted is None:
            result.aborted = (
                f"{guard.total:,} errors reached error_handling.max_total_errors "
                f"({config.error_handling.max_total_errors:,})"
            )
            pool.stop()

    record = make_recorder(collector, planned, tally, on_task)
    ticker = asyncio.create_task(_report_progress(ctx, pool, collector, start_ns, config.duration))
    try:
        await pool.run(source, record, on_idle=on_idle, on_done=on_done)
    finally:
        ticker.cancel()
        ctx.out.progress("")
    log.info("workload done: %r %r late=%d", pool, mix, tally.late)
    if result.refused is not None and tally.first_error is not None:
        label, key, _, outcome = result.refused
        result.refused = (label, key, tally.first_error[1], outcome)
    result.first_error = tally.first_error
    end_ns = min(time.perf_counter_ns(), deadline_ns)
    result.wall_s = (end_ns - start_ns) / 1e9
    result.late = tally.late
    result.retries = pool.retries
    return result
