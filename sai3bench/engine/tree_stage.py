"""Tree mode in the stages (upstream §2.7): the directories prepare makes, the pools the
workload picks from, the markers cleanup removes.

The manifest is plan/tree.py's arithmetic, never a listing. Files go through the ordinary
prepare and cleanup (a tree set names its objects by the manifest); this module adds what only a
tree has:

- prepare makes every tree directory once, level by level, before the files (upstream makes them
  after, with mkdir; the result is the same and no PUT then needs ``os.makedirs``). Each
  directory this run made is remembered, so cleanup removes exactly those (deepest first, only
  if empty: a foreign file keeps its directory and their parents). Object stores have no
  directories: none are made, and the output says so;
- the workload: GET, PUT, STAT pick a random tree file (PUT overwrites one, as upstream), DELETE
  takes each tree file at most once, MKDIR and RMDIR pick a random tree directory. The op's own
  path is ignored, as upstream's PathSelector ignores it (said once when it is not the tree).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Sequence

from sai3bench.backends.base import BlockingBackend, DirectoryMaker, DirectoryOwner
from sai3bench.config.schema import Config, MkdirOp, Op, PutOp, RmdirOp
from sai3bench.engine.context import RunContext
from sai3bench.engine.dirops import delete_keys, marker_key
from sai3bench.engine.interrupt import active
from sai3bench.engine.ops import PlannedOp
from sai3bench.engine.prepare import PreparedSet
from sai3bench.errors import StorageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import OpError, Outcome
from sai3bench.plan.share import OpPool, WorkloadPlan
from sai3bench.plan.sizes import SizeSampler
from sai3bench.plan.tree import TreeLayout, TreePaths

#: OpPool.tree: what a tree op picks from.
FILES, DIRS = "files", "dirs"
#: Directories one thread makes per executor call in prepare.
_CHUNK = 64


def _kind(op: Op) -> str:
    return str(op.__struct_config__.tag)


def tree_pools(ctx: RunContext, config: Config, layout: TreeLayout, base_uri: str) -> WorkloadPlan:
    """Every workload entry's pool in tree mode. LIST keeps its own path (upstream lists it);
    a DELETE pool is every tree file, shuffled with the run's seed and consumed once."""
    pools: list[OpPool] = []
    backend = ctx.backends.for_uri(base_uri)
    base = backend.key_of(base_uri)
    for i, op in enumerate(config.workload):
        kind = _kind(op)
        if kind == "list":
            pools.append(OpPool())
            continue
        if not _is_tree_root(op.path, base_uri):
            ctx.out.warn(
                f"workload[{i}] ({kind} {op.path}): in tree mode every {kind} acts on the tree "
                f"under {base_uri}; its path is ignored, as upstream ignores it"
            )
        if kind == "delete":
            keys = list(TreePaths(layout, base))
            ctx.rng.shuffle(keys)
            pools.append(OpPool(keys=keys, deletes=True))
        else:
            pools.append(OpPool(tree=DIRS if kind in ("mkdir", "rmdir") else FILES))
    return WorkloadPlan(pools)


def _is_tree_root(path: str, base_uri: str) -> bool:
    """The op's path names the tree itself (upstream configs write "/" under the target)."""
    return path.rstrip("/") == base_uri.rstrip("/") or path in ("", "/")


def tree_op(
    ctx: RunContext, i: int, op: Op, pool: OpPool, layout: TreeLayout, base_uri: str
) -> PlannedOp:
    """One tree-mode PlannedOp from its pool (no I/O): keys made on access from the layout."""
    backend = ctx.backends.for_uri(base_uri)
    base = backend.key_of(base_uri)
    kind = OpKind[_kind(op).upper()]
    p = PlannedOp(index=i, kind=kind, backend=backend, label=f"workload[{i}] ({_kind(op)} tree)")
    if pool.deletes:
        p.keys = list(pool.keys)  # popped: never the plan's own list
        return p
    p.keys = TreePaths(layout, base, dirs=pool.tree == DIRS)
    if isinstance(op, PutOp):
        p.sampler = SizeSampler(op.size_spec)
        p.data = ctx.data_source("random", op.dedup_factor, op.compress_factor)
    elif isinstance(op, MkdirOp | RmdirOp):
        p.dirs = backend if isinstance(backend, DirectoryMaker) else None
        p.recursive = isinstance(op, RmdirOp) and op.recursive
        if p.dirs is None and isinstance(backend, BlockingBackend):
            raise StorageError(
                f"{p.label}: {backend!r} has no directories to {_kind(op)}",
                hint="run mkdir/rmdir against one file:// or direct:// target, not several",
            )
    return p


# -- prepare ----------------------------------------------------------------------------------


async def make_tree_dirs(ctx: RunContext, ps: PreparedSet) -> Collector:
    """Make the missing directories above the tree and every tree directory, level by level,
    threads in parallel; ``ps.created_dirs`` becomes exactly those this call made (outermost
    first). Returns their MKDIR latencies. Object stores: nothing.

    Raises StorageError when a directory cannot be made; the ones made so far are removed.
    """
    collector = Collector()
    layout, maker = ps.pset.tree, ps.backend
    if layout is None or not isinstance(maker, DirectoryMaker):
        if layout is not None:
            ctx.out.say(
                f"Tree {ps.pset.base_uri}: {layout.total_dirs:,} directories are key prefixes "
                "on this storage; no directory objects are made"
            )
        return collector
    executor = maker.executor if isinstance(maker, BlockingBackend) else None
    loop = asyncio.get_running_loop()
    base = ps.base_key
    ps.created_dirs = []
    above = _missing_above(base)
    existed = 0
    halt = _Halt()
    stop = active()
    with stop.watching(halt) if stop is not None else contextlib.nullcontext():
        for chunks in _batches(layout, base, above):  # a level's parents exist before it
            if halt.is_set():
                break
            done = await asyncio.gather(
                *(loop.run_in_executor(executor, _make_dirs, maker, c, halt) for c in chunks)
            )
            existed += _note_made(ps, collector, done)
    made = len(ps.created_dirs) - len(above)
    ctx.out.say(
        f"Tree {ps.pset.base_uri}: MKDIR {made:,} of {layout.total_dirs:,} directories "
        f"({existed:,} existed{f', and {len(above):,} above the tree' if above else ''})"
        f"{'; stopped by the signal' if halt.is_set() else ''}; {layout.total_files:,} files"
    )
    return collector


class _Halt(threading.Event):
    """A signal's stop for the directory pass (interrupt.Stoppable): the threads end at their
    next directory, and those made so far stay in ``created_dirs`` for cleanup."""

    def stop(self) -> None:
        self.set()


_MKDIR_HINTS = {
    Outcome.PERMISSION: "make the tree's base_uri writable for this user",
    Outcome.NO_SPACE: "free space (or inodes) on the target's file system",
    Outcome.CLIENT_ERROR: "a file stands where the tree needs a directory: move it, or the tree",
}


def _batches(layout: TreeLayout, base: str, above: list[str]) -> list[list[list[str]]]:
    """The directories to make, as batches run one after another, each split in chunks run in
    parallel: the root's missing ancestors (in order, one chunk), then the tree level by level."""
    batches = [[above]] if above else []
    for start, n in zip(layout.level_start, layout.levels, strict=True):
        level = [base + layout.dir_path(d) for d in range(start, start + n)]
        batches.append([level[k : k + _CHUNK] for k in range(0, len(level), _CHUNK)])
    return batches


def _note_made(
    ps: PreparedSet,
    collector: Collector,
    done: Sequence[tuple[list[tuple[str, bool, int]], OpError | None]],
) -> int:
    """File one batch's results: each MKDIR's latency, the directories made in
    ``ps.created_dirs``. Returns how many existed; on a failure the directories made so far
    are removed and StorageError raised."""
    existed = 0
    for results, _ in done:
        for path, created, ns in results:
            collector.record(OpKind.MKDIR, 0, ns)
            if created:
                ps.created_dirs.append(path)
            else:
                existed += 1
    failure = next((f for _, f in done if f is not None), None)
    if failure is not None:
        _undo(ps)
        raise StorageError(
            f"prepare: could not make tree directory: {failure.detail or failure.outcome.name}",
            hint=_MKDIR_HINTS.get(failure.outcome, "check the tree's base_uri"),
        )
    return existed


def _missing_above(base: str) -> list[str]:
    """The tree root and its ancestors that do not exist yet, outermost first."""
    out = []
    d = base.rstrip("/")
    while d and not os.path.isdir(d):
        out.append(d)
        d = os.path.dirname(d)
    return out[::-1]


def _make_dirs(
    maker: DirectoryMaker, paths: Sequence[str], halt: threading.Event | None = None
) -> tuple[list[tuple[str, bool, int]], OpError | None]:
    """In a worker thread: make each directory, in order, up to the first failure or until
    ``halt`` is set: ((path, made here, latency ns) of each one done, the failure or None)."""
    clock = time.perf_counter_ns
    out: list[tuple[str, bool, int]] = []
    for path in paths:
        if halt is not None and halt.is_set():
            break
        t0 = clock()
        try:
            created = maker.make_dir(path)
        except OpError as exc:
            return out, exc
        out.append((path, created, clock() - t0))
    return out, None


def _undo(ps: PreparedSet) -> None:
    """Remove the directories this prepare made before it failed (deepest first, if empty)."""
    if isinstance(ps.backend, DirectoryOwner):
        for d in reversed(ps.created_dirs):
            ps.backend.rmdir_if_empty(d)
    ps.created_dirs.clear()


def tree_dirs_of(ps: PreparedSet) -> list[str]:
    """Every tree directory (outermost first): what ``--cleanup-only`` removes where empty."""
    layout = ps.pset.tree
    if layout is None or not isinstance(ps.backend, DirectoryOwner):
        return []
    return [ps.base_key + layout.dir_path(d) for d in range(layout.total_dirs)]


# -- cleanup ----------------------------------------------------------------------------------


async def remove_markers(config: Config, sets: Sequence[PreparedSet]) -> int:
    """Delete the ``dir/`` markers a tree workload's MKDIR may have left on an object store
    (one per tree directory; absent ones are no error). Returns how many deletes were sent."""
    if not any(isinstance(op, MkdirOp) for op in config.workload):
        return 0
    sent = 0
    for ps in sets:
        layout = ps.pset.tree
        if layout is None or isinstance(ps.backend, DirectoryMaker):
            continue
        keys = [marker_key(ps.base_key + layout.dir_path(d)) for d in layout.dirs_deepest_first()]
        await delete_keys(ps.backend, keys)
        sent += len(keys)
    return sent
