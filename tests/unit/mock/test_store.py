"""Mock server storage: ListObjectsV2 paging semantics, sink bodies, disk confinement."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sai3bench.mock.store import DiskStore, MemoryStore, decode_token, list_page


def make(keys: list[str]) -> MemoryStore:
    s = MemoryStore()
    s.create_bucket("b")
    for i, k in enumerate(keys):
        s.put("b", k, bytes(i % 7))
    return s


def all_pages(s: MemoryStore, **kw: object) -> tuple[list[str], list[str], int]:
    keys: list[str] = []
    prefixes: list[str] = []
    token = None
    pages = 0
    while True:
        page = list_page(s.keys("b"), s.sizes("b"), token=token, **kw)  # type: ignore[arg-type]
        pages += 1
        keys += [k for k, _ in page.keys]
        prefixes += page.common_prefixes
        if not page.is_truncated:
            assert page.next_token is None
            return keys, prefixes, pages
        token = page.next_token


def test_paging_returns_every_key_once_in_order() -> None:
    rng = random.Random(7)
    keys = [f"d{rng.randrange(5)}/k{rng.randrange(10**6):07}" for _ in range(2500)]
    s = make(keys)
    got, prefixes, pages = all_pages(s, max_keys=1000)
    assert got == sorted(set(keys))
    assert prefixes == []
    assert pages == 3


def test_prefix_and_start_after() -> None:
    s = make(["a/1", "a/2", "a/3", "ab", "b/1"])
    assert all_pages(s, prefix="a/")[0] == ["a/1", "a/2", "a/3"]
    assert all_pages(s, prefix="a/", start_after="a/1")[0] == ["a/2", "a/3"]
    assert all_pages(s, prefix="zzz")[0] == []


def test_delimiter_rolls_up_common_prefixes_across_pages() -> None:
    keys = [f"dir{i}/obj{j}" for i in range(5) for j in range(3)] + ["top1", "top2"]
    s = make(keys)
    got, prefixes, _ = all_pages(s, delimiter="/", max_keys=2)
    assert prefixes == [f"dir{i}/" for i in range(5)]
    assert got == ["top1", "top2"]
    got, prefixes, _ = all_pages(s, prefix="dir1/", delimiter="/")
    assert got == ["dir1/obj0", "dir1/obj1", "dir1/obj2"] and prefixes == []


def test_sizes_reported_and_max_keys_zero() -> None:
    s = MemoryStore()
    s.create_bucket("b")
    s.put("b", "x", b"12345")
    page = list_page(s.keys("b"), s.sizes("b"))
    assert page.keys == [("x", 5)]
    empty = list_page(s.keys("b"), s.sizes("b"), max_keys=0)
    assert empty.keys == [] and not empty.is_truncated


def test_bad_token_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="continuation token"):
        decode_token("%%%not-base64")


def test_delete_and_relist() -> None:
    s = make(["a", "b", "c"])
    assert s.delete("b", "b") is True
    assert s.delete("b", "b") is False
    assert s.keys("b") == ["a", "c"]
    assert s.size("b", "b") is None


def test_unknown_bucket_raises_key_error() -> None:
    s = MemoryStore()
    with pytest.raises(KeyError):
        s.put("nope", "k", b"")
    assert s.create_bucket("nope") is True and s.create_bucket("nope") is False


def test_memory_read_ranges_without_copy() -> None:
    s = make([])
    s.put("b", "k", bytes(range(100)))
    assert b"".join(s.read("b", "k", 10, 20)) == bytes(range(10, 20))


def test_sink_keeps_sizes_and_serves_a_pattern_of_the_right_length() -> None:
    s = MemoryStore(sink=True)
    s.create_bucket("b")
    s.put("b", "k", b"x" * 10)
    s.put_size("b", "big", 3 * 2**20 + 5)
    assert s.size("b", "k") == 10
    body = b"".join(s.read("b", "big", 0, 3 * 2**20 + 5))
    assert len(body) == 3 * 2**20 + 5
    assert body[:4] == bytes([0, 1, 2, 3]) and body[2**20 : 2**20 + 2] == bytes([0, 1])
    ranged = b"".join(s.read("b", "big", 255, 258))
    assert ranged == bytes([255, 0, 1])


def test_disk_store_round_trip_and_reindex(tmp_path: Path) -> None:
    d = DiskStore(tmp_path)
    d.create_bucket("b")
    d.put("b", "dir/k1", b"hello")
    assert b"".join(d.read("b", "dir/k1", 1, 4)) == b"ell"
    again = DiskStore(tmp_path)  # a restart finds what is on disk
    assert again.keys("b") == ["dir/k1"] and again.size("b", "dir/k1") == 5
    assert again.delete("b", "dir/k1") and not (tmp_path / "b" / "dir" / "k1").exists()


def test_disk_store_keys_cannot_escape_the_bucket(tmp_path: Path) -> None:
    d = DiskStore(tmp_path / "root")
    d.create_bucket("b")
    with pytest.raises(KeyError):
        d.put("b", "../../escape", b"x")
    assert not (tmp_path / "escape").exists()
