"""One run: prepare -> workload -> cleanup, with the stage flags of ``sai3bench run``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sai3bench.backends.multi import endpoints_from_env
from sai3bench.backends.registry import Backends
from sai3bench.config.schema import Config, Prepare
from sai3bench.engine.cleanup import CleanupResult
from sai3bench.engine.context import Output, RunContext
from sai3bench.engine.coordinator import Coordinator
from sai3bench.engine.interrupt import Interrupt, StageAbandoned
from sai3bench.engine.intervals import IntervalHook, IntervalMerger
from sai3bench.engine.options import RunOptions
from sai3bench.engine.prepare import PrepareFailed, PrepareResult
from sai3bench.engine.resolve import plan_workload
from sai3bench.engine.share_runner import InProcessRunner, ShareRunner
from sai3bench.engine.verify import run_verify
from sai3bench.engine.vitals import judge
from sai3bench.engine.workload import WorkloadResult
from sai3bench.errors import RunFailed, StorageError, UsageError
from sai3bench.outcome import OpError, Outcome
from sai3bench.plan.cores import usable_cores
from sai3bench.plan.tasks import PrepareSet, is_mixed, prepare_sets


class RunReport:
    """What each stage produced; None for a stage that did not run."""

    def __init__(self) -> None:
        self.prepare: PrepareResult | None = None
        self.workload: WorkloadResult | None = None
        self.cleanup: CleanupResult | None = None
        self.verify: str | None = None
        #: Why the run failed (exit 1), in the order found: a failed workload does not hide
        #: the objects its cleanup then left behind.
        self.failures: list[RunFailed] = []
        self.seed: int | None = None
        self.on_stage: StageHook = lambda name, result: None
        #: The signals the run got, and what they stopped.
        self.interrupt = Interrupt()

    def fail(self, failure: RunFailed | None) -> None:
        if failure is not None:
            self.failures.append(failure)

    @property
    def failure(self) -> RunFailed | None:
        return self.failures[0] if self.failures else None


NO_WORKLOAD = "duration 0s: no workload stage"
"""Said instead of the workload stage of a ``duration: 0s`` run (and by --dry-run)."""


def idle_run_problem(config: Config, opts: RunOptions) -> UsageError | None:
    """``duration: 0s`` with no prepare stage to run either: the run would do nothing but write
    an empty results directory. One line instead (exit 2), dry run too."""
    if config.duration != 0 or opts.cleanup_only or opts.verify or opts.prepare_only:
        return None
    if opts.skip_prepare:
        why = "and --skip-prepare skips the prepare stage"
    elif not prepare_sets(config.prepare, mixed=is_mixed(config)):
        why = "and the config prepares nothing (no prepare.ensure_objects)"
    else:
        return None
    return UsageError(
        f"duration 0s has no workload stage {why}: nothing to run",
        hint="give a duration such as --duration 30s, or prepare objects (duration 0s: "
        "prepare, then cleanup)",
    )


#: Told when a stage ends: ("prepare" | "workload" | "cleanup", its result object).
StageHook = Callable[[str, Any], None]


#: Makes the ShareRunner a run's stages go through, given the coordinator's context.
RunnerFactory = Callable[[RunContext], ShareRunner]


def open_backends(config: Config, opts: RunOptions, out: Output) -> Backends:
    """The backends of one engine process (the coordinator or a child): every process has its
    own connection pools and credentials."""
    caps = [op.concurrency or config.concurrency for op in config.workload]
    backends = Backends(
        concurrency=max(config.concurrency, *caps),
        insecure=opts.insecure,
        http2=opts.http2,
        sign_payload=opts.sign_payload,
        first_byte_timeout=opts.first_byte_timeout,
        range_engine=config.range_engine,
        page_cache_mode=config.page_cache_mode,
    )
    _route_endpoints(backends, config, os.environ.get("S3_ENDPOINT_URIS", ""), out)
    return backends


@contextlib.asynccontextmanager
async def refreshing(backends: Backends) -> AsyncIterator[None]:
    """Credential renewal for the life of a process's backends; the backends closed after."""
    refresher = asyncio.create_task(_refresh_credentials(backends))
    try:
        yield
    finally:
        refresher.cancel()
        await backends.close()


async def execute(
    config: Config,
    opts: RunOptions,
    out: Output,
    on_stage: StageHook | None = None,
    interrupt: Interrupt | None = None,
    runner: RunnerFactory | None = None,
    on_interval: IntervalHook | None = None,
) -> RunReport:
    """Run the stages the options ask for. Raises Sai3Error subclasses for user errors.

    ``on_stage`` lets the caller print and save each stage's results as soon as it ends. With
    ``interrupt``, SIGINT and SIGTERM stop the running stage (see engine/interrupt.py) and the
    report holds the partial results; without, signals are left to the caller. ``runner``
    says where the stages' shares run (default: in this process). ``on_interval`` is told
    each perf-log interval, merged over the processes, as the stages run.
    """
    seed = opts.seed if opts.seed is not None else int.from_bytes(os.urandom(4), "little")
    report = RunReport()
    report.seed = seed
    report.on_stage = on_stage or (lambda name, result: None)
    report.interrupt = interrupt or Interrupt()
    loop = asyncio.get_running_loop()
    backends = open_backends(config, opts, out)
    ctx = RunContext(backends=backends, concurrency=config.concurrency, out=out, seed=seed)
    merger = IntervalMerger(on_interval)
    ctx.intervals = merger if on_interval is not None else None  # no perf-log: nothing sent
    try:
        async with refreshing(backends):
            shares = (runner or InProcessRunner)(ctx)
            coordinator = Coordinator(ctx, config, opts, report, shares, merger)
            with report.interrupt.attach(loop, signals=interrupt is not None):
                await _stages(coordinator)
    except StageAbandoned as exc:  # --verify or --cleanup-only stuck after a signal
        out.warn(str(exc))
    except OpError as exc:
        # A request outside the timed ops failed (a listing, a glob, a verify): one line.
        raise StorageError(
            f"storage request failed: {exc.detail or exc.outcome.name}",
            hint=exc.hint
            or setup_hint(exc.outcome, _some_uri(config), "see the error above; check the URI"),
        ) from None
    return report


def _route_endpoints(backends: Backends, config: Config, env_uris: str, out: Output) -> None:
    """multi_endpoint from the config, else S3_ENDPOINT_URIS for an s3:// target (upstream's
    precedence); the registry then spreads every op under the target over the endpoints."""
    multi = config.multi_endpoint
    if multi is not None and config.target is not None:
        backends.set_multi_endpoint(config.target, multi.endpoints, multi.strategy)
    elif env_uris.strip() and config.target is not None and config.target.startswith("s3://"):
        uris = endpoints_from_env(config.target, env_uris)
        out.say(f"S3_ENDPOINT_URIS: {len(uris)} endpoints, round_robin")
        backends.set_multi_endpoint(config.target, uris, "round_robin")


async def _refresh_credentials(backends: Backends) -> None:
    """Once a second, off the hot path: renew credentials that near expiry (STS, SSO, IMDS).

    A sign() call only reads the provider's cached credential; the blocking botocore refresh
    runs in a thread inside refresh_if_needed.
    """
    while True:
        await asyncio.sleep(1.0)
        now = time.time()
        for provider in list(backends.credentials):
            if provider.needs_refresh(now):
                await provider.refresh_if_needed(now)


#: Per scheme: where its credentials and endpoint come from, for the one-line hints below.
_CREDENTIALS = {
    "s3": "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`",
    "az": "AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING",
}
_ENDPOINTS = {
    "s3": "AWS_ENDPOINT_URL",
    "gs": "STORAGE_EMULATOR_HOST or GCS_ENDPOINT_URL",
    "az": "AZURE_STORAGE_ENDPOINT",
}


def _some_uri(config: Config) -> str | None:
    """The target, else the first op's path: which storage the run talks to."""
    return config.target or next((op.path for op in config.workload if op.path), None)


def setup_hint(outcome: Outcome, target: str | None, default: str) -> str:
    """The fix for a request that failed before anything worked, in the target's own terms."""
    scheme = target.partition("://")[0] if target else ""
    if outcome == Outcome.PERMISSION:
        where = _CREDENTIALS.get(scheme)
        if where is None:
            return "check the file permissions"
        return f"check the credentials ({where}) and the bucket's access policy"
    if outcome == Outcome.NOT_FOUND:
        return "check the bucket, container or directory name in the URI"
    if outcome in (Outcome.CONNECTION, Outcome.TIMEOUT):
        var = _ENDPOINTS.get(scheme)
        tail = f" and that {var} points at it" if var else ""
        return f"check that the endpoint is up and reachable{tail}"
    return default


async def _stages(co: Coordinator) -> None:
    ctx, config, opts, report = co.ctx, co.config, co.opts, co.report
    sets = prepare_sets(config.prepare, mixed=is_mixed(config))
    out = ctx.out
    stop = report.interrupt
    if opts.verify:
        report.verify = await stop.bounded("verify", run_verify(ctx, sets))
        out.say(report.verify)
        return
    if opts.cleanup_only:  # here cleanup is the stage a signal stops
        out.say("=== Cleanup Phase ===")
        report.cleanup = await stop.bounded("cleanup", co.cleanup_only(sets), grace=co.runner.grace)
        report.on_stage("cleanup", report.cleanup)
        report.fail(report.cleanup.failure)  # objects left: exit 1
        return
    if config.prepare is not None and sets and not opts.skip_prepare:
        await _prepare_stage(co, sets)
    if opts.prepare_only:
        return
    prep = config.prepare
    wants_cleanup = prep is not None and prep.cleanup and not opts.no_cleanup
    try:
        if config.duration == 0 and not stop.requested:  # upstream's: prepare, then cleanup
            out.say(NO_WORKLOAD)
        elif not stop.requested:
            await stop.bounded("workload", _test_phase(co), grace=co.runner.grace)
    except StageAbandoned as exc:
        out.warn(str(exc))
    finally:
        # Runs after a failed or interrupted workload too (a glob that matched nothing, a
        # refused PUT, Ctrl-C): the objects this run made must not be left for later runs to
        # take as pre-existing.
        if wants_cleanup and report.prepare is not None and prep is not None:
            await _cleanup_stage(co, prep)


async def _prepare_stage(co: Coordinator, sets: list[PrepareSet]) -> None:
    ctx, config, opts, report = co.ctx, co.config, co.opts, co.report
    out, stop, prepare = ctx.out, report.interrupt, config.prepare
    assert prepare is not None
    out.say("=== Prepare Phase ===")
    if is_mixed(config):
        out.say(
            "Mixed workload: Using separate object pools "
            "(readonly for GET/STAT, deletable for DELETE)"
        )
    try:
        # Interrupted, it returns what it created so far: cleanup removes exactly those.
        report.prepare = await stop.bounded(
            "prepare", co.prepare(prepare, sets), grace=co.runner.grace
        )
    except PrepareFailed as exc:
        report.prepare = exc.result
        report.on_stage("prepare", exc.result)  # what it made, its errors and retries: saved
        if prepare.cleanup and not opts.no_cleanup and exc.result.created:
            out.warn(f"prepare failed; removing the {exc.result.created:,} objects it made")
            await stop.cleanup_stage(co.cleanup(exc.result.sets, "best_effort"))
        raise
    except StageAbandoned as exc:
        out.warn(str(exc))
        return
    report.on_stage("prepare", report.prepare)
    if co.lost is not None:  # a process died or hung: what prepare made is still removed
        if prepare.cleanup and not opts.no_cleanup:
            await _cleanup_stage(co, prepare)
        raise co.lost
    if report.prepare.created and prepare.post_prepare_delay > 0 and not stop.requested:
        out.say(f"Waiting {prepare.post_prepare_delay:g}s (post_prepare_delay)")
        await stop.sleep(prepare.post_prepare_delay)


async def _cleanup_stage(co: Coordinator, prep: Prepare) -> None:
    """Delete what prepare made; after a signal it is bounded, and a second signal stops it:
    then say how many prepared objects are left, and where."""
    ctx, report = co.ctx, co.report
    assert report.prepare is not None
    stop, wl, sets = report.interrupt, report.workload, report.prepare.sets
    skip: set[str] | frozenset[str] = wl.deleted_keys if wl is not None else frozenset()
    if not stop.skip_cleanup:
        ctx.out.say("=== Cleanup Phase ===")
    cleanup = co.cleanup(sets, prep.cleanup_mode, skip)
    report.cleanup = result = await stop.cleanup_stage(cleanup)
    if result is not None:
        report.on_stage("cleanup", result)
        report.fail(result.failure)  # objects left behind: exit 1
    if stop.cleanup in ("skipped", "stopped", "timed out"):
        ours = sum(len(ps.to_clean(skip)) for ps in sets)
        gone = result.deleted + result.already_gone if result is not None else 0
        stop.objects_left, stop.left_exact = (
            ours - gone,
            result is not None or stop.cleanup == "skipped",
        )
        stop.left_where = [ps.pset.glob for ps in sets if len(ps.created)]
        bound = "" if stop.left_exact else "at most "
        ctx.out.warn(
            f"cleanup {stop.cleanup}: left {bound}{stop.objects_left:,} prepared objects under "
            f"{', '.join(stop.left_where) or '(none)'}"
        )


async def _test_phase(co: Coordinator) -> None:
    ctx, config, report = co.ctx, co.config, co.report
    out = ctx.out
    out.say("=== Test Phase ===")
    out.say(f"Resolving {len(config.workload)} operation patterns...")
    shares = co.workload_shares(await plan_workload(ctx, config))
    out.say(
        f"Starting execution ({config.duration:g}s duration, "
        f"{max(config.concurrency, *(op.concurrency or 0 for op in config.workload))} "
        f"concurrent workers{co.across(len(shares))})..."
    )
    t0 = time.perf_counter()
    report.workload = wl = await co.workload(shares)
    wall = time.perf_counter() - t0
    out.say(f"Execution completed in {wall:.2f}s")
    if config.warmup_period:
        out.say(warmup_line(config.warmup_period, wl.wall_s))
    if wl.vitals is not None:  # client or storage? said after the results (cli/run.py)
        wl.verdict = judge(wl.vitals, cores=usable_cores(), pacing=wl.pacing)
    for label in wl.exhausted:
        out.warn(f"{label}: every object in its pool was deleted; it stopped early")
    if wl.refused is not None:
        label, key, detail, outcome = wl.refused
        raise StorageError(
            f"{label}: failed on {key}: {detail}",
            hint=setup_hint(
                outcome, _some_uri(config), "check the target URI and that the endpoint works"
            ),
        )
    report.on_stage("workload", wl)
    if co.lost is not None:
        raise co.lost
    if not report.interrupt.requested:  # partial results of a stopped stage are no failure
        report.fail(_workload_failure(wl, config.duration))


def _workload_failure(wl: WorkloadResult, duration: float) -> RunFailed | None:
    """Why a workload that ran to its end is no result: aborted, nothing succeeded, or
    nothing finished in time (all late: an overloaded client or target)."""
    if wl.collector.ops() == 0 and wl.collector.error_count():  # says more than "aborted"
        key, detail = wl.first_error or ("?", "?")
        return RunFailed(
            f"workload: no op succeeded ({wl.collector.error_count():,} failed; first "
            f"{key}: {detail})",
            hint="see the Errors block above; the target answered every op with an error",
        )
    if wl.aborted:
        return RunFailed(
            f"workload aborted: {wl.aborted}",
            hint="see the Errors block above; raise error_handling.max_total_errors to go on",
        )
    if wl.collector.ops() == 0:
        return RunFailed(
            f"workload: no op completed within the {duration:g}s duration "
            f"({wl.late:,} finished after it)",
            hint="lower concurrency or raise duration: the client or the target is overloaded",
        )
    return None


def warmup_line(warmup_s: float, measured_s: float) -> str:
    """What the warmup did to the results below; a run stopped inside it has none to show."""
    if measured_s <= 0:
        return (
            f"Warmup: the run stopped within its first {warmup_s:g}s (the warmup), so no op "
            "counts in the results below (perf_log.tsv has them, stage Warmup)"
        )
    return (
        f"Warmup: the first {warmup_s:g}s ran but are left out of the results "
        "below (perf_log.tsv has them, stage Warmup)"
    )
