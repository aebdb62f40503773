"""dynamic_put_pool (pure parts): which pools a PUT key joins, and never a DELETE pool."""

from __future__ import annotations

from sai3bench.backends.file import FileBackend
from sai3bench.engine.ops import PlannedOp
from sai3bench.engine.put_pool import is_fed, pool_filter, put_base, sample_keys, wire
from sai3bench.metrics.collector import OpKind

B = FileBackend(threads=1)


def test_filter_follows_the_listing_rule() -> None:
    glob = pool_filter(B, "file:///d/new/*.dat", deep=False)
    assert glob("/d/new/a.dat") and not glob("/d/new/a.bin") and not glob("/d/new/x/a.dat")
    prefix = pool_filter(B, "file:///d/new/", deep=False)
    assert prefix("/d/new/obj_1") and not prefix("/d/new/00/obj_1") and not prefix("/d/other")
    assert pool_filter(B, "file:///d/new/", deep=True)("/d/new/00/obj_1")  # sharded keys
    exact = pool_filter(B, "file:///d/new/obj_7", deep=False)
    assert exact("/d/new/obj_7") and not exact("/d/new/obj_70")


def test_fed_only_by_puts_whose_keys_match() -> None:
    puts = [(B, put_base(B, "file:///d/new"))]
    assert puts[0][1] == "/d/new/"
    assert is_fed((B, "file:///d/new/*"), puts, shards=0)
    assert is_fed((B, "file:///d/new/obj_1*"), puts, shards=0)  # some of the keys
    assert not is_fed((B, "file:///d/data/*"), puts, shards=0)
    assert not is_fed((B, "file:///d/new/*.dat"), puts, shards=0)  # obj_N has no .dat
    assert is_fed((B, "file:///d/new/"), puts, shards=16)  # sharded: data/ lists deep
    assert sample_keys("/d/new/", 16)[1] == "/d/new/01/obj_1"


def _op(index: int, kind: OpKind, keys: list[str] | None = None, base: str = "") -> PlannedOp:
    return PlannedOp(index=index, kind=kind, backend=B, label=str(index), keys=keys, base=base)


def test_wire_feeds_get_and_stat_never_delete() -> None:
    shared = ["/d/new/prepared-00000000.dat"]
    put = _op(0, OpKind.PUT, base="/d/new/")
    get = _op(1, OpKind.GET, shared)
    stat = _op(2, OpKind.STAT, shared)
    delete = _op(3, OpKind.DELETE, ["/d/new/prepared-00000001.dat"])
    other = _op(4, OpKind.GET, ["/d/data/x"])
    paths = [
        "file:///d/new/",
        "file:///d/new/*",
        "file:///d/new/",
        "file:///d/new/*",
        "file:///d/data/*",
    ]
    wire([put, get, stat, delete, other], paths, shards=0)
    assert put.feeder is not None
    put.feeder.add("/d/new/obj_42")
    assert get.keys == [*shared, "/d/new/obj_42"] and stat.keys == get.keys
    assert get.keys is not shared and shared == ["/d/new/prepared-00000000.dat"]  # own copies
    assert delete.keys == ["/d/new/prepared-00000001.dat"] and other.keys == ["/d/data/x"]


def test_an_empty_read_pool_picks_nothing_until_fed() -> None:
    import random

    get = _op(1, OpKind.GET, [])
    assert get.pick(random.Random(0)) is None
    get.keys.append("/d/new/obj_1")  # type: ignore[union-attr]
    assert get.pick(random.Random(0)) == (1, "/d/new/obj_1", 0, 0)


def test_a_made_on_access_pool_is_fed_without_making_its_names() -> None:
    """skip_verification pools are IndexedKeys (a billion names cost nothing): feeding one must
    not make every name first (list() of it was the whole pool in memory before the run)."""
    from sai3bench.plan.keys import IndexedKeys

    class Counting(IndexedKeys):
        made = 0

        def key(self, i: int) -> str:
            Counting.made += 1
            return super().key(i)

    indexed = Counting("/d/new/", "prepared", 1000)
    put = _op(0, OpKind.PUT, base="/d/new/")
    get = PlannedOp(index=1, kind=OpKind.GET, backend=B, label="1", keys=indexed)
    wire([put, get], ["file:///d/new/", "file:///d/new/*"], shards=0)
    assert Counting.made == 0 and len(get.keys) == 1000
    assert put.feeder is not None
    put.feeder.add("/d/new/obj_42")
    assert len(get.keys) == 1000 + 1 and get.keys[1000] == "/d/new/obj_42"
    assert get.keys[7] == "/d/new/prepared-00000007.dat" and get.keys[-1] == "/d/new/obj_42"
    assert Counting.made == 1
