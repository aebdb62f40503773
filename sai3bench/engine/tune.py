"""``sai3bench autotune``'s session: prepare once, short runs of the workload, cleanup.

Every step runs the config's own workload (its ops, weights, paths and sizes) for ``step_s``
seconds at the (processes, concurrency) the Sweep (engine/sweep.py) asks for; the workload is
re-planned per step (a glob is listed again, so objects a DELETE took are gone from the pools).
One coordinator keeps the books across the steps, so cleanup deletes exactly what prepare made,
minus what the steps' DELETEs took, as a run's does. A signal stops the step under way (it is
not a point: its figures are partial), then cleanup runs as after an interrupted run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import msgspec

from sai3bench.config.schema import Config
from sai3bench.engine.cleanup import CleanupResult
from sai3bench.engine.context import Output, RunContext
from sai3bench.engine.coordinator import Coordinator
from sai3bench.engine.interrupt import Interrupt, StageAbandoned
from sai3bench.engine.options import RunOptions
from sai3bench.engine.prepare import PrepareFailed, PrepareResult
from sai3bench.engine.resolve import plan_workload
from sai3bench.engine.runner import RunReport, open_backends, refreshing, setup_hint
from sai3bench.engine.share_runner import InProcessRunner, ShareRunner
from sai3bench.engine.sweep import Point, Sweep
from sai3bench.engine.workload import WorkloadResult
from sai3bench.errors import RunFailed, StorageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.histogram import Histogram
from sai3bench.plan.tasks import is_mixed, prepare_sets

#: Makes the runner of a step with N processes (N > 1; the CLI passes local child processes).
ProcessRunners = Callable[[int, RunContext], ShareRunner]


class TuneResult:
    """What the session did: the points come through ``on_point`` as they are measured."""

    def __init__(self) -> None:
        self.prepare: PrepareResult | None = None
        self.cleanup: CleanupResult | None = None
        self.abandoned: str | None = None

    def __repr__(self) -> str:
        return f"<TuneResult prepare={self.prepare is not None} cleanup={self.cleanup}>"


def point_of(processes: int, concurrency: int, wl: WorkloadResult) -> Point:
    """A step's figures: ops/s and MiB/s over its window, p50/p99 over every successful op."""
    c: Collector = wl.collector
    merged = Histogram()
    for kind in OpKind:
        h = c.kind_histogram(kind)
        if h is not None:
            merged.merge(h)
    wall = wl.wall_s if wl.wall_s > 0 else 1.0
    p50, p99 = merged.percentiles([0.5, 0.99]) if merged.count else (0, 0)
    return Point(
        processes=processes,
        concurrency=concurrency,
        ops_s=c.ops() / wall,
        mib_s=c.nbytes() / wall / 1048576,
        p50_ns=p50,
        p99_ns=p99,
        errors=c.error_count(),
    )


async def autotune(
    config: Config,
    opts: RunOptions,
    out: Output,
    sweep: Sweep,
    step_s: float,
    interrupt: Interrupt,
    processes: ProcessRunners,
    on_point: Callable[[Point], None],
) -> TuneResult:
    """Prepare, run the sweep's steps, clean up. Raises Sai3Error subclasses for user errors."""
    seed = opts.seed if opts.seed is not None else int.from_bytes(os.urandom(4), "little")
    report = RunReport()
    report.seed, report.interrupt = seed, interrupt
    widest = max(config.concurrency, sweep.rules.max_concurrency)
    backends = open_backends(msgspec.structs.replace(config, concurrency=widest), opts, out)
    ctx = RunContext(backends=backends, concurrency=widest, out=out, seed=seed)
    result = TuneResult()
    async with refreshing(backends):
        co = Coordinator(ctx, config, opts, report, InProcessRunner(ctx))
        with interrupt.attach(asyncio.get_running_loop(), signals=True):
            deleted: set[str] = set()
            try:
                await _prepare(co, result)
                await _steps(co, sweep, step_s, processes, on_point, deleted)
            except StageAbandoned as exc:
                result.abandoned = str(exc)
            finally:
                await _cleanup(co, result, deleted)
    return result


async def _prepare(co: Coordinator, result: TuneResult) -> None:
    prep = co.config.prepare
    sets = prepare_sets(prep, mixed=is_mixed(co.config))
    if prep is None or not sets:
        return
    co.ctx.out.say("=== Prepare Phase ===")
    stop = co.report.interrupt
    try:
        result.prepare = co.report.prepare = await stop.bounded(
            "prepare", co.prepare(prep, sets), grace=co.runner.grace
        )
    except PrepareFailed as exc:  # what it made is still cleaned up (``autotune``'s finally)
        result.prepare = exc.result
        raise
    made = result.prepare
    co.ctx.out.say(f"Prepare: {made.created:,} objects created, {made.existed:,} existed")


async def _steps(
    co: Coordinator,
    sweep: Sweep,
    step_s: float,
    processes: ProcessRunners,
    on_point: Callable[[Point], None],
    deleted: set[str],
) -> None:
    ctx, stop = co.ctx, co.report.interrupt
    while not stop.requested and (step := sweep.next()) is not None:
        n, concurrency = step
        cfg = msgspec.structs.replace(
            co.config, concurrency=concurrency, duration=step_s, warmup_period=0.0
        )
        runner = processes(n, ctx) if n > 1 else InProcessRunner(ctx)
        step_co = Coordinator(ctx, cfg, co.opts, co.report, runner, co.merger)
        plan = await plan_workload(ctx, cfg)
        wl = await stop.bounded(
            "workload", step_co.workload(step_co.workload_shares(plan)), grace=runner.grace
        )
        deleted |= wl.deleted_keys
        if step_co.lost is not None:
            raise step_co.lost
        if stop.requested:
            return  # a stopped step's figures are partial: not a point
        _check_step(cfg, wl, n)
        point = point_of(n, concurrency, wl)
        sweep.add(point)
        on_point(point)


def _check_step(cfg: Config, wl: WorkloadResult, processes: int) -> None:
    """A step that could not run is no point on the curve: the config or the target is wrong."""
    if wl.refused is not None:
        label, key, detail, outcome = wl.refused
        hint = setup_hint(outcome, cfg.target, "check the target URI and that the endpoint works")
        raise StorageError(f"{label}: failed on {key}: {detail}", hint=hint)
    if wl.collector.ops() == 0:
        raise RunFailed(
            f"autotune: no op succeeded at processes {processes}, concurrency "
            f"{cfg.concurrency} ({wl.collector.error_count():,} failed, {wl.late:,} late)",
            hint="check that the workload runs with `sai3bench run` first, or raise --step",
        )


async def _cleanup(co: Coordinator, result: TuneResult, deleted: set[str]) -> None:
    prep, prepared = co.config.prepare, result.prepare
    if prep is None or prepared is None or not prep.cleanup:
        return
    co.ctx.out.say("=== Cleanup Phase ===")
    cleanup = co.cleanup(prepared.sets, prep.cleanup_mode, deleted)
    result.cleanup = done = await co.report.interrupt.cleanup_stage(cleanup)
    if done is not None:
        co.ctx.out.say(f"Cleanup {'incomplete' if done.errors else 'complete'}: {done.summary()}")
