"""Turn workload entries into PlannedOps: globs listed once, pools built, before the clock starts.

Rule: an op that reads or deletes must have at least one object to act on; an empty match is a
one-line error naming the op and the pattern, never a run full of NotFound.
"""

from __future__ import annotations

import logging

from sai3bench.config.schema import Config, GetOp, ListOp, Op, PutOp, StatOp
from sai3bench.engine.context import RunContext
from sai3bench.engine.ops import PlannedOp
from sai3bench.errors import ConfigError
from sai3bench.metrics.collector import OpKind
from sai3bench.plan.keys import plan_glob
from sai3bench.plan.sizes import SizeSampler
from sai3bench.plan.tasks import is_mixed, rewrite_delete_path

log = logging.getLogger(__name__)

_KIND = {GetOp: OpKind.GET, PutOp: OpKind.PUT, ListOp: OpKind.LIST, StatOp: OpKind.STAT}


def op_kind(op: Op) -> OpKind:
    return _KIND.get(type(op), OpKind.DELETE)


async def resolve_ops(ctx: RunContext, config: Config) -> list[PlannedOp]:
    """One PlannedOp per workload entry, in config order."""
    mixed = is_mixed(config)
    planned: list[PlannedOp] = []
    for i, op in enumerate(config.workload):
        kind = op_kind(op)
        path = rewrite_delete_path(op.path) if mixed and kind == OpKind.DELETE else op.path
        backend = ctx.backends.for_uri(path)
        label = f"workload[{i}] ({kind.name.lower()} {op.path})"
        p = PlannedOp(index=i, kind=kind, backend=backend, label=label)
        if isinstance(op, PutOp):
            key = backend.key_of(path)
            p.base = key if key.endswith("/") else key + "/"
            p.sampler = SizeSampler(op.size_spec)
            p.data = ctx.data_source("random", op.dedup_factor, op.compress_factor)
        elif kind == OpKind.LIST:
            p.base = backend.key_of(path)
        else:
            p.keys = await _match(p, path)
        planned.append(p)
    if mixed:
        _separate_pools(planned)
    for p in planned:
        if p.kind == OpKind.DELETE:
            ctx.rng.shuffle(p.keys)
        log.info("%s: %d keys, base %r, backend %r", p.label, len(p.keys), p.base, p.backend)
    return planned


async def _match(p: PlannedOp, path: str) -> list[str]:
    backend = p.backend
    glob = plan_glob(path)
    if glob is None:
        return [backend.key_of(path)]
    listed = await backend.list(backend.key_of(glob.prefix), recursive=glob.recursive)
    pattern = glob.pattern
    keys = [
        info.key
        for info in listed
        if pattern is None or pattern.match(backend.uri_of(info.key)) is not None
    ]
    if not keys:
        raise ConfigError(
            f"{p.label}: no objects match {path}",
            hint="create them with prepare.ensure_objects, or fix the path",
        )
    keys.sort()
    return keys


def _separate_pools(planned: list[PlannedOp]) -> None:
    """GET/STAT never draw keys a DELETE in the same run may remove."""
    doomed: set[str] = set()
    for p in planned:
        if p.kind == OpKind.DELETE:
            doomed.update(p.keys)
    for p in planned:
        if p.kind in (OpKind.GET, OpKind.STAT) and doomed:
            kept = [k for k in p.keys if k not in doomed]
            if not kept:
                raise ConfigError(
                    f"{p.label}: every object it reads is also in a DELETE pool",
                    hint="point the delete op at other objects than the get/stat ops",
                )
            p.keys = kept
