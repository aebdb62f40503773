"""Workload entries -> a WorkloadPlan (globs listed once, by the coordinator) -> PlannedOps.

The listing half (``plan_workload``) runs once per run before the clock starts; the other half
(``planned_ops``) builds one engine process's ops from its share of the plan, with no I/O.

Rules: an op that reads or deletes must have at least one object to act on; an empty match is a
one-line error naming the op and the pattern, never a run full of NotFound. A DELETE pool holds
only listed objects of this run's prepare sets (``prepared-NNNNNNNN.dat`` below ``count``; the
``deletable-`` twins in a mixed workload): whatever else its glob matches is never deleted, and
a DELETE left with nothing is a config error.
"""

from __future__ import annotations

import logging

import msgspec

from sai3bench.backends.base import Backend
from sai3bench.config.schema import Config, GetOp, ListOp, MkdirOp, Op, PutOp, RmdirOp, StatOp
from sai3bench.engine.context import RunContext
from sai3bench.engine.ops import PlannedOp
from sai3bench.engine.put_pool import is_fed, put_base, wire
from sai3bench.engine.transient import list_with_retry
from sai3bench.engine.tree_stage import tree_op, tree_pools
from sai3bench.errors import ConfigError
from sai3bench.metrics.collector import OpKind
from sai3bench.plan.keys import DELETABLE, IndexedKeys, plan_glob
from sai3bench.plan.share import IndexedPool, OpPool, WorkloadPlan
from sai3bench.plan.sizes import SizeSampler
from sai3bench.plan.tasks import (
    PrepareSet,
    is_mixed,
    prepare_sets,
    rewrite_delete_path,
    set_index,
)
from sai3bench.plan.tree import dir_op_problem, tree_of, tree_root

log = logging.getLogger(__name__)

_KIND = {
    GetOp: OpKind.GET,
    PutOp: OpKind.PUT,
    ListOp: OpKind.LIST,
    StatOp: OpKind.STAT,
    MkdirOp: OpKind.MKDIR,
    RmdirOp: OpKind.RMDIR,
}


def op_kind(op: Op) -> OpKind:
    return _KIND.get(type(op), OpKind.DELETE)


class _Entry:
    """One workload entry's target: its kind, the path it acts on, its backend and label."""

    __slots__ = ("backend", "deep", "kind", "label", "op", "path")

    def __init__(self, ctx: RunContext, i: int, op: Op, mixed: bool, shards: int = 0) -> None:
        self.op = op
        #: key_prefix_shards: globs and directories list recursively (plan_glob's ``deep``).
        self.deep = shards > 0
        self.kind = kind = op_kind(op)
        self.path = rewrite_delete_path(op.path) if mixed and kind == OpKind.DELETE else op.path
        self.backend = ctx.backends.for_uri(self.path)
        self.label = f"workload[{i}] ({kind.name.lower()} {op.path})"


async def plan_workload(ctx: RunContext, config: Config) -> WorkloadPlan:
    """Every entry's pool, listed once by the coordinator; DELETE pools shuffled with the run's
    seed (the order they are consumed in), so a split deals out a random part to each share.
    In tree mode the pools come from the tree's manifest (engine/tree_stage.py), unlisted."""
    problem = dir_op_problem(config)  # the CLI refused it already; kept for other callers
    if problem is not None:
        raise problem
    tree = tree_of(config.prepare)
    if tree is not None and config.prepare is not None:
        return tree_pools(ctx, config, tree, tree_root(config.prepare))
    mixed = is_mixed(config)
    sets = prepare_sets(config.prepare, mixed=mixed)
    # What a DELETE may draw from: in a mixed workload only the deletable- twins, so that a
    # glob such as data/* never takes the objects the GETs read.
    delete_sets = [s for s in sets if not mixed or s.pool == DELETABLE]
    skip_listing = config.prepare is not None and config.prepare.skip_verification
    shards = _shards(config)
    entries = [_Entry(ctx, i, op, mixed, shards) for i, op in enumerate(config.workload)]
    # A PUT of weight 0 never runs, so it feeds nothing (an empty glob it "fed" ran no op).
    puts = [
        (e.backend, put_base(e.backend, e.path))
        for e in entries
        if e.kind == OpKind.PUT and e.op.weight > 0
    ]
    pools: list[OpPool] = []
    for e in entries:
        if e.kind in (OpKind.PUT, OpKind.LIST):
            pools.append(OpPool())
        elif e.kind == OpKind.DELETE:
            keys = await _delete_pool(ctx, e, delete_sets, from_plan=skip_listing)
            ctx.rng.shuffle(keys)
            pools.append(OpPool(keys=keys, deletes=True))
        else:
            indexed = _from_plan(e, sets) if skip_listing else None
            fed = config.dynamic_put_pool and is_fed((e.backend, e.path), puts, shards=shards)
            keys = [] if indexed is not None else await _match(e, empty_ok=fed)
            pools.append(OpPool(keys=keys, indexed=indexed))
    if mixed:
        pools = _separate_pools(entries, pools)
    for e, p in zip(entries, pools, strict=True):
        n = p.indexed.count if p.indexed is not None else len(p.keys)
        log.info("%s: %d keys, backend %r", e.label, n, e.backend)
    return WorkloadPlan(pools)


def planned_ops(ctx: RunContext, config: Config, pools: list[OpPool]) -> list[PlannedOp]:
    """One PlannedOp per workload entry, in config order, from a share's pools (no I/O)."""
    mixed = is_mixed(config)
    planned: list[PlannedOp] = []
    tree = tree_of(config.prepare)
    for i, (op, pool) in enumerate(zip(config.workload, pools, strict=True)):
        if tree is not None and config.prepare is not None and not isinstance(op, ListOp):
            planned.append(tree_op(ctx, i, op, pool, tree, tree_root(config.prepare)))
            continue
        e = _Entry(ctx, i, op, mixed)
        p = PlannedOp(index=i, kind=e.kind, backend=e.backend, label=e.label)
        if isinstance(op, PutOp):
            p.base = put_base(e.backend, e.path)
            p.shards = _shards(config)
            p.sampler = SizeSampler(op.size_spec)
            p.data = ctx.data_source("random", op.dedup_factor, op.compress_factor)
        elif e.kind == OpKind.LIST:
            p.base = e.backend.key_of(e.path)
        elif pool.indexed is not None:
            ix = pool.indexed
            p.keys = IndexedKeys(ix.base, ix.pool, ix.count, ix.shards)
        elif pool.deletes:
            p.keys = list(pool.keys)  # popped: never the plan's own list
        else:
            p.keys = pool.keys  # read only: one list, however many ops read it
        planned.append(p)
    if config.dynamic_put_pool and tree is None:
        wire(planned, [op.path for op in config.workload], shards=_shards(config))
    return planned


async def match_keys(
    backend: Backend,
    uri: str,
    *,
    prefix_recursive: bool = False,
    listed_only: bool = False,
    deep: bool = False,
) -> list[str]:
    """The keys a URI names, sorted: itself, the objects under a ``prefix/`` (directly under it,
    like sai3-bench, unless ``prefix_recursive``), or a glob's matches (listed once).

    ``listed_only``: an exact key too is returned only when a listing shows it exists.
    ``deep``: list globs and prefixes recursively (the run's keys sit in shard directories).
    """
    glob = plan_glob(uri, deep=deep)
    if glob is None:
        key = backend.key_of(uri)
        if not listed_only:
            return [key]
        listed = await list_with_retry(backend, key, recursive=False)
        return [key] if any(info.key == key for info in listed) else []
    recursive = glob.recursive or (prefix_recursive and glob.pattern is None)
    listed = await list_with_retry(backend, backend.key_of(glob.prefix), recursive=recursive)
    pattern = glob.pattern
    return sorted(
        info.key
        for info in listed
        if pattern is None or pattern.match(backend.uri_of(info.key)) is not None
    )


async def _match(e: _Entry, *, listed_only: bool = False, empty_ok: bool = False) -> list[str]:
    """``empty_ok``: dynamic_put_pool and a PUT of the workload makes keys ``e`` matches."""
    keys = await match_keys(e.backend, e.path, listed_only=listed_only, deep=e.deep)
    if not keys and not empty_ok:
        raise ConfigError(
            f"{e.label}: no objects match {e.path}",
            hint="create them with prepare.ensure_objects, or fix the path",
        )
    return keys


async def _delete_pool(
    ctx: RunContext, e: _Entry, sets: list[PrepareSet], *, from_plan: bool
) -> list[str]:
    """The keys a DELETE may remove: listed objects of ``sets`` that its path matches.

    With skip_verification, a glob naming one whole set is taken from the plan unlisted, as
    for reads. Anything else the glob matches (names beyond ``count``, other names, another
    pool) is left alone, and said so; nothing left is a config error.
    """
    planned = _from_plan(e, sets) if from_plan else None
    if planned is not None:  # a delete pool is popped: materialise it
        return list(IndexedKeys(planned.base, planned.pool, planned.count, planned.shards))
    matched = await _match(e, listed_only=True)
    bases = [
        (base, s.pool, s.spec.count, s.shards)
        for s in sets
        if e.backend.uri_of(base := e.backend.key_of(s.base_uri)) == s.base_uri
    ]
    keys = [k for k in matched if _in_a_set(k, bases)]
    if not keys:
        raise ConfigError(
            f"{e.label}: none of the {len(matched):,} objects matching {e.path} belongs to "
            "this run's prepare sets, and a run deletes nothing else",
            hint="a workload delete takes only prepare.ensure_objects' objects "
            "(prepared-NNNNNNNN.dat below count; deletable- in a mixed workload): "
            "point the path at such a set, or add one under prepare",
        )
    if len(keys) < len(matched):
        ctx.out.say(
            f"{e.label}: leaves {len(matched) - len(keys):,} matching objects alone "
            "(not in a prepare set of this run)"
        )
    return keys


def _in_a_set(key: str, bases: list[tuple[str, str, int, int]]) -> bool:
    return any(
        key.startswith(base) and set_index(key[len(base) :], pool, count, shards) is not None
        for base, pool, count, shards in bases
    )


def _shards(config: Config) -> int:
    """prepare.key_prefix_shards (0: keys are not sharded)."""
    return config.prepare.key_prefix_shards if config.prepare is not None else 0


def _from_plan(e: _Entry, sets: list[PrepareSet]) -> IndexedPool | None:
    """With skip_verification, a glob that names one prepare set's objects needs no LIST.

    A set matches when the glob's pattern matches its first, middle and last object URIs
    (their names differ only in digits). None: list as usual.
    """
    glob = plan_glob(e.path)
    if glob is None or glob.pattern is None:
        return None
    for s in sets:
        n = s.spec.count
        if n and all(glob.pattern.match(s.uri(i)) for i in (0, n // 2, n - 1)):
            return IndexedPool(e.backend.key_of(s.base_uri), s.pool, n, s.shards)
    return None


def _separate_pools(entries: list[_Entry], pools: list[OpPool]) -> list[OpPool]:
    """GET/STAT never draw keys a DELETE in the same run may remove."""
    doomed: set[str] = set()
    for p in pools:
        if p.deletes:
            doomed.update(p.keys)
    out: list[OpPool] = []
    for e, p in zip(entries, pools, strict=True):
        if p.indexed is not None:
            # From the plan: a prepared- pool, and deletes draw from deletable- (disjoint).
            ix = IndexedKeys(p.indexed.base, p.indexed.pool, p.indexed.count, p.indexed.shards)
            if any(k in doomed for k in (ix[0], ix[-1])):
                raise ConfigError(
                    f"{e.label}: reads the objects a DELETE in the same run removes",
                    hint="point the delete op at the deletable- pool",
                )
        elif e.kind in (OpKind.GET, OpKind.STAT) and doomed:
            kept = [k for k in p.keys if k not in doomed]
            if not kept and p.keys:  # an empty pool that PUTs feed takes none of them
                raise ConfigError(
                    f"{e.label}: every object it reads is also in a DELETE pool",
                    hint="point the delete op at other objects than the get/stat ops",
                )
            p = msgspec.structs.replace(p, keys=kept)
        out.append(p)
    return out
