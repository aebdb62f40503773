"""PlannedOp.pick for reads: the same seed picks the same keys whatever holds them."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.engine.ops import PlannedOp
from sai3bench.metrics.collector import OpKind
from sai3bench.plan.keys import IndexedKeys

B = object()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=0, max_value=2**32))
def test_made_keys_and_a_list_pick_alike_and_as_before(count, seed):
    """A pool of made keys (IndexedKeys, read through ``key``) and the same keys in a list
    give the same picks from the same seed, and the picks are ``keys[int(random() * n)]``
    (what pick did before it skipped ``__getitem__``): seeded runs stay reproducible."""
    made = IndexedKeys("d/", "prepared", count)
    listed = [made[i] for i in range(count)]
    ops = [
        PlannedOp(index=0, kind=OpKind.GET, backend=B, label="0", keys=keys)  # type: ignore[arg-type]
        for keys in (made, listed)
    ]
    picks = [op.pick(random.Random(seed)) for op in ops]
    rng = random.Random(seed)
    expected = (0, listed[int(rng.random() * count)], 0, 0)
    assert picks == [expected, expected]


def test_an_empty_read_pool_picks_nothing():
    empty: list[list[str] | IndexedKeys | None] = [[], IndexedKeys("d/", "prepared", 0), None]
    for keys in empty:
        op = PlannedOp(index=0, kind=OpKind.STAT, backend=B, label="0", keys=keys)  # type: ignore[arg-type]
        assert op.pick(random.Random(1)) is None
