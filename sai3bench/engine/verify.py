"""``--verify``: every prepared object is listed with its planned size and answers a stat, or
the run fails naming what is missing or short."""

from __future__ import annotations

import time
from collections.abc import Iterator

from sai3bench.engine.context import RunContext
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.tasklist import run_task_list
from sai3bench.engine.transient import list_with_retry
from sai3bench.errors import RunFailed
from sai3bench.metrics.collector import OpKind
from sai3bench.plan.tasks import PrepareSet, describe_wrong_sizes, take_census


async def run_verify(ctx: RunContext, sets: list[PrepareSet]) -> str:
    """Returns a one-line summary; raises RunFailed naming the first shortfall."""
    t0 = time.perf_counter()
    ops, keys = [], []
    for i, pset in enumerate(sets):
        backend = ctx.backends.for_uri(pset.base_uri)
        base = backend.key_of(pset.base_uri)
        listed = await list_with_retry(backend, pset.list_prefix(base), recursive=True)
        _check_census(pset, [(o.key[len(base) :], o.size) for o in listed])
        ops.append(PlannedOp(index=i, kind=OpKind.STAT, backend=backend, label=pset.label))
        keys.append((i, base, pset))

    def tasks() -> Iterator[Task]:
        for i, base, pset in keys:
            for idx in range(pset.spec.count):
                yield (i, base + pset.name(idx), 0, 0)

    total = sum(k[2].spec.count for k in keys)
    run = await run_task_list(
        ops,
        tasks(),
        total,
        workers=ctx.concurrency,
        executor=ctx.executor_for([op.backend for op in ops], ctx.concurrency),
        out=ctx.out,
        label="verify",
    )
    collector, tally = run.collector, run.tally
    if tally.first_error is not None:
        key, detail = tally.first_error
        raise RunFailed(
            f"verify: {collector.error_count():,} objects failed stat, first {key}: {detail}",
            hint="re-run prepare to recreate them",
        )
    n = collector.ops()
    return f"Verified {n:,} objects in {time.perf_counter() - t0:.2f}s"


def _check_census(pset: PrepareSet, listed: list[tuple[str, int]]) -> None:
    """Raise RunFailed unless every object of ``pset`` is listed with its planned size."""
    sizes = pset.sizes()
    census = take_census(listed, pset.pool, pset.spec.count, sizes, pset.shards, pset.tree)
    count = pset.spec.count
    if len(census.intact) == count:
        return
    wrong = len(census.wrong_size)
    missing = count - len(census.intact) - wrong
    parts = [f"{missing:,} missing"] if missing else []
    if wrong:
        parts.append(f"{wrong:,} of the wrong size: {describe_wrong_sizes(pset, census, sizes)}")
    raise RunFailed(
        f"verify: {pset.label} has {len(census.intact):,} of {count:,} objects "
        f"under {pset.base_uri} ({'; '.join(parts)})",
        hint="run without --verify (or with --prepare-only) to re-create them",
    )
