"""key_prefix_shards names (upstream's ``{idx % N:02x}/``), their parsing, and deep globs."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.plan.keys import IndexedKeys, plan_glob, set_key, shard_dir
from sai3bench.plan.tasks import existing_indices, set_index


def test_names_as_upstream_formats_them() -> None:
    assert set_key("prepared", 42) == "prepared-00000042.dat"
    assert set_key("prepared", 42, 256) == "2a/prepared-00000042.dat"
    assert set_key("deletable", 42, 16) == "0a/deletable-00000042.dat"
    assert set_key("prepared", 300, 1000) == "12c/prepared-00000300.dat"  # {:02x} past ff
    assert shard_dir(7, 0) == "" and shard_dir(7, 4) == "03/"
    ix = IndexedKeys("b/", "prepared", 3, 2)
    assert list(ix) == ["b/00/prepared-00000000.dat", "b/01/prepared-00000001.dat", ix[2]]


def test_only_a_name_in_its_own_shard_counts() -> None:
    assert set_index("2a/prepared-00000042.dat", "prepared", 100, 256) == 42
    assert set_index("2b/prepared-00000042.dat", "prepared", 100, 256) is None
    assert set_index("prepared-00000042.dat", "prepared", 100, 256) is None  # unsharded
    assert set_index("2a/prepared-00000042.dat", "prepared", 100) is None  # sharded, not asked
    assert set_index("x/2a/prepared-00000042.dat", "prepared", 100, 256) is None
    assert set_index("12c/prepared-00000300.dat", "prepared", 301, 1000) == 300
    names = [set_key("prepared", i, 3) for i in range(10)] + ["01/deletable-00000001.dat"]
    assert existing_indices(names, "prepared", 8, 3) == set(range(8))


def test_deep_globs_list_recursively() -> None:
    flat, deep = plan_glob("s3://b/data/*"), plan_glob("s3://b/data/*", deep=True)
    assert flat is not None and deep is not None
    assert not flat.recursive and deep.recursive and deep.prefix == "s3://b/data/"
    assert deep.pattern is not None and deep.pattern.match("s3://b/data/2a/prepared-1.dat")
    d = plan_glob("s3://b/data/", deep=True)
    assert d is not None and d.recursive and d.pattern is None


def test_the_free_space_check_counts_objects_in_shard_directories(tmp_path: Path) -> None:
    from sai3bench.plan.limits import _existing_bytes

    (tmp_path / "2a").mkdir()
    (tmp_path / "2a" / "prepared-00000042.dat").write_bytes(b"x" * 100)
    (tmp_path / "prepared-00000001.dat").write_bytes(b"x" * 10)
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / "prepared-00000002.dat").write_bytes(b"x" * 1000)  # not a shard
    assert _existing_bytes(str(tmp_path)) == 110


@settings(max_examples=200, deadline=None)
@given(
    base=st.sampled_from(["", "b/", "s3://bkt/data/"]),
    pool=st.sampled_from(["prepared", "deletable"]),
    idx=st.integers(0, 10**12),
    shards=st.sampled_from([0, 1, 16, 256, 1000]),
)
def test_indexed_keys_are_base_plus_set_key(base: str, pool: str, idx: int, shards: int) -> None:
    """IndexedKeys.key (its unsharded form joins base and pool once) names what set_key does."""
    assert IndexedKeys(base, pool, idx + 1, shards).key(idx) == base + set_key(pool, idx, shards)
