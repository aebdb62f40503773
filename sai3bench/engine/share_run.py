"""Execute one share of one stage inside an engine process: what a child process, a Dask worker
and the one-process run all call. No listing happens here (the coordinator planned that).

The workload waits at a start barrier after everything is ready (ops planned, pools built), so
every process of the run starts at one instant and uses the same deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

from sai3bench.config.schema import Config
from sai3bench.engine import oplog
from sai3bench.engine.cleanup import CleanupMode, run_cleanup
from sai3bench.engine.context import RunContext
from sai3bench.engine.interrupt import StageAbandoned, active
from sai3bench.engine.intervals import stage_tap
from sai3bench.engine.prepare import PrepareFailed, PrepareResult, open_sets, run_prepare
from sai3bench.engine.resolve import planned_ops
from sai3bench.engine.share_jobs import (
    CleanupDone,
    CleanupWork,
    Done,
    Failure,
    PrepareDone,
    PrepareWork,
    ShareDone,
    ShareJob,
    WorkloadDone,
    WorkloadWork,
)
from sai3bench.engine.workload import WorkloadResult, run_workload
from sai3bench.errors import Sai3Error
from sai3bench.metrics.collector import Collector
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.plan.share import WorkloadShare, share_seed
from sai3bench.plan.tasks import is_mixed, prepare_sets

#: Told "ready" once a workload share can start; returns the start instant (CLOCK_MONOTONIC s).
StartBarrier = Callable[[], Awaitable[float]]


async def start_now() -> float:
    """The barrier of a one-process run: nobody to wait for."""
    return time.monotonic()


async def run_share(ctx: RunContext, job: ShareJob, barrier: StartBarrier) -> ShareDone:
    """Run ``job`` with ``ctx`` (the engine process's backends). Sai3Errors come back as a
    Failure; a stop request (a signal at the coordinator) returns the partial result."""
    ctx = ctx.for_share(job.concurrency, share_seed(job.seed, job.index))
    ctx.share = job.index
    step = job.config.perf_log.interval
    stop = active()
    try:
        work = job.work
        done: Done
        async with oplog.recording(job.options, job.index, job.count, ctx.out):
            if isinstance(work, PrepareWork):
                async with stage_tap(ctx.intervals, job.index, "prepare", step):
                    done = await _prepare(ctx, job.config, work)
            elif isinstance(work, WorkloadWork):
                done = await _workload(ctx, job.config, work.share, barrier)
            else:
                async with stage_tap(ctx.intervals, job.index, "cleanup", step):
                    done = await _cleanup(ctx, job.config, work)
    except PrepareFailed as exc:
        return ShareDone(
            index=job.index,
            result=_prepare_done(exc.result),
            failure=Failure(
                "PrepareFailed", exc.msg, exc.hint or "", outcome=exc.outcome, failed=exc.failed
            ),
        )
    except StageAbandoned as exc:
        return ShareDone(index=job.index, failure=Failure("RunFailed", str(exc)), interrupted=True)
    except Sai3Error as exc:
        return ShareDone(
            index=job.index, failure=Failure(type(exc).__name__, exc.msg, exc.hint or "")
        )
    return ShareDone(index=job.index, result=done, interrupted=stop is not None and stop.requested)


async def _prepare(ctx: RunContext, config: Config, work: PrepareWork) -> PrepareDone:
    assert config.prepare is not None
    sets = open_sets(ctx, prepare_sets(config.prepare, mixed=is_mixed(config)))
    before = endpoint_snapshot(ctx)
    try:
        result = await run_prepare(ctx, config.prepare, sets, work.todo)
    except PrepareFailed as exc:
        exc.result.endpoint_stats = endpoint_stats(ctx, before)
        raise
    result.endpoint_stats = endpoint_stats(ctx, before)
    return _prepare_done(result)


def _prepare_done(r: PrepareResult) -> PrepareDone:
    return PrepareDone(
        collector=r.collector.encode(),
        wall_s=r.wall_s,
        retries=r.retries,
        created=[ps.created.tolist() for ps in r.sets],
        endpoint_stats=r.endpoint_stats,
    )


def share_config(config: Config, share: WorkloadShare) -> Config:
    """The config one share runs: its concurrency and per-op caps."""
    ops = tuple(
        msgspec.structs.replace(op, concurrency=cap)
        for op, cap in zip(config.workload, share.caps, strict=True)
    )
    return msgspec.structs.replace(config, concurrency=share.concurrency, workload=ops)


async def _workload(
    ctx: RunContext, config: Config, share: WorkloadShare, barrier: StartBarrier
) -> WorkloadDone:
    mine = share_config(config, share)
    planned = planned_ops(ctx, mine, share.pools)
    for p in planned:
        p.share = (share.index, share.count)
    await ctx.backends.warm(max(share.concurrency, *(c or 0 for c in share.caps)))
    start = await barrier()
    delay = start - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    started_mono, started_wall = time.monotonic_ns(), time.time_ns()
    before = endpoint_snapshot(ctx)
    stop = active()
    if stop is not None and stop.requested:  # stopped at the barrier: not one op
        r = WorkloadResult(Collector(), 0.0, 0)
    else:
        # The shared start instant on the ops' clock: every share's intervals line up.
        start_ns = time.perf_counter_ns() + int((start - time.monotonic()) * 1e9)
        r = await run_workload(ctx, mine, planned, start_ns, pace=share.pace)
    return WorkloadDone(
        collector=r.collector.encode(),
        wall_s=r.wall_s,
        workers=r.workers,
        late=r.late,
        retries=r.retries,
        aborted=r.aborted,
        exhausted=list(r.exhausted),
        deleted_keys=sorted(r.deleted_keys),
        first_error=r.first_error,
        refused=(r.refused[0], r.refused[1], r.refused[2], int(r.refused[3]))
        if r.refused
        else None,
        endpoint_stats=endpoint_stats(ctx, before),
        started_mono_ns=started_mono,
        started_wall_ns=started_wall,
        vitals=r.vitals,
        pacing=r.pacing,
    )


async def _cleanup(ctx: RunContext, config: Config, work: CleanupWork) -> CleanupDone:
    assert config.prepare is not None
    sets = open_sets(ctx, prepare_sets(config.prepare, mixed=is_mixed(config)))
    for ps, created in zip(sets, work.created, strict=True):
        ps.created.extend(created)
    mode: CleanupMode = work.mode  # type: ignore[assignment]
    r = await run_cleanup(ctx, sets, mode=mode)
    return CleanupDone(
        collector=r.collector.encode(),
        wall_s=r.wall_s,
        deleted=r.deleted,
        already_gone=r.already_gone,
        errors=r.errors,
        retries=r.retries,
        left=dict(r.left),
        last_failure=(r.last_failure[0], int(r.last_failure[1]), r.last_failure[2])
        if r.last_failure
        else None,
    )


def endpoint_snapshot(ctx: RunContext) -> list[EndpointStat] | None:
    multi = ctx.backends.multi
    return multi.snapshot() if multi is not None else None


def endpoint_stats(ctx: RunContext, before: list[EndpointStat] | None) -> list[EndpointStat] | None:
    """Per-endpoint counts since ``before`` when multi_endpoint routes ops, else None."""
    multi = ctx.backends.multi
    return multi.stats_since(before) if multi is not None and before is not None else None
