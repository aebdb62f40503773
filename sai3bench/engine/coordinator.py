"""The coordinator of a run: plans each stage once, splits it into shares, hands the shares to a
ShareRunner and merges what comes back into one stage result.

The coordinator does the listings (one LIST per prepare set and per glob, however many processes
run) and keeps the run's books: what prepare created, what the workload deleted, and so what
cleanup must delete. A share that dies or hangs is accounted for here: its assigned prepare
indices count as created (cleanup deletes them, already gone is fine) and the run fails, naming
the process and why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sai3bench.config.schema import Config, Prepare
from sai3bench.engine.cleanup import CleanupMode, CleanupResult, judge, remove_created_dirs
from sai3bench.engine.context import RunContext
from sai3bench.engine.interrupt import active
from sai3bench.engine.intervals import IntervalMerger
from sai3bench.engine.options import RunOptions
from sai3bench.engine.prepare import (
    PreparedSet,
    PrepareFailed,
    PrepareResult,
    existing_shard_dirs,
    open_sets,
    plan_prepare,
)
from sai3bench.engine.share_jobs import (
    CleanupDone,
    CleanupWork,
    Failure,
    PrepareWork,
    ShareDone,
    ShareJob,
    Work,
    WorkloadDone,
    WorkloadWork,
)
from sai3bench.engine.share_merge import merge_cleanup, merge_prepare, merge_workload, share_stats
from sai3bench.engine.share_runner import ShareRunner
from sai3bench.engine.transient import list_with_retry
from sai3bench.engine.tree_stage import make_tree_dirs, remove_markers, tree_dirs_of
from sai3bench.engine.workload import WorkloadResult
from sai3bench.errors import (
    ConfigError,
    CredentialError,
    RunFailed,
    Sai3Error,
    StorageError,
    UsageError,
)
from sai3bench.metrics.collector import Collector
from sai3bench.metrics.share_stat import ShareStat
from sai3bench.outcome import OpError, Outcome
from sai3bench.plan.share import (
    WorkloadPlan,
    WorkloadShare,
    divide,
    split_indices,
    split_workload,
    usable_shares,
)
from sai3bench.plan.tasks import PrepareSet, existing_indices

if TYPE_CHECKING:
    from sai3bench.engine.runner import RunReport

log = logging.getLogger(__name__)

#: The Sai3Errors a share raises again by name (PrepareFailed is handled where it is known);
#: any other kind still ends the run, as RunFailed with its message.
_ERRORS: dict[str, type[Sai3Error]] = {
    cls.__name__: cls for cls in (ConfigError, UsageError, CredentialError, StorageError, RunFailed)
}


class Coordinator:
    """One run's stages over a ShareRunner. Loop-side, not thread-safe."""

    def __init__(
        self,
        ctx: RunContext,
        config: Config,
        opts: RunOptions,
        report: RunReport,
        runner: ShareRunner,
        merger: IntervalMerger | None = None,
    ) -> None:
        self.ctx = ctx
        #: Merges each stage's perf-log intervals over the shares (engine/intervals.py).
        self.merger = merger or IntervalMerger()
        self.config = config
        self.opts = opts
        self.report = report
        self.runner = runner
        #: The first share that died or hung: the run fails with it after saving results.
        self.lost: RunFailed | None = None
        #: Per stage: each share's figures (multi-process and multi-host runs).
        self.share_stats: dict[str, list[ShareStat]] = {}
        self._last_stats: list[ShareStat] = []

    def __repr__(self) -> str:
        return f"<Coordinator {self.runner!r} lost={self.lost is not None}>"

    @property
    def parts(self) -> int:
        """Shares a stage is split into: at most one per worker."""
        return usable_shares(self.runner.shares, self.config.concurrency)

    def across(self, parts: int) -> str:
        return "" if parts == 1 else f" across {parts} processes"

    def _jobs(self, works: Sequence[Work]) -> list[ShareJob]:
        seed = self.report.seed
        assert seed is not None
        workers = divide(self.config.concurrency, len(works))
        return [
            ShareJob(
                index=k,
                count=len(works),
                config=self.config,
                options=self.opts,
                seed=seed,
                concurrency=workers[k],
                work=work,
            )
            for k, work in enumerate(works)
        ]

    async def _run(self, stage: str, works: Sequence[Work]) -> list[ShareDone]:
        stop = active()
        jobs = self._jobs(works)
        self.merger.begin(stage, len(jobs))
        try:
            if stop is None:
                dones = await self.runner.run(jobs)
            else:
                with stop.watching(self.runner):
                    dones = await self.runner.run(jobs)
            for d in dones:
                self.merger.add_encoded(d.intervals)
        finally:
            self.merger.end()
        if len(dones) > 1:
            self.share_stats[stage] = share_stats(dones, self.runner.clock_offsets_ms)
        self._last_stats = self.share_stats.get(stage, [])
        for d in dones:
            if d.lost is not None and self.lost is None:
                self.ctx.out.warn(d.lost)
                self.lost = RunFailed(
                    d.lost,
                    hint="see the process's last lines above; objects it may have made are "
                    "cleaned up with the rest",
                )
        return dones

    # -- prepare ------------------------------------------------------------------------------

    async def prepare(self, prepare: Prepare, sets: list[PrepareSet]) -> PrepareResult:
        prepared, plan = await plan_prepare(self.ctx, prepare, sets)
        mkdirs = Collector()  # a tree's directories: made here, before its files
        for ps in prepared:
            if ps.pset.tree is not None:
                mkdirs.merge(await make_tree_dirs(self.ctx, ps))
        assigned = split_indices(plan.todo, self.parts)
        dones = await self._run("prepare", [PrepareWork(todo=a) for a in assigned])
        result = merge_prepare(prepared, dones, assigned)
        result.collector.merge(mkdirs)
        result.shares = self._last_stats
        failures = [d.failure for d in dones if d.failure is not None]
        prepare_failures = [f for f in failures if f.kind == "PrepareFailed"]
        if prepare_failures:
            f = prepare_failures[0]
            raise PrepareFailed(
                result,
                f.msg,
                outcome=Outcome(f.outcome),
                failed=sum(x.failed for x in prepare_failures),
                hint=f.hint,
            )
        raise_first(failures)
        return result

    # -- workload -----------------------------------------------------------------------------

    def workload_shares(self, plan: WorkloadPlan) -> list[WorkloadShare]:
        caps = [op.concurrency for op in self.config.workload]
        rate = self.config.io_rate
        return split_workload(
            plan,
            concurrency=self.config.concurrency,
            caps=caps,
            parts=self.parts,
            iops=rate.iops if rate is not None else None,
        )

    async def workload(self, shares: list[WorkloadShare]) -> WorkloadResult:
        dones = await self._run("workload", [WorkloadWork(share=s) for s in shares])
        results = [d.result for d in dones if isinstance(d.result, WorkloadDone)]
        if not results:
            if self.lost is not None:  # why the others, stopped at the barrier, have nothing
                raise self.lost
            raise_first([d.failure for d in dones if d.failure is not None])
            raise RunFailed("workload: no process returned a result")
        failures = [d.failure for d in dones if d.failure is not None and not d.interrupted]
        raise_first(failures)
        merged = merge_workload(results)
        merged.shares = self._last_stats
        return merged

    # -- cleanup ------------------------------------------------------------------------------

    async def cleanup(
        self,
        sets: list[PreparedSet],
        mode: CleanupMode,
        skip_keys: set[str] | frozenset[str] = frozenset(),
    ) -> CleanupResult:
        """Delete what ``sets`` record as created, minus ``skip_keys``, split over the shares;
        directories this run made are removed here, after every share is done."""
        todo = [ps.to_clean(skip_keys) for ps in sets]
        parts = split_indices(todo, self.parts)
        dones = await self._run("cleanup", [CleanupWork(created=p, mode=mode) for p in parts])
        result = merge_cleanup([d.result for d in dones if isinstance(d.result, CleanupDone)])
        result.shares = self._last_stats
        for d in dones:
            if d.result is None:  # lost or failed: what it deleted is unknown, a LIST says
                if d.failure is not None:
                    self.ctx.out.warn(f"cleanup: {d.host} process {d.process}: {d.failure.msg}")
                for ps, indices in zip(sets, parts[d.index], strict=True):
                    left = await self._still_there(ps, indices)
                    result.errors += len(left)
                    result.deleted += len(indices) - len(left)
                    result.left[ps.pset.glob] += len(left)
        result.dirs_removed = await remove_created_dirs(sets)
        await remove_markers(self.config, sets)  # a tree workload's MKDIRs on an object store
        judge(result, mode, self.ctx.out)
        return result

    async def _still_there(self, ps: PreparedSet, indices: list[int]) -> list[int]:
        """Which of ``indices`` still exist after a lost cleanup share; all of them when even
        the LIST fails (then the count is an upper bound, never an understatement)."""
        if not indices:
            return []
        base, pset = ps.base_key, ps.pset
        try:
            listed = await list_with_retry(ps.backend, pset.list_prefix(base), recursive=True)
        except OpError:
            return indices
        names = (o.key[len(base) :] for o in listed)
        exist = existing_indices(names, pset.pool, pset.spec.count, pset.shards, pset.tree)
        return [i for i in indices if i in exist]

    async def cleanup_only(self, sets: list[PrepareSet]) -> CleanupResult:
        """Delete the ``prepared-``/``deletable-`` objects below ``count`` that exist now.

        Upstream bug 3 (wrong names in flat cleanup-only mode) is not copied: the names are
        exactly the ones prepare makes, and only listed ones are deleted.
        """
        prepared = open_sets(self.ctx, sets)
        for ps in prepared:
            base, pset = ps.base_key, ps.pset
            listed = await list_with_retry(ps.backend, pset.list_prefix(base), recursive=True)
            names = (o.key[len(base) :] for o in listed)
            found = existing_indices(names, pset.pool, pset.spec.count, pset.shards, pset.tree)
            ps.created.extend(sorted(found))
            # Emptied by cleanup, removed: a tree's directories, or the shard directories.
            ps.created_dirs = tree_dirs_of(ps) or existing_shard_dirs(ps)
        prep = self.config.prepare
        mode: CleanupMode = prep.cleanup_mode if prep is not None else "tolerant"
        return await self.cleanup(prepared, mode)


def raise_first(failures: Sequence[Failure | None]) -> None:
    """Raise the first share's error again, as its own Sai3Error class (CredentialError stays
    a CredentialError); a kind this process does not know ends the run as RunFailed."""
    for f in failures:
        if f is not None:
            raise _ERRORS.get(f.kind, RunFailed)(f.msg, hint=f.hint or None)
