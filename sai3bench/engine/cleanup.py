"""The cleanup stage: delete exactly the objects this run's prepare created, in parallel.

Rule: the only keys cleanup may delete are those in ``PreparedSet.created`` (or, for
``--cleanup-only``, the ``prepared-``/``deletable-`` names below ``count`` that a listing finds).
Directories are removed only if this run made them and they are empty.

Rule: a cleanup that leaves prepared objects behind is a failed run (exit 1) in every
``cleanup_mode`` but ``best_effort``, and says how many it left and where. Transient failures
(a 503 on a DELETE or a DeleteObjects batch, a per-key InternalError or SlowDown inside a
DeleteObjects reply, a reset) are retried with backoff first (engine/transient.py).

Modes: ``strict``: every object must be deleted by this cleanup (one already gone fails too);
``tolerant`` (the default): already gone is fine, an object left behind is not;
``best_effort``: failures are warned about, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Literal

from sai3bench.backends.base import BatchDeleter, DirectoryOwner
from sai3bench.backends.s3shapes import outcome_for
from sai3bench.engine.context import Output, RunContext
from sai3bench.engine.interrupt import active
from sai3bench.engine.intervals import STAGE_TAP
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.prepare import PreparedSet
from sai3bench.engine.retry_rounds import run_with_retry_rounds
from sai3bench.engine.tasklist import report_progress
from sai3bench.engine.transient import STAGE_RETRY, is_transient
from sai3bench.errors import RunFailed
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.share_stat import ShareStat
from sai3bench.outcome import OpError, Outcome

CleanupMode = Literal["strict", "tolerant", "best_effort"]

#: Failures warned about one by one; the rest are summed up in the closing line.
_WARN_EACH = 3


class CleanupResult:
    """What cleanup did, by object. ``errors`` counts objects left behind (their last try
    failed); ``left`` says where, as (set pattern -> count); ``retries`` counts requests sent
    again after a transient failure. ``failure`` is the RunFailed the run should end with."""

    def __init__(self, collector: Collector, wall_s: float) -> None:
        self.collector = collector
        self.wall_s = wall_s
        self.deleted = 0
        self.already_gone = 0
        self.errors = 0
        self.retries = 0
        self.dirs_removed = 0
        self.left: Counter[str] = Counter()
        #: (URI, outcome, detail) of an object left behind, for the one-line message.
        self.last_failure: tuple[str, Outcome, str] | None = None
        self.failure: RunFailed | None = None
        #: Each engine process's figures, when more than one ran the stage.
        self.shares: list[ShareStat] = []

    def __repr__(self) -> str:
        return (
            f"<CleanupResult deleted={self.deleted} gone={self.already_gone} left={self.errors} "
            f"retries={self.retries}>"
        )

    def summary(self) -> str:
        """``deleted 2,651 objects in 1.20s``, or, when not all went, ``deleted 0 of 2,651
        objects (2,651 left behind, 3 already gone, 12 retries) in 1.20s``. Never counts an
        object as deleted that was not."""
        n = self.deleted + self.already_gone + self.errors
        parts = [
            f"{self.errors:,} left behind" if self.errors else "",
            f"{self.already_gone:,} already gone" if self.already_gone else "",
            f"{self.retries:,} retries" if self.retries else "",
        ]
        detail = ", ".join(p for p in parts if p)
        head = f"deleted {self.deleted:,} objects"
        if n != self.deleted:
            head = f"deleted {self.deleted:,} of {n:,} objects"
        if self.dirs_removed:
            head += f" and {self.dirs_removed:,} directories"
        return f"{head}{f' ({detail})' if detail else ''} in {self.wall_s:.2f}s"

    def count(self, ps: PreparedSet, key: str, outcome: Outcome, detail: str, out: Output) -> None:
        """One object's final outcome: deleted, already gone, or left behind."""
        if outcome == Outcome.OK:
            self.deleted += 1
        elif outcome == Outcome.NOT_FOUND:
            self.already_gone += 1
        else:
            uri = ps.backend.uri_of(key)
            self.errors += 1
            self.left[_where(ps)] += 1
            self.last_failure = (uri, outcome, detail)
            if self.errors <= _WARN_EACH:
                out.warn(f"cleanup: could not delete {uri}: {outcome.name} {detail}".rstrip())


def _where(ps: PreparedSet) -> str:
    return ps.pset.glob


async def run_cleanup(
    ctx: RunContext,
    sets: list[PreparedSet],
    *,
    mode: CleanupMode,
    skip_keys: set[str] | frozenset[str] = frozenset(),
) -> CleanupResult:
    """Delete what ``sets`` record as created, minus ``skip_keys`` (deleted by the workload).

    Never raises for failed deletes: ``result.failure`` holds the RunFailed to end the run with
    (after its results are printed and saved), None when the mode accepts the outcome.
    """
    if sets and all(isinstance(ps.backend, BatchDeleter) for ps in sets):
        result = await _cleanup_batched(ctx, sets, skip_keys)
    else:
        result = await _cleanup_each(ctx, sets, skip_keys)
        result.dirs_removed = await remove_created_dirs(sets)
    judge(result, mode, ctx.out)
    return result


def judge(result: CleanupResult, mode: CleanupMode, out: Output) -> None:
    """Set ``result.failure`` by the mode; warn about objects left when the mode accepts them."""
    result.failure = _failure(result, mode)
    if result.errors and result.failure is None:
        out.warn(f"cleanup ({mode}): {_left_line(result)}")


async def _cleanup_each(
    ctx: RunContext, sets: list[PreparedSet], skip_keys: set[str] | frozenset[str]
) -> CleanupResult:
    """One DELETE per object (file://, gs://, az://), transient failures retried in rounds."""
    ops = [
        PlannedOp(index=i, kind=OpKind.DELETE, backend=ps.backend, label=ps.pset.label)
        for i, ps in enumerate(sets)
    ]

    def tasks() -> Iterator[Task]:
        for si, ps in enumerate(sets):
            for idx in ps.created:
                key = ps.key(idx)
                if key not in skip_keys:
                    yield (si, key, 0, 0)

    result = CleanupResult(Collector(), 0.0)
    todo = [sum(1 for i in ps.created if ps.key(i) not in skip_keys) for ps in sets]
    seen = [0] * len(sets)

    def on_task(task: Task, code: int) -> None:
        seen[task[0]] += 1
        result.count(sets[task[0]], task[1], Outcome(code), "", ctx.out)

    run = await run_with_retry_rounds(
        ops,
        tasks(),
        sum(todo),
        workers=ctx.concurrency,
        executor=ctx.executor_for([ps.backend for ps in sets], ctx.concurrency),
        # A single op's detail is kept only for the first failure of each pass (run.errors).
        on_task=on_task,
        out=ctx.out,
        label="cleanup",
    )
    for ps, n, done in zip(sets, todo, seen, strict=True):
        if done < n:  # stopped before these were tried (a signal, a Stop): they are still there
            result.errors += n - done
            result.left[_where(ps)] += n - done
    result.collector, result.wall_s, result.retries = run.collector, run.wall_s, run.retries
    worst = run.worst()  # the failure whose detail is known, if any (already gone is none)
    if worst is not None and worst[1] != Outcome.NOT_FOUND:
        (si, key, _, _), outcome, detail = worst
        result.last_failure = (sets[si].backend.uri_of(key), outcome, detail)
    return result


#: Keys per DeleteObjects request: S3's limit.
BATCH_KEYS = 1000


async def _cleanup_batched(
    ctx: RunContext, sets: list[PreparedSet], skip_keys: set[str] | frozenset[str]
) -> CleanupResult:
    """Object stores with a batch delete: 1,000 keys a request, ``concurrency`` requests at once.

    Each request's latency is recorded once (DELETE, 0 bytes); the summary counts objects. A
    batch that fails as a whole, and the keys a reply lists as failed with a transient code,
    are sent again after a jittered backoff, up to STAGE_RETRY's rounds.
    """
    chunks: list[tuple[PreparedSet, list[str]]] = []
    for ps in sets:
        keys = [k for k in (ps.key(i) for i in ps.created) if k not in skip_keys]
        chunks += [(ps, keys[i : i + BATCH_KEYS]) for i in range(0, len(keys), BATCH_KEYS)]
    result = CleanupResult(Collector(), 0.0)
    gate = asyncio.Semaphore(ctx.concurrency)
    t0 = time.perf_counter()
    total = sum(len(keys) for _, keys in chunks)
    ticker = asyncio.create_task(
        report_progress(
            ctx.out, "cleanup", total, lambda: result.deleted + result.already_gone + result.errors
        )
    )
    try:
        await asyncio.gather(*(_delete_chunk(ctx, ps, keys, gate, result) for ps, keys in chunks))
    finally:
        ticker.cancel()
        ctx.out.progress("")
    result.wall_s = time.perf_counter() - t0
    return result


async def _delete_chunk(
    ctx: RunContext,
    ps: PreparedSet,
    keys: list[str],
    gate: asyncio.Semaphore,
    result: CleanupResult,
) -> None:
    rng = random.Random()
    for attempt in range(STAGE_RETRY.max_retries + 1):
        failed = await _send_batch(ps, keys, gate, result.collector)
        retry = [(k, o, d) for k, o, d in failed if is_transient(o)]
        final = [(k, o, d) for k, o, d in failed if not is_transient(o)]
        if attempt == STAGE_RETRY.max_retries:
            final, retry = final + retry, []
        result.deleted += len(keys) - len(failed)
        for key, outcome, detail in final:
            result.count(ps, key, outcome, detail, ctx.out)
        if not retry:
            return
        keys = [k for k, _, _ in retry]
        result.retries += 1
        result.collector.record_retry(OpKind.DELETE, retry[0][1])  # one request, by outcome
        await asyncio.sleep(STAGE_RETRY.delay_s(attempt, rng))


async def _send_batch(
    ps: PreparedSet, keys: list[str], gate: asyncio.Semaphore, collector: Collector
) -> list[tuple[str, Outcome, str]]:
    """One DeleteObjects request: (key, outcome, detail) for each key not deleted by it."""
    deleter = ps.backend
    assert isinstance(deleter, BatchDeleter)  # run_cleanup checked every set
    async with gate:
        t0 = time.perf_counter_ns()
        tap = STAGE_TAP.get()  # the perf-log's current interval (engine/intervals.py)
        try:
            failed = await deleter.delete_many(keys)
        except OpError as exc:
            for c in (collector, tap.current) if tap is not None else (collector,):
                c.record_error(OpKind.DELETE, exc.outcome)
            return [(k, exc.outcome, exc.detail) for k in keys]
        latency = time.perf_counter_ns() - t0
        for c in (collector, tap.current) if tap is not None else (collector,):
            c.record(OpKind.DELETE, 0, latency)
    # A per-key error carries an S3 code and no status: a known code decides (NoSuchKey,
    # AccessDenied, SlowDown); an unknown one (InternalError) counts as a 5xx, so it is retried.
    return [(k, outcome_for(500, code), f"{code} {message}".strip()) for k, code, message in failed]


def _left_line(result: CleanupResult) -> str:
    where = ", ".join(f"{n:,} under {w}" for w, n in sorted(result.left.items()))
    n = result.deleted + result.already_gone + result.errors
    line = f"left {result.errors:,} of {n:,} prepared objects behind ({where})"
    if result.last_failure is not None:
        key, outcome, detail = result.last_failure
        line += f"; last: {outcome.name} on {key}{f': {detail}' if detail else ''}"
    return line


def _failure(result: CleanupResult, mode: CleanupMode) -> RunFailed | None:
    if mode == "best_effort":
        return None
    if result.errors:
        outcome = result.last_failure[1] if result.last_failure else Outcome.OTHER
        why = (
            "the credentials may not delete there: fix that, then"
            if outcome == Outcome.PERMISSION
            else "when the storage accepts deletes again,"
        )
        return RunFailed(
            f"cleanup ({mode}): {_left_line(result)}",
            hint=f"{why} remove them with `sai3bench run --cleanup-only` and the same config "
            "(or set cleanup_mode: best_effort to only warn)",
        )
    if mode == "strict" and result.already_gone:
        return RunFailed(
            f"cleanup (strict): {result.already_gone:,} prepared objects were already gone",
            hint="use cleanup_mode: tolerant to ignore objects that are already gone",
        )
    return None


async def remove_created_dirs(sets: list[PreparedSet]) -> int:
    """Directories this run made, deepest first, each only if empty: the coordinator's job
    once every share's deletes are done. Off the event loop (a big tree's rmdirs take seconds:
    8,421 took 16 s here, one thread), a depth's directories in parallel threads, and a
    signal that stops cleanup stops it at the next directory."""
    removed = 0
    halt = _Halt()
    stop = active()
    loop = asyncio.get_running_loop()
    with stop.watching(halt) if stop is not None else contextlib.nullcontext():
        for ps in sets:
            if not isinstance(ps.backend, DirectoryOwner):
                continue
            rmdir = ps.backend.rmdir_if_empty
            # Deepest first; a directory that is not empty (or already gone) is left and
            # counted out, and its parents then fail the same way (rmdir never removes
            # contents). A depth's directories have no parent among each other.
            by_depth: dict[int, list[str]] = {}
            for d in ps.created_dirs:
                by_depth.setdefault(d.rstrip("/").count("/"), []).append(d)
            for depth in sorted(by_depth, reverse=True):
                level = by_depth[depth]
                chunks = [level[k : k + _DIR_CHUNK] for k in range(0, len(level), _DIR_CHUNK)]
                done = await asyncio.gather(
                    *(loop.run_in_executor(None, _rmdirs, rmdir, c, halt) for c in chunks)
                )
                removed += sum(done)
                if halt.is_set():
                    return removed
    return removed


#: Directories one thread removes per executor call.
_DIR_CHUNK = 64


class _Halt(threading.Event):
    """A stop for the directory removal (interrupt.Stoppable): threads end at the next one."""

    def stop(self) -> None:
        self.set()


def _rmdirs(rmdir: Callable[[str], bool], paths: list[str], halt: threading.Event) -> int:
    removed = 0
    for d in paths:
        if halt.is_set():
            break
        removed += bool(rmdir(d))
    return removed
