"""The cleanup stage: delete exactly the objects this run's prepare created, in parallel.

Rule: the only keys cleanup may delete are those in ``PreparedSet.created`` (or, for
``--cleanup-only``, the ``prepared-``/``deletable-`` names below ``count`` that a listing finds).
Directories are removed only if this run made them and they are empty.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Literal

from sai3bench.backends.base import BatchDeleter, DirectoryOwner
from sai3bench.engine.context import RunContext
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.prepare import PreparedSet
from sai3bench.engine.tasklist import run_task_list
from sai3bench.errors import RunFailed
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import OpError, Outcome

CleanupMode = Literal["strict", "tolerant", "best_effort"]


class CleanupResult:
    def __init__(self, collector: Collector, wall_s: float) -> None:
        self.collector = collector
        self.wall_s = wall_s
        self.deleted = 0
        self.already_gone = 0
        self.errors = 0
        self.dirs_removed = 0

    def summary(self) -> str:
        n = self.deleted + self.already_gone + self.errors
        return (
            f"deleted {n:,} objects ({self.deleted:,} succeeded, {self.already_gone:,} already "
            f"deleted, {self.errors:,} errors) in {self.wall_s:.2f}s"
        )


async def run_cleanup(
    ctx: RunContext,
    sets: list[PreparedSet],
    *,
    mode: CleanupMode,
    skip_keys: set[str] | frozenset[str] = frozenset(),
) -> CleanupResult:
    """Delete what ``sets`` record as created, minus ``skip_keys`` (deleted by the workload)."""
    if sets and all(isinstance(ps.backend, BatchDeleter) for ps in sets):
        return await _cleanup_batched(ctx, sets, mode, skip_keys)
    ops = [
        PlannedOp(index=i, kind=OpKind.DELETE, backend=ps.backend, label=ps.pset.label)
        for i, ps in enumerate(sets)
    ]
    total = sum(len(ps.created) for ps in sets)

    def tasks() -> Iterator[Task]:
        for si, ps in enumerate(sets):
            for idx in ps.created:
                key = ps.key(idx)
                if key not in skip_keys:
                    yield (si, key, 0, 0)

    result = CleanupResult(Collector(), 0.0)

    def on_task(task: Task, code: int) -> None:
        if code == 0:
            result.deleted += 1
        elif code == Outcome.NOT_FOUND:
            result.already_gone += 1
        else:
            result.errors += 1
            if mode == "best_effort" or result.errors <= 3:
                ctx.out.warn(f"cleanup: could not delete {task[1]}: {Outcome(code).name}")

    run = await run_task_list(
        ops,
        tasks(),
        total,
        workers=ctx.concurrency,
        executor=ctx.executor_for([ps.backend for ps in sets], ctx.concurrency),
        on_task=on_task,
        out=ctx.out,
        label="cleanup",
    )
    result.collector, result.wall_s = run.collector, run.wall_s
    result.dirs_removed = _remove_created_dirs(sets)
    _check_strict(result, mode)
    return result


#: Keys per DeleteObjects request: S3's limit.
BATCH_KEYS = 1000


async def _cleanup_batched(
    ctx: RunContext,
    sets: list[PreparedSet],
    mode: CleanupMode,
    skip_keys: set[str] | frozenset[str],
) -> CleanupResult:
    """Object stores with a batch delete: 1,000 keys a request, ``concurrency`` requests at once.

    Each request's latency is recorded once (DELETE, 0 bytes); the summary counts objects.
    """
    chunks: list[tuple[PreparedSet, list[str]]] = []
    for ps in sets:
        keys = [k for k in (ps.key(i) for i in ps.created) if k not in skip_keys]
        chunks += [(ps, keys[i : i + BATCH_KEYS]) for i in range(0, len(keys), BATCH_KEYS)]
    result = CleanupResult(Collector(), 0.0)
    gate = asyncio.Semaphore(ctx.concurrency)

    async def one(ps: PreparedSet, keys: list[str]) -> None:
        async with gate:
            deleter = ps.backend
            assert isinstance(deleter, BatchDeleter)  # run_cleanup checked every set
            t0 = time.perf_counter_ns()
            try:
                failed = await deleter.delete_many(keys)
            except OpError as exc:
                result.collector.record_error(OpKind.DELETE, exc.outcome)
                result.errors += len(keys)
                ctx.out.warn(f"cleanup: a batch of {len(keys):,} deletes failed: {exc.detail}")
                return
            result.collector.record(OpKind.DELETE, 0, time.perf_counter_ns() - t0)
        gone = [f for f in failed if f[1] == "NoSuchKey"]
        result.already_gone += len(gone)
        result.errors += len(failed) - len(gone)
        result.deleted += len(keys) - len(failed)
        for key, code, message in failed[:3]:
            if code != "NoSuchKey":
                ctx.out.warn(f"cleanup: could not delete {key}: {code} {message}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(ps, keys) for ps, keys in chunks))
    result.wall_s = time.perf_counter() - t0
    _check_strict(result, mode)
    return result


def _check_strict(result: CleanupResult, mode: CleanupMode) -> None:
    if mode == "strict" and (result.errors or result.already_gone):
        raise RunFailed(
            f"cleanup (strict): {result.errors + result.already_gone:,} objects could not be "
            f"deleted ({result.already_gone:,} already gone)",
            hint="use cleanup_mode: tolerant to ignore objects that are already gone",
        )


def _remove_created_dirs(sets: list[PreparedSet]) -> int:
    removed = 0
    for ps in sets:
        if not isinstance(ps.backend, DirectoryOwner):
            continue
        rmdir = ps.backend.rmdir_if_empty
        # Deepest first; a directory that is not empty (or already gone) is left and counted
        # out, and its parents then fail the same way (rmdir never removes contents).
        for d in reversed(ps.created_dirs):
            removed += bool(rmdir(d))
    return removed
