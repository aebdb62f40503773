"""The prepare stage: list what exists, create only the missing objects, in parallel.

Rule: prepare never overwrites an object it did not find missing (unless ``force_overwrite``), and
remembers exactly which objects it created, so cleanup can delete those and nothing else.
"""

from __future__ import annotations

import logging
import os
from array import array
from collections.abc import Callable, Iterator

from sai3bench.backends.base import Backend, DirectoryOwner
from sai3bench.config.schema import Prepare
from sai3bench.engine.context import RunContext
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.retry_rounds import RetriedRun, is_permanent, run_with_retry_rounds
from sai3bench.engine.transient import list_with_retry
from sai3bench.errors import StorageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.metrics.share_stat import ShareStat
from sai3bench.outcome import Outcome
from sai3bench.plan.keys import join_key, shard_dir
from sai3bench.plan.share import IndicesPerSet, PreparePlan
from sai3bench.plan.tasks import (
    PrepareSet,
    describe_wrong_sizes,
    interleave,
    missing_indices,
    take_census,
)

log = logging.getLogger(__name__)

#: Salt = set index << 40 | object index: unique per object of a run, index recoverable.
SALT_SHIFT = 40


class PreparedSet:
    """One prepared pool after the stage: what existed, what this run created."""

    def __init__(self, pset: PrepareSet, backend: Backend, base_key: str) -> None:
        self.pset = pset
        self.backend = backend
        self.base_key = base_key
        self.existed = 0
        self.created = array("q")
        #: Directories this run made (deepest last), removed by cleanup only if left empty.
        self.created_dirs: list[str] = []

    def __repr__(self) -> str:
        return f"<PreparedSet {self.pset.base_uri}{self.pset.pool}-* created={len(self.created)}>"

    def key(self, idx: int) -> str:
        return self.base_key + self.pset.name(idx)

    def to_clean(self, skip_keys: set[str] | frozenset[str]) -> list[int]:
        """The created indices cleanup deletes: all but the keys the workload deleted; in a
        tree all of them (a workload PUT may write again a file its DELETE or RMDIR removed,
        and one gone since counts as already gone)."""
        if self.pset.tree is not None or not skip_keys:
            return list(self.created)
        return [i for i in self.created if self.key(i) not in skip_keys]


class PrepareResult:
    def __init__(self, sets: list[PreparedSet], collector: Collector, wall_s: float) -> None:
        self.sets = sets
        self.collector = collector
        self.wall_s = wall_s
        #: Per-endpoint counts for this stage when multi_endpoint routes ops, else None.
        self.endpoint_stats: list[EndpointStat] | None = None
        #: PUTs sent again after a transient failure (also in the collector, by op kind).
        self.retries = 0
        #: Each engine process's figures, when more than one ran the stage.
        self.shares: list[ShareStat] = []

    @property
    def created(self) -> int:
        return sum(len(s.created) for s in self.sets)

    @property
    def existed(self) -> int:
        return sum(s.existed for s in self.sets)


async def plan_prepare(
    ctx: RunContext, prepare: Prepare, sets: list[PrepareSet]
) -> tuple[list[PreparedSet], PreparePlan]:
    """List every set once (the coordinator's job): which indices are missing, how many exist,
    which directories a file:// prepare will make. Shares then create their part of ``todo``."""
    prepared = [_open_set(ctx, s) for s in sets]
    todo: IndicesPerSet = []
    for ps in prepared:
        missing = await _missing(ps, prepare, ctx.out.warn)
        todo.append(missing.tolist())
        ps.existed = ps.pset.spec.count - len(missing)
        log.info("%r: %d exist, %d to create", ps, ps.existed, len(missing))
        if len(missing):
            ps.created_dirs = _missing_dirs(ps)
    return prepared, PreparePlan(todo=todo)


def open_sets(ctx: RunContext, sets: list[PrepareSet]) -> list[PreparedSet]:
    return [_open_set(ctx, s) for s in sets]


async def run_prepare(
    ctx: RunContext, prepare: Prepare, prepared: list[PreparedSet], todo: IndicesPerSet
) -> PrepareResult:
    """Create the objects ``todo`` names (per set: indices), recording each one created.

    Transient failures (503 SlowDown, resets, truncated replies) are retried in deferred rounds
    with jittered exponential backoff (engine/retry_rounds.py), whatever ``error_handling`` says:
    a prepare that stops half way leaves no benchmark. Raises PrepareFailed at the first
    permanent failure (403, a missing bucket, 400, ENOSPC), or when objects' retries run out.
    """
    sizes = [
        ps.pset.sizes() if len(t) else array("q") for ps, t in zip(prepared, todo, strict=True)
    ]
    ops = _put_ops(ctx, prepared)

    def on_task(task: Task, code: int) -> None:
        if code == 0:
            prepared[task[0]].created.append(task[3] & ((1 << SALT_SHIFT) - 1))

    result = PrepareResult(prepared, Collector(), 0.0)
    for group, count in _groups(prepare, todo):
        run = await run_with_retry_rounds(
            ops,
            ((si, prepared[si].key(i), sizes[si][i], si << SALT_SHIFT | i) for si, i in group),
            count,
            workers=ctx.concurrency,
            executor=ctx.executor_for([p.backend for p in prepared], ctx.concurrency),
            on_task=on_task,
            out=ctx.out,
            label="prepare",
            stop_when=is_permanent,
        )
        result.collector.merge(run.collector)
        result.wall_s += run.wall_s
        result.retries += run.retries
        if run.interrupted:  # a signal: hand back what was created, for cleanup
            break
        if run.failed:
            raise PrepareFailed.of_run(result, run)
    return result


def _put_ops(ctx: RunContext, prepared: list[PreparedSet]) -> list[PlannedOp]:
    """One PUT op per set, each with its set's data source."""
    return [
        PlannedOp(
            index=i,
            kind=OpKind.PUT,
            backend=ps.backend,
            label=ps.pset.label,
            data=ctx.data_source(
                ps.pset.spec.fill, ps.pset.spec.dedup_factor, ps.pset.spec.compress_factor
            ),
        )
        for i, ps in enumerate(prepared)
    ]


def _groups(prepare: Prepare, todo: IndicesPerSet) -> list[tuple[Iterator[tuple[int, int]], int]]:
    """(set index, object index) task groups, each run to the end before the next starts.

    parallel: one group round-robin over every entry. sequential: one entry at a time (a failure
    in entry 2 leaves entry 1 complete, its retries included).
    """
    if prepare.prepare_strategy == "parallel":
        return [(interleave(todo), sum(len(t) for t in todo))]
    return [(_one_entry(si, t), len(t)) for si, t in enumerate(todo) if len(t)]


def _one_entry(si: int, indices: list[int]) -> Iterator[tuple[int, int]]:
    # A function, not a generator expression in a comprehension: that would bind ``si`` late
    # and file every entry's objects under the last entry.
    return ((si, i) for i in indices)


#: The fix for the outcome that ended a prepare; the default covers the rest.
_HINTS: dict[Outcome, str] = {
    Outcome.PERMISSION: (
        "make the target writable for this user (for s3://, gs://, az://: the credentials and "
        "the bucket's access policy), or point base_uri elsewhere"
    ),
    Outcome.NO_SPACE: "free space on the target, or lower count / object sizes",
    Outcome.NOT_FOUND: "check that the bucket, container or directory in base_uri exists",
    Outcome.CLIENT_ERROR: (
        "the storage refused the request as invalid (4xx): check base_uri and that the object "
        "sizes are within its limits"
    ),
    Outcome.THROTTLED: (
        "the storage kept asking to slow down (503 SlowDown / 429): lower concurrency, or rerun "
        "later"
    ),
    Outcome.SERVER_ERROR: "the storage kept failing with 5xx errors: check its health, then rerun",
    Outcome.TIMEOUT: "requests kept timing out: check that the endpoint is up and not overloaded",
    Outcome.CONNECTION: "connections kept failing: check that the endpoint is up and reachable",
    Outcome.PROTOCOL: "the replies kept arriving malformed: check that the endpoint is the storage",
}


class PrepareFailed(StorageError):
    """Prepare could not create every object. Carries what was created so far, for cleanup.

    One line: the permanent failure that stopped it, or how many objects were still failing
    when their retries ran out, with the last outcome; the hint fits that outcome.
    """

    def __init__(
        self, result: PrepareResult, msg: str, *, outcome: Outcome, failed: int, hint: str = ""
    ) -> None:
        super().__init__(msg, hint=hint or _HINTS.get(outcome, _DEFAULT_HINT))
        self.result = result
        self.failed = failed
        self.outcome = outcome

    @classmethod
    def of_run(cls, result: PrepareResult, run: RetriedRun) -> PrepareFailed:
        worst = run.worst()
        assert worst is not None
        task, outcome, detail = worst
        key = result.sets[task[0]].backend.uri_of(task[1])
        if run.stopped_by is not None or not run.rounds:
            msg = f"prepare failed writing {key}: {detail}"
        else:
            msg = (
                f"prepare failed writing {len(run.failed):,} objects: still failing after "
                f"{run.rounds} retry rounds (last: {outcome.name} on {key}: {detail})"
            )
        return cls(result, msg, outcome=outcome, failed=len(run.failed))


_DEFAULT_HINT = "check that the target exists and is writable"


def _open_set(ctx: RunContext, pset: PrepareSet) -> PreparedSet:
    backend = ctx.backends.for_uri(pset.base_uri)
    return PreparedSet(pset, backend, backend.key_of(pset.base_uri))


async def _missing(
    ps: PreparedSet, prepare: Prepare, warn: Callable[[str], None] = log.warning
) -> array[int]:
    count = ps.pset.spec.count
    if prepare.force_overwrite:  # wins over skip_verification, as upstream (v0.8.24)
        return array("q", range(count))
    if prepare.skip_verification:
        return array("q")  # upstream meaning: assume all `count` objects exist, no LIST
    # Recursive: no delimiter is needed, since only exact names count (take_census), and
    # S3 servers then see a plain prefix query (moto 5.2 fails SigV4 on %2F in a query value).
    pset = ps.pset
    listed = await list_with_retry(ps.backend, pset.list_prefix(ps.base_key), recursive=True)
    # Sizes come with the listing (no extra request): an object of the wrong size, left short by
    # a full disk or a killed run, is missing, re-created, and then counts as created by this run.
    sizes = ps.pset.sizes()
    cut = len(ps.base_key)
    names = ((o.key[cut:], o.size) for o in listed)
    census = take_census(names, pset.pool, count, sizes, pset.shards, pset.tree)
    if census.wrong_size:
        warn(
            f"{ps.pset.label}: {len(census.wrong_size):,} objects under {ps.pset.base_uri} have "
            f"the wrong size and are re-created ({describe_wrong_sizes(ps.pset, census, sizes)})"
        )
    return missing_indices(count, census.intact)


def _missing_dirs(ps: PreparedSet) -> list[str]:
    """Directories a file:// prepare will create (outermost first); empty for object stores."""
    if not ps.pset.base_uri.startswith(("file://", "direct://")):
        return []
    # Under multi_endpoint the key is relative; each endpoint's directory gets created.
    b = ps.backend
    keys = b.child_keys(ps.base_key) if isinstance(b, DirectoryOwner) else [ps.base_key]
    out = []
    for key in keys:
        d = key.rstrip("/")
        mine = []
        while d and not os.path.exists(d):
            mine.append(d)
            d = os.path.dirname(d)
        out.extend(mine[::-1])
    # A shard directory that does not exist holds none of the set: prepare makes it.
    return out + [d for d in _shard_dirs(ps) if not os.path.exists(d)]


def existing_shard_dirs(ps: PreparedSet) -> list[str]:
    """cleanup-only: the set's shard directories that exist (removed by cleanup if empty)."""
    return [d for d in _shard_dirs(ps) if os.path.isdir(d)]


def _shard_dirs(ps: PreparedSet) -> list[str]:
    """The key_prefix_shards directories a file:// set's objects go in (``base/2a``); cleanup
    removes those its run made, each only if empty."""
    n = ps.pset.shards
    if n <= 0 or not ps.pset.base_uri.startswith(("file://", "direct://")):
        return []
    b = ps.backend
    keys = b.child_keys(ps.base_key) if isinstance(b, DirectoryOwner) else [ps.base_key]
    used = range(min(n, ps.pset.spec.count))
    return [join_key(key, shard_dir(i, n)).rstrip("/") for key in keys for i in used]
