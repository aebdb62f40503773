"""A run's plan and its split into shares: one share per engine process, on one host or many.

Why a plan that travels: every figure of a multi-process run must add up to what one process
would have done. So the decisions that need a listing or a random choice (which objects are
missing, which keys a GET draws from, the order a DELETE pool is consumed in) are made once, by
the coordinator, into plain serialisable data; ``split_*`` then divides that data with pure
functions, and each engine process executes only its own share. The same share goes to a local
child process or to a Dask worker.

The rules the split keeps (tests/unit/test_share.py proves each):

- concurrency is divided across shares, the remainder spread over the first ones; a per-op
  concurrency cap is divided the same way, at least 1 a share;
- prepare: the indices to create are dealt out round-robin, so every index is made exactly once
  and the shares stay balanced however irregular the missing indices are; a name and a size
  depend on the index only, never on the share;
- GET/STAT/LIST pools are shared (every share reads the same keys); DELETE pools are dealt out,
  so they are disjoint and every key is deleted at most once;
- PUT keys are unique across shares: share k of n uses salts congruent to k mod n;
- the op mix is the same weights in every share, so it holds in aggregate;
- an ``io_rate`` is the run's aggregate: each share offers rate/N. Share k's deterministic
  schedule starts k/(N x rate) late, so the union is one evenly spaced stream; exponential and
  uniform shares draw independent seeded streams (independent Poisson streams sum to one).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

#: Indices per prepare set (``prepare_sets`` order).
IndicesPerSet = list[list[int]]


class PreparePlan(msgspec.Struct, frozen=True, kw_only=True):
    """Per prepare set, the indices missing at planning time: what prepare creates."""

    todo: IndicesPerSet


class IndexedPool(msgspec.Struct, frozen=True):
    """A GET/STAT pool taken from the plan without a LIST: ``{base}{pool}-NNNNNNNN.dat``,
    indices 0..count-1 (prepare.skip_verification)."""

    base: str
    pool: str
    count: int
    shards: int = 0  # prepare.key_prefix_shards


class OpPool(msgspec.Struct, frozen=True, kw_only=True):
    """The keys one workload entry acts on. ``keys`` is listed and filtered (GET/STAT), or the
    DELETE pool in the order it is consumed (popped from the end); ``indexed`` replaces
    ``keys`` for a pool taken from the plan. PUT and LIST have neither."""

    keys: list[str] = msgspec.field(default_factory=list)
    indexed: IndexedPool | None = None
    deletes: bool = False
    #: Tree mode (engine/tree_stage.py): "files" or "dirs" of the tree, made from the config's
    #: directory_structure by each share; "" for any other pool.
    tree: str = ""


class WorkloadPlan(msgspec.Struct, frozen=True):
    """Every workload entry's pool, in config order, resolved once before the clock starts."""

    pools: list[OpPool]


class SharePace(msgspec.Struct, frozen=True, kw_only=True):
    """One share's part of the run's ``io_rate``: its rate, and when its deterministic
    schedule starts after the stage's start instant."""

    iops: float
    phase_s: float = 0.0


class WorkloadShare(msgspec.Struct, frozen=True, kw_only=True):
    """What one engine process runs of the workload."""

    index: int
    count: int
    concurrency: int
    #: Per workload entry: its concurrency cap in this share (None: the share's concurrency).
    caps: list[int | None]
    pools: list[OpPool]
    #: io_rate: this share's rate (None: the closed loop).
    pace: SharePace | None = None


def divide(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` near-equal integers, the remainder spread over the first ones."""
    if parts < 1:
        raise ValueError(f"cannot divide into {parts} parts")
    q, r = divmod(total, parts)
    return [q + (1 if i < r else 0) for i in range(parts)]


def usable_shares(requested: int, concurrency: int) -> int:
    """Shares that each get at least one worker: more processes than workers would idle."""
    return max(1, min(requested, concurrency))


def share_seed(seed: int, index: int) -> int:
    """The op-choice seed of share ``index``: share 0 keeps the run seed (a one-process run is
    unchanged), the others get well-mixed, distinct 32-bit seeds."""
    if index == 0:
        return seed
    x = (seed ^ (index * 0x9E3779B97F4A7C15)) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 31)) & 0xFFFFFFFF


def split_indices(per_set: Sequence[Sequence[int]], parts: int) -> list[IndicesPerSet]:
    """Deal each set's indices round-robin over ``parts`` shares (prepare and cleanup).

    Dealt, not cut in blocks: after a partial earlier run the missing indices can be clustered,
    and blocks would give one share all the work.
    """
    if parts < 1:
        raise ValueError(f"cannot split into {parts} shares")
    return [[list(indices[k::parts]) for indices in per_set] for k in range(parts)]


def split_workload(
    plan: WorkloadPlan,
    *,
    concurrency: int,
    caps: Sequence[int | None],
    parts: int,
    iops: float | None = None,
) -> list[WorkloadShare]:
    """One WorkloadShare per engine process. ``parts`` must not exceed ``concurrency``
    (use ``usable_shares``): every share runs at least one worker. ``iops``: the run's
    aggregate io_rate, split evenly."""
    if not 1 <= parts <= concurrency:
        raise ValueError(f"{parts} shares for {concurrency} workers")
    if len(caps) != len(plan.pools):
        raise ValueError("one cap per workload entry")
    workers = divide(concurrency, parts)
    cap_parts = [divide(c, parts) if c is not None else None for c in caps]
    shares = []
    for k in range(parts):
        pools = [
            msgspec.structs.replace(p, keys=p.keys[k::parts]) if p.deletes else p
            for p in plan.pools
        ]
        shares.append(
            WorkloadShare(
                index=k,
                count=parts,
                concurrency=workers[k],
                caps=[max(1, c[k]) if c is not None else None for c in cap_parts],
                pools=pools,
                pace=None if iops is None else SharePace(iops=iops / parts, phase_s=k / iops),
            )
        )
    return shares


def put_salt(random63: int, index: int, count: int) -> int:
    """A PUT key's salt, unique to share ``index`` of ``count``: congruent to index mod count,
    and still below 2**63. One share keeps the random number as it is."""
    if count == 1:
        return random63
    half = random63 >> 1
    return half - half % count + index
