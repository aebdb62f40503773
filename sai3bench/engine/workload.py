"""The timed workload: a closed loop of workers running the weighted op mix until the deadline.

Accounting rule (upstream bug 9 fixed): rates use the configured window exactly. An op that
finishes after the deadline is not counted in ops, bytes or latency; it is tallied as late.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence

from sai3bench.config.schema import Config, ErrorHandling
from sai3bench.engine import oplog
from sai3bench.engine.batch import LATE
from sai3bench.engine.context import Output, RunContext
from sai3bench.engine.error_guard import Backoff, ErrorGuard
from sai3bench.engine.intervals import Timeline
from sai3bench.engine.mix import OpMix
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.paced import make_pacer, pace_result, paced_recorder
from sai3bench.engine.pool import WorkerPool
from sai3bench.engine.progress import ClassTick, Tick, tell
from sai3bench.engine.record import Tally, make_recorder
from sai3bench.engine.transient import RetryPolicy
from sai3bench.engine.vitals import Verdict, Vitals, VitalsSampler
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.metrics.intervals import ClosedInterval, Intervals
from sai3bench.metrics.pace_stat import PaceResult
from sai3bench.metrics.share_stat import ShareStat
from sai3bench.outcome import Outcome
from sai3bench.plan.share import SharePace

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
        #: Each engine process's figures, when more than one ran the stage.
        self.shares: list[ShareStat] = []
        #: io_rate: offered vs achieved and the backlog (None: the closed loop).
        self.pacing: PaceResult | None = None
        #: The engine's CPU, loop lag and thread saturation (engine/vitals.py): client or
        #: storage? ``verdict`` is the coordinator's judgement of them.
        self.vitals: Vitals | None = None
        self.verdict: Verdict | None = None


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


def error_guard(eh: ErrorHandling, now: float) -> ErrorGuard:
    """The guard for ``eh``: each rule absolute when the config set it, else relative."""
    return ErrorGuard(
        window_s=eh.error_rate_window,
        pause_s=eh.backoff_duration,
        rate_per_s=eh.error_rate_threshold,
        max_errors=eh.max_total_errors,
        now=now,
    )


class WorkloadState:
    """What the workers share while the workload runs, and the pool's four hooks over it.

    ``source`` picks the next tasks (nothing while the error guard pauses the run); ``on_done``
    gives back what a batch held; ``on_idle`` says how long to wait when nothing can start;
    ``on_task`` sees each op's outcome (deleted keys, set-up failures, the error guard). All
    run on the loop, or under the pool's lock for thread workers.
    """

    def __init__(
        self,
        planned: Sequence[PlannedOp],
        mix: OpMix,
        rng: random.Random,
        guard: ErrorGuard,
        result: WorkloadResult,
        *,
        stop: Callable[[], None],
        say: Callable[[str], object],
    ) -> None:
        self.planned = planned
        self.mix = mix
        self.rng = rng
        self.guard = guard
        self.result = result
        self.stop = stop
        #: Prints a line from any thread (the backoff notices).
        self.say = say
        #: Tasks picked but not yet finished, per op: a DELETE pool that is empty *now* may get
        #: keys back from a batch that stopped early, so it is retired only when none are out.
        self.outstanding = [0] * len(planned)
        self.is_delete = [op.kind == OpKind.DELETE for op in planned]
        #: dynamic_put_pool: per op, where a successful PUT's key goes (None: nowhere).
        self.feeders = [op.feeder for op in planned]
        self.ever_ok = [False] * len(planned)
        self.failed_before_ok = [0] * len(planned)
        #: Per op: whether ``on_task`` must see its next success (the recorder skips the call
        #: otherwise): always for a DELETE or a PUT that feeds a pool, else until one worked.
        self.tell_ok = [True] * len(planned)

    def __repr__(self) -> str:
        return f"<WorkloadState out={self.outstanding} {self.guard!r}>"

    def source(self, n: int) -> list[Task]:
        """Up to ``n`` tasks from the op mix; fewer when ops are at their caps or pools empty."""
        if self.guard.backoff_until and time.monotonic() < self.guard.backoff_until:
            return []
        mix, planned, rng, outstanding = self.mix, self.planned, self.rng, self.outstanding
        held: list[int] = []
        tasks: list[Task] = []
        for _ in range(n):
            oi = mix.next_op(held)
            if oi is None:
                break
            task = planned[oi].pick(rng)
            if task is None:  # delete pool empty, or a read pool PUTs feed not fed yet
                if not self.is_delete[oi]:
                    continue
                if outstanding[oi] == 0:
                    mix.retire(oi)
                    self.result.exhausted.append(planned[oi].label)
                    continue
                break  # keys may come back; ask again when a batch ends
            if oi not in held:
                mix.acquire(oi)
                held.append(oi)
            outstanding[oi] += 1
            tasks.append(task)
        return tasks

    def on_done(self, tasks: Sequence[Task], ran: int) -> None:
        """A batch ended: release its caps, give back the keys of tasks it never started."""
        mix, outstanding = self.mix, self.outstanding
        for oi in {t[0] for t in tasks}:
            mix.release(oi)
        for t in tasks:
            outstanding[t[0]] -= 1
        for t in tasks[ran:]:
            self.planned[t[0]].unpick(t)
        self._maybe_pause(self.guard.note_ops(ran, time.monotonic()))

    def on_idle(self) -> float | None:
        """All live ops at their caps (wait for one to finish), backing off, or nothing left."""
        if not self.mix.any_live:
            return None
        return max(self.guard.backoff_until - time.monotonic(), 0.001)

    def on_task(self, task: Task, code: int) -> None:
        """One op's outcome code (LATE-flagged when it ended after the deadline)."""
        if code & ~LATE:
            self._on_failure(task, code)
            return
        oi = task[0]
        self.ever_ok[oi] = True
        if self.is_delete[oi]:  # late or not, the object is gone
            self.result.deleted_keys.add(task[1])
        elif (feeder := self.feeders[oi]) is not None:  # late or not, the object is there
            feeder.add(task[1])
        else:
            self.tell_ok[oi] = False  # its successes have nothing more to tell

    def _on_failure(self, task: Task, code: int) -> None:
        late, code = code & LATE, code & ~LATE
        oi = task[0]
        if not self.ever_ok[oi] and code in _SETUP_FAILURES and self.result.refused is None:
            # An op that has never worked and fails this way is mis-aimed (refused credentials,
            # dead endpoint, missing bucket): stop with one line, before the error guard pauses
            # the run. 503/5xx and throttling stay results.
            self.failed_before_ok[oi] += 1
            if self.failed_before_ok[oi] >= _SETUP_FAILURES[code]:
                self.result.refused = (self.planned[oi].label, task[1], "", Outcome(code))
                self.stop()
                return
        if late:
            return
        self._maybe_pause(self.guard.note_error(time.monotonic()))
        reason = self.guard.abort_reason()
        if reason is not None and self.result.aborted is None:
            self.result.aborted = reason
            self.stop()

    def _maybe_pause(self, backoff: Backoff | None) -> None:
        if backoff is not None:
            self.say(backoff.line())


class _Progress:
    """The workload's live line from each closed interval: rates and per-kind figures over it,
    ops and errors so far (warmup included: it ran). A warmup interval's line says ``warmup``:
    its figures are not the results'."""

    def __init__(self, out: Output, kinds: Sequence[int], duration: float) -> None:
        self.out = out
        self.kinds = sorted(set(kinds))
        self.duration = duration
        self.done = 0
        self.errors = 0

    def __repr__(self) -> str:
        return f"<_Progress done={self.done} errors={self.errors}>"

    def __call__(self, closed: ClosedInterval) -> None:
        c = closed.collector
        dt = max(closed.end_ns - closed.start_ns, 1) / 1e9
        ops = c.ops()
        self.done += ops
        self.errors += c.error_count()
        tick = Tick(
            label="warmup" if closed.warmup else "workload",
            elapsed_s=closed.end_ns / 1e9,
            done=self.done,
            rate=ops / dt,
            duration_s=self.duration,
            mib_s=c.nbytes() / dt / 1048576,
            errors=self.errors,
            classes=class_ticks(c, self.kinds, dt),
        )
        tell(self.out, tick)


def class_ticks(c: Collector, kinds: Sequence[int], dt: float) -> list[ClassTick]:
    """Per op kind over one interval of ``dt`` seconds: ops/s, MiB/s, p99 and failures."""
    errors = [0] * len(OpKind)
    for (kind, _), n in c.errors().items():
        errors[kind] += n
    out = []
    for kind in kinds:
        h = c.kind_histogram(kind)
        p99 = h.value_at_quantile(0.99) / 1000 if h is not None and h.count else 0.0
        ops_s, mib_s = c.ops(kind) / dt, c.nbytes(kind) / dt / 1048576
        out.append(ClassTick(OpKind(kind).name, ops_s, mib_s, p99, errors[kind]))
    return out


async def run_workload(
    ctx: RunContext,
    config: Config,
    planned: list[PlannedOp],
    start_ns: int | None = None,
    pace: SharePace | None = None,
) -> WorkloadResult:
    """Run the op mix until the deadline. ``start_ns`` (perf_counter_ns) is the start instant
    every process of the run shares (the start barrier's), so their intervals line up."""
    caps = [op.concurrency or config.concurrency for op in config.workload]
    workers = max(config.concurrency, *caps)
    mix = OpMix([op.weight for op in config.workload], caps, seed=ctx.rng.getrandbits(32))
    tally = Tally()
    start_ns = time.perf_counter_ns() if start_ns is None else start_ns
    deadline_ns = start_ns + int(config.duration * 1e9)
    pacer = make_pacer(config, pace, ctx.rng, start_ns, deadline_ns)
    pool = WorkerPool(
        planned,
        workers=workers,
        executor=ctx.executor_for([p.backend for p in planned], workers),
        deadline_ns=deadline_ns,
        retry=retry_policy(config.error_handling),
        pacer=pacer,
    )
    intervals = Intervals(
        start_ns,
        config.perf_log.interval,
        warmup_s=config.warmup_period,
        end_ns=deadline_ns,
        lock=pool.lock,  # thread workers record under it: the swap takes it too
    )
    result = WorkloadResult(intervals.summary, 0.0, workers)
    loop = asyncio.get_running_loop()
    state = WorkloadState(
        planned,
        mix,
        ctx.rng,
        error_guard(config.error_handling, time.monotonic()),
        result,
        stop=pool.stop,
        say=lambda line: loop.call_soon_threadsafe(_notice, ctx.out, line),
    )
    record = oplog.chained(
        make_recorder(intervals, planned, tally, state.on_task, tell_ok=state.tell_ok), planned
    )
    if pacer is not None:  # io_rate: response times too, into the batch's interval
        record = paced_recorder(record, planned, lambda: intervals.current)
    progress = _Progress(ctx.out, [p.kind for p in planned], config.duration)
    timeline = Timeline(
        intervals,
        start_ns,
        stage="workload",
        share=ctx.share,
        sink=ctx.intervals,
        on_closed=progress,
    )
    ticker = asyncio.create_task(timeline.run())
    # file://: how often every worker thread is in a batch. Not when paced: a thread waits for
    # its slot inside its batch, so "all threads busy" would be read off their sleep.
    threads = workers if pool.executor is not None and pacer is None else 0
    vitals = VitalsSampler(threads=threads)
    hooks = vitals.busy_hooks(state.source, state.on_done) if vitals.threads else None
    source, on_done = hooks or (state.source, state.on_done)
    sampler = asyncio.create_task(vitals.run())
    try:
        await pool.run(source, record, on_idle=state.on_idle, on_done=on_done)
    finally:
        ticker.cancel()
        sampler.cancel()
        result.vitals = vitals.finish()
        timeline.close()
        ctx.out.progress("")
    log.info("workload done: %r %r %r late=%d", pool, mix, state, tally.late)
    end_ns = min(time.perf_counter_ns(), deadline_ns) - start_ns
    _finish(result, tally, end_ns=max(end_ns - int(config.warmup_period * 1e9), 0))
    if pacer is not None:  # the whole window, warmup included: its ops were offered too
        result.pacing = pace_result(config, pacer, start_ns + end_ns, end_ns / 1e9)
    return result


def _notice(out: Output, line: str) -> None:
    """A line in the middle of the run: the live progress line is cleared first."""
    out.progress("")
    out.warn(line)


def _finish(result: WorkloadResult, tally: Tally, end_ns: int) -> None:
    """Copy what the stage tallied into its result, once the workers are done."""
    if result.refused is not None and tally.first_error is not None:
        label, key, _, outcome = result.refused
        result.refused = (label, key, tally.first_error[1], outcome)
    result.first_error = tally.first_error
    result.wall_s = end_ns / 1e9
    result.late = tally.late
    result.retries = result.collector.retries  # engine retries and HTTP resends, by outcome
