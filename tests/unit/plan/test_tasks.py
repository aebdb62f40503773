"""plan/tasks: mixed detection, prepare sets, gap-fill indices, orders, delete path rewrite."""

from __future__ import annotations

import pytest

from sai3bench.config.schema import (
    Config,
    DeleteOp,
    EnsureObjects,
    GetOp,
    ListOp,
    Op,
    Prepare,
    PutOp,
    StatOp,
)
from sai3bench.config.sizespec import FixedSize, UniformSize
from sai3bench.plan.keys import DELETABLE, PREPARED, object_name
from sai3bench.plan.tasks import (
    describe_wrong_sizes,
    existing_indices,
    interleave,
    is_mixed,
    missing_indices,
    prepare_sets,
    rewrite_delete_path,
    set_index,
    take_census,
)

P = "file:///d/data/"


def op(kind: str) -> Op:
    path = P + "*"
    if kind == "get":
        return GetOp(path=path, weight=1)
    if kind == "put":
        return PutOp(path=P, weight=1, size_spec=FixedSize(size=10))
    if kind == "list":
        return ListOp(path=P, weight=1)
    if kind == "stat":
        return StatOp(path=path, weight=1)
    return DeleteOp(path=P + "prepared-*", weight=1)


def config(*kinds: str) -> Config:
    return Config(workload=tuple(op(k) for k in kinds))


@pytest.mark.parametrize(
    ("kinds", "mixed"),
    [
        (("get",), False),
        (("delete",), False),
        (("get", "delete"), True),
        (("stat", "delete"), True),
        (("get", "stat", "delete"), True),
        (("delete", "put", "list"), False),
        (("get", "put", "list", "stat"), False),
        (("put", "delete", "get"), True),
        (("list", "delete"), False),
    ],
)
def test_is_mixed(kinds: tuple[str, ...], mixed: bool) -> None:
    assert is_mixed(config(*kinds)) is mixed


def ensure(base: str, count: int = 10) -> EnsureObjects:
    return EnsureObjects(base_uri=base, count=count, size_spec=UniformSize(min=100, max=200))


def test_prepare_sets_none() -> None:
    assert prepare_sets(None, mixed=True) == []
    assert prepare_sets(Prepare(), mixed=False) == []


def test_prepare_sets_plain_one_pool_per_entry_and_trailing_slash() -> None:
    prep = Prepare(ensure_objects=(ensure("file:///d/a"), ensure("file:///d/b/")))
    sets = prepare_sets(prep, mixed=False)
    assert [(s.entry, s.pool, s.base_uri) for s in sets] == [
        (0, PREPARED, "file:///d/a/"),
        (1, PREPARED, "file:///d/b/"),
    ]
    assert sets[0].uri(3) == "file:///d/a/prepared-00000003.dat"
    assert sets[1].label == "prepare.ensure_objects[1] (prepared)"


def test_prepare_sets_mixed_gives_deletable_twin_right_after_each_entry() -> None:
    prep = Prepare(ensure_objects=(ensure("file:///d/a/"), ensure("file:///d/b/")))
    sets = prepare_sets(prep, mixed=True)
    assert [(s.entry, s.pool) for s in sets] == [
        (0, PREPARED),
        (0, DELETABLE),
        (1, PREPARED),
        (1, DELETABLE),
    ]
    assert sets[1].uri(0) == "file:///d/a/deletable-00000000.dat"
    assert sets[1].spec is sets[0].spec


def test_prepare_set_sizes_deterministic_bounded_and_per_pool() -> None:
    prep = Prepare(ensure_objects=(ensure("file:///d/a/", count=500),))
    prepared, deletable = prepare_sets(prep, mixed=True)
    a, b = prepared.sizes(), prepared.sizes()
    assert list(a) == list(b)
    assert len(a) == 500
    assert all(100 <= x <= 200 for x in a)
    # the same set rebuilt from scratch (a later run) gets the same sizes: gap fill relies on it
    again = prepare_sets(Prepare(ensure_objects=(ensure("file:///d/a", count=500),)), mixed=False)
    assert list(again[0].sizes()) == list(a)
    assert list(deletable.sizes()) != list(a)


def test_existing_indices_filters_pool_count_and_junk() -> None:
    names = [
        object_name(PREPARED, 0),
        object_name(PREPARED, 3),
        object_name(PREPARED, 9),
        object_name(PREPARED, 10),  # == count: beyond the set
        object_name(PREPARED, 9999),
        object_name(DELETABLE, 1),  # other pool
        "prepared-00000004.dat.tmp",
        "other.txt",
        "xprepared-00000005.dat",
        "obj_123",
    ]
    assert existing_indices(names, PREPARED, 10) == {0, 3, 9}
    assert existing_indices(names, DELETABLE, 10) == {1}
    assert existing_indices(names, PREPARED, 0) == set()
    assert existing_indices([], PREPARED, 10) == set()


def test_existing_indices_needs_the_canonical_name() -> None:
    assert existing_indices(["prepared-1.dat"], PREPARED, 10) == set()


def test_set_index_is_the_one_name_rule() -> None:
    assert set_index("prepared-00000007.dat", PREPARED, 10) == 7
    assert set_index("prepared-00000010.dat", PREPARED, 10) is None  # == count
    assert set_index("deletable-00000007.dat", PREPARED, 10) is None
    assert set_index("prepared-7.dat", PREPARED, 10) is None
    assert set_index("sub/prepared-00000007.dat", PREPARED, 10) is None
    assert set_index("prepared-123456789.dat", PREPARED, 10**9) == 123456789  # 9 digits


def test_census_sorts_by_planned_size() -> None:
    sizes = [100, 150, 200, 120, 130]
    listed = [
        (object_name(PREPARED, 0), 100),  # right
        (object_name(PREPARED, 1), 0),  # empty: a killed PUT
        (object_name(PREPARED, 2), 199),  # one byte short
        (object_name(PREPARED, 3), -1),  # the listing gave no size: taken as intact
        (object_name(PREPARED, 4), 131),  # too long
        (object_name(PREPARED, 5), 7),  # beyond count: not the set's
        (object_name(DELETABLE, 0), 3),  # another pool
        ("prepared-4.dat", 130),  # not the canonical name
    ]
    census = take_census(listed, PREPARED, 5, sizes)
    assert census.intact == {0, 3}
    assert census.wrong_size == {1: 0, 2: 199, 4: 131}
    assert list(missing_indices(5, census.intact)) == [1, 2, 4]


def test_describe_wrong_sizes_names_the_first_few() -> None:
    (pset,) = prepare_sets(Prepare(ensure_objects=(ensure("file:///d/a/", count=8),)), mixed=False)
    sizes = [1000 + i for i in range(8)]
    census = take_census(
        [(object_name(PREPARED, i), 0) for i in (6, 1, 2, 5, 4)], PREPARED, 8, sizes
    )
    assert describe_wrong_sizes(pset, census, sizes, most=2) == (
        "prepared-00000001.dat is 0 bytes, planned 1,001; "
        "prepared-00000002.dat is 0 bytes, planned 1,002; and 3 more"
    )


def test_missing_indices() -> None:
    assert list(missing_indices(6, {0, 2, 5})) == [1, 3, 4]
    assert list(missing_indices(3, set())) == [0, 1, 2]
    assert list(missing_indices(3, {0, 1, 2})) == []
    assert list(missing_indices(0, set())) == []
    assert list(missing_indices(3, {7, 8})) == [0, 1, 2]


def test_interleave_round_robin_until_every_list_is_dry() -> None:
    got = list(interleave([[0, 1, 2], [10], [], [20, 21]]))
    assert got == [(0, 0), (1, 10), (3, 20), (0, 1), (3, 21), (0, 2)]


def test_interleave_keeps_zero_items() -> None:
    assert list(interleave([[0], [0, 0]])) == [(0, 0), (1, 0), (1, 0)]
    assert list(interleave([])) == []


@pytest.mark.parametrize(
    ("path", "rewritten"),
    [
        ("file:///d/data/prepared-*", "file:///d/data/deletable-*"),
        ("file:///d/data/prepared-00000001.dat", "file:///d/data/deletable-00000001.dat"),
        ("file:///d/data/*", "file:///d/data/*"),
        ("file:///d/data/", "file:///d/data/"),
        ("file:///d/data/deletable-*", "file:///d/data/deletable-*"),
    ],
)
def test_rewrite_delete_path(path: str, rewritten: str) -> None:
    assert rewrite_delete_path(path) == rewritten


def test_rewrite_delete_path_leaves_directories_alone() -> None:
    got = rewrite_delete_path("file:///d/prepared-sets/prepared-*")
    assert got == "file:///d/prepared-sets/deletable-*"
