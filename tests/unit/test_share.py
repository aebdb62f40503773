"""The pure split of a run's plan into shares (sai3bench/plan/share.py), rule by rule.

A multi-process run must add up to what one process would have done, so every rule the module
docstring states is checked here on its own: concurrency and caps divided, every prepare index
dealt exactly once, DELETE pools disjoint, GET/STAT pools shared, PUT salts unique per share,
and per-share seeds distinct with share 0 keeping the run's seed.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sai3bench.plan.share import (
    IndexedPool,
    OpPool,
    WorkloadPlan,
    divide,
    put_salt,
    share_seed,
    split_indices,
    split_workload,
    usable_shares,
)

# -- divide / usable_shares --------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(1, 300))
def test_divide_sums_to_the_total_and_spreads_the_remainder_first(total: int, parts: int) -> None:
    got = divide(total, parts)
    assert len(got) == parts and sum(got) == total
    assert max(got) - min(got) <= 1
    assert got == sorted(got, reverse=True)  # the remainder goes to the first parts
    assert got.count(total // parts + 1) == total % parts


def test_divide_examples_and_refuses_zero_parts() -> None:
    assert divide(10, 3) == [4, 3, 3]
    assert divide(2, 4) == [1, 1, 0, 0]
    assert divide(7, 1) == [7]
    with pytest.raises(ValueError, match="0 parts"):
        divide(5, 0)


@pytest.mark.parametrize(
    ("requested", "concurrency", "usable"),
    [(2, 8, 2), (3, 2, 2), (8, 1, 1), (1, 64, 1), (0, 4, 1), (16, 16, 16)],
)
def test_usable_shares_never_exceeds_the_workers(
    requested: int, concurrency: int, usable: int
) -> None:
    assert usable_shares(requested, concurrency) == usable


# -- split_indices (prepare and cleanup) ---------------------------------------------------------

index_sets = st.lists(st.lists(st.integers(0, 10**9), unique=True, max_size=300), max_size=4)


@given(index_sets, st.integers(1, 40))
def test_split_indices_gives_every_index_exactly_once(per_set: list[list[int]], parts: int) -> None:
    shares = split_indices(per_set, parts)
    assert len(shares) == parts
    for s, indices in enumerate(per_set):
        dealt = [i for share in shares for i in share[s]]
        assert sorted(dealt) == sorted(indices)  # each once: no loss, no duplicate
        sizes = [len(share[s]) for share in shares]
        assert max(sizes) - min(sizes) <= 1  # balanced within one, per set
        for share in shares:  # each share keeps the plan's order (a sorted todo stays sorted)
            assert share[s] == [i for i in indices if i in set(share[s])]


def test_split_indices_deals_clustered_indices_round_robin() -> None:
    """After a partial earlier run the missing indices cluster; blocks would load one share."""
    todo = [list(range(900, 910))]
    assert split_indices(todo, 3) == [[[900, 903, 906, 909]], [[901, 904, 907]], [[902, 905, 908]]]


def test_split_indices_one_share_is_the_plan_and_zero_is_refused() -> None:
    todo = [[3, 1, 2], [], [7]]
    assert split_indices(todo, 1) == [todo]
    with pytest.raises(ValueError, match="0 shares"):
        split_indices(todo, 0)


# -- split_workload ------------------------------------------------------------------------------


def _plan(deletes: list[str], reads: list[str]) -> WorkloadPlan:
    """A GET pool (listed), a STAT pool taken from the plan, a PUT, a DELETE pool."""
    return WorkloadPlan(
        [
            OpPool(keys=reads),
            OpPool(indexed=IndexedPool("b/", "prepared", 500)),
            OpPool(),
            OpPool(keys=deletes, deletes=True),
        ]
    )


keys = st.lists(st.text("abcdef0123456789", min_size=1, max_size=8), unique=True, max_size=200)
caps = st.lists(st.one_of(st.none(), st.integers(1, 100)), min_size=4, max_size=4)


@given(keys, keys, caps, st.integers(1, 64), st.data())
def test_split_workload_keeps_every_rule(
    deletes: list[str],
    reads: list[str],
    cap_list: list[int | None],
    concurrency: int,
    data: st.DataObject,
) -> None:
    parts = data.draw(st.integers(1, concurrency))
    plan = _plan(deletes, reads)
    shares = split_workload(plan, concurrency=concurrency, caps=cap_list, parts=parts)
    assert [s.index for s in shares] == list(range(parts))
    assert {s.count for s in shares} == {parts}
    # Concurrency: sums to the total, each share at least one worker, balanced within one.
    workers = [s.concurrency for s in shares]
    assert sum(workers) == concurrency and min(workers) >= 1 and max(workers) - min(workers) <= 1
    # Caps: divided like concurrency, at least 1 each; a cap >= parts sums to itself exactly.
    for e, cap in enumerate(cap_list):
        got = [s.caps[e] for s in shares]
        if cap is None:
            assert got == [None] * parts
        else:
            ints = [c for c in got if c is not None]
            assert len(ints) == parts and min(ints) >= 1 and max(ints) - min(ints) <= 1
            assert sum(ints) == max(cap, parts)  # cap < parts: one each
    # DELETE pool: disjoint, and their union is the plan's pool.
    dealt = [k for s in shares for k in s.pools[3].keys]
    assert sorted(dealt) == sorted(deletes) and len(set(dealt)) == len(dealt)
    assert all(s.pools[3].deletes for s in shares)
    # GET (listed), STAT (indexed) and PUT pools: identical in every share.
    for s in shares:
        assert s.pools[:3] == plan.pools[:3]


def test_split_workload_divides_concurrency_and_caps_with_remainders_first() -> None:
    shares = split_workload(_plan([], []), concurrency=10, caps=[None, 5, 2, 7], parts=3)
    assert [s.concurrency for s in shares] == [4, 3, 3]
    assert [s.caps for s in shares] == [[None, 2, 1, 3], [None, 2, 1, 2], [None, 1, 1, 2]]


def test_split_workload_delete_pool_keeps_the_consumption_order_within_each_share() -> None:
    deletes = [f"k{i}" for i in range(7)]
    shares = split_workload(_plan(deletes, []), concurrency=2, caps=[None] * 4, parts=2)
    assert [s.pools[3].keys for s in shares] == [deletes[0::2], deletes[1::2]]


@pytest.mark.parametrize(("parts", "concurrency"), [(3, 2), (0, 4), (5, 1)])
def test_split_workload_refuses_shares_without_a_worker(parts: int, concurrency: int) -> None:
    with pytest.raises(ValueError, match=f"{parts} shares for {concurrency} workers"):
        split_workload(_plan([], []), concurrency=concurrency, caps=[None] * 4, parts=parts)


def test_split_workload_needs_one_cap_per_entry() -> None:
    with pytest.raises(ValueError, match="one cap per workload entry"):
        split_workload(_plan([], []), concurrency=4, caps=[None], parts=2)


# -- put_salt and share_seed -----------------------------------------------------------------------

random63 = st.integers(0, 2**63 - 1)


@given(random63, st.integers(2, 1024), st.data())
def test_put_salt_is_congruent_to_its_share_and_below_2_63(
    r: int, count: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, count - 1))
    salt = put_salt(r, index, count)
    assert 0 <= salt < 2**63
    assert salt % count == index


@given(st.lists(random63, min_size=1, max_size=50), st.integers(2, 64))
def test_put_salts_of_different_shares_never_collide(draws: list[int], count: int) -> None:
    """Any random numbers drawn by any shares: a salt of share j is never one of share k's."""
    by_share = [{put_salt(r, k, count) for r in draws} for k in range(count)]
    assert sum(len(s) for s in by_share) == len(set().union(*by_share))


@given(random63)
def test_put_salt_of_one_share_is_the_random_number_unchanged(r: int) -> None:
    assert put_salt(r, 0, 1) == r


def test_put_salt_at_the_top_of_the_range() -> None:
    top = 2**63 - 1
    for count in (2, 3, 7, 1024):
        assert all(put_salt(top, k, count) < 2**63 for k in range(count))


@given(st.integers(0, 2**32 - 1))
def test_share_seeds_are_distinct_and_share_0_keeps_the_run_seed(seed: int) -> None:
    seeds = [share_seed(seed, k) for k in range(16)]
    assert seeds[0] == seed
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**32 for s in seeds[1:])


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1, 0xDEADBEEF])
def test_share_seeds_are_distinct_over_the_most_processes_a_config_allows(seed: int) -> None:
    seeds = [share_seed(seed, k) for k in range(1024)]  # MAX_PROCESSES
    assert len(set(seeds)) == 1024 and seeds[0] == seed


def test_share_seeds_are_deterministic() -> None:
    assert [share_seed(42, k) for k in range(4)] == [share_seed(42, k) for k in range(4)]
    assert share_seed(42, 1) != share_seed(43, 1)
