"""DataSource: exact sizes, uniqueness, determinism, dedup and compress ratios, threads.

Ratios are measured as a storage system would see them: each object split into 4 KiB blocks
aligned to its start (a short tail is its own block), blocks compared by content.
"""

from __future__ import annotations

import random
import threading

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.datagen.buffers import DataSource
from sai3bench.datagen.fill import BLOCK
from sai3bench.payload import Payload

SEED = 0x5A13
KIB = 1024
POOL = 1 << 20  # 1/16 of the default: builds in ~4 ms instead of ~60
SMALL_POOL = 64 * KIB  # data sets below are 256x this


def body(p: Payload) -> bytes:
    return bytes(p) if isinstance(p, memoryview) else b"".join(bytes(v) for v in p)


def make(ds: DataSource, sizes: list[int], salt0: int = 0) -> list[bytes]:
    scratch = bytearray()
    return [body(ds.payload(size, salt0 + i, scratch)) for i, size in enumerate(sizes)]


def blocks(objs: list[bytes]) -> list[bytes]:
    return [o[i : i + BLOCK] for o in objs for i in range(0, len(o), BLOCK)]


def dedup_ratio(objs: list[bytes]) -> float:
    bl = blocks(objs)
    return len(bl) / len(set(bl))


def unique_blocks(objs: list[bytes]) -> list[bytes]:
    return list(dict.fromkeys(blocks(objs)))


SIZES = [1, 7, 8, 15, 16, 17, 4095, 4096, 4097, 100_000, 1 << 20]


@pytest.mark.parametrize(
    "fill,dedup,compress", [("random", 1, 1), ("random", 3, 2), ("zero", 1, 1)]
)
def test_sizes_exact(fill, dedup, compress):
    ds = DataSource(fill, dedup_factor=dedup, compress_factor=compress, seed=SEED, pool_bytes=POOL)
    scratch = bytearray()
    for size in SIZES:
        p = ds.payload(size, size, scratch)
        assert isinstance(p, memoryview)
        assert p.nbytes == size == len(body(p))
        del p  # a live view pins scratch: it could not grow for the next size


def test_growing_a_pinned_scratch_says_how_to_fix_it():
    ds = DataSource("random", seed=SEED, pool_bytes=POOL)
    scratch = bytearray()
    held = ds.payload(10, 1, scratch)
    with pytest.raises(BufferError, match="new_scratch"):
        ds.payload(100_000, 2, scratch)
    del held
    assert len(body(ds.payload(100_000, 2, scratch))) == 100_000


def test_zero_fill_is_zeros_and_ignores_factors():
    ds = DataSource("zero", dedup_factor=4, compress_factor=4, scratch_cap=64 * KIB)
    scratch = bytearray()
    for size in (1, 4097, 64 * KIB, 200_003):
        assert body(ds.payload(size, 1, scratch)) == bytes(size)
    assert isinstance(ds.payload(200_003, 1, scratch), tuple)
    assert len(scratch) == 0  # zero fill never touches scratch


def test_different_salts_differ():
    ds = DataSource("random", seed=SEED, pool_bytes=POOL)
    for size in (8, 4096, 65536):
        objs = make(ds, [size] * 1000)
        assert len(set(objs)) == 1000, f"size {size} seed {SEED:#x}"


def test_deterministic_for_seed_and_salt():
    a = DataSource("random", seed=SEED, pool_bytes=POOL, dedup_factor=2, compress_factor=2)
    b = DataSource("prand", seed=SEED, pool_bytes=POOL, dedup_factor=2, compress_factor=2)
    c = DataSource("random", seed=SEED + 1, pool_bytes=POOL, dedup_factor=2, compress_factor=2)
    sizes = [1, 4097, 300_000]
    assert make(a, sizes, 99) == make(b, sizes, 99)
    assert make(a, sizes, 99) != make(c, sizes, 99)
    # The bytes depend only on (seed, size, salt), not on what the scratch held before.
    scratch = bytearray()
    a.payload(300_000, 5, scratch)
    assert body(a.payload(4097, 100, scratch)) == make(a, [4097], 100)[0]


@pytest.mark.parametrize("pool", [16 << 20, SMALL_POOL])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_dedup_ratio_256k_objects(n, pool):
    ds = DataSource("random", dedup_factor=n, seed=SEED, pool_bytes=pool)
    objs = make(ds, [256 * KIB] * 64)
    r = dedup_ratio(objs)
    assert abs(r - n) <= 0.1 * n, f"ratio {r:.3f} for N={n} pool={pool} seed {SEED:#x}"
    if n == 1:
        assert r == 1.0  # not one duplicate block, though the set is 256x the small pool


@pytest.mark.parametrize("n", [2, 3, 5])
def test_dedup_ratio_mixed_sizes_with_tails(n):
    rng = random.Random(SEED)
    sizes = [rng.randint(1, 256 * KIB) for _ in range(200)]
    ds = DataSource("random", dedup_factor=n, seed=SEED, pool_bytes=SMALL_POOL)
    r = dedup_ratio(make(ds, sizes))
    assert abs(r - n) <= 0.1 * n, f"ratio {r:.3f} for N={n} seed {SEED:#x}"


@pytest.mark.parametrize("n", [2, 3, 5])
def test_dedup_ratio_across_tiny_objects(n):
    # One block per object: duplicates can only be found across objects.
    ds = DataSource("random", dedup_factor=n, seed=SEED, pool_bytes=POOL)
    for size in (4096, 1000):
        r = dedup_ratio(make(ds, [size] * 2000))
        assert abs(r - n) <= 0.1 * n, f"ratio {r:.3f} size {size} N={n} seed {SEED:#x}"


def test_duplicates_are_spread_not_adjacent():
    ds = DataSource("random", dedup_factor=4, seed=SEED, pool_bytes=POOL)
    bl = blocks(make(ds, [256 * KIB]))
    last: dict[bytes, int] = {}
    gaps = []
    for i, b in enumerate(bl):
        if b in last:
            gaps.append(i - last[b])
        last[b] = i
    assert len(gaps) == len(bl) - len(last) > 0
    assert min(gaps) > 1


def zstd_ratio_per_object(objs: list[bytes]) -> float:
    zc = zstandard.ZstdCompressor(level=3)
    return sum(map(len, objs)) / sum(len(zc.compress(o)) for o in objs)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_compress_ratio(n):
    # Whole data set, each object compressed on its own as a store would (no dedup here).
    ds = DataSource("random", compress_factor=n, seed=SEED, pool_bytes=POOL)
    r = zstd_ratio_per_object(make(ds, [256 * KIB] * 32))
    assert abs(r - n) <= 0.15 * n, f"zstd ratio {r:.3f} for N={n} seed {SEED:#x}"


def test_dedup_and_compress_combined():
    ds = DataSource("random", dedup_factor=3, compress_factor=2, seed=SEED, pool_bytes=SMALL_POOL)
    objs = make(ds, [256 * KIB] * 64)
    d = dedup_ratio(objs)
    assert abs(d - 3) <= 0.3, f"dedup {d:.3f} seed {SEED:#x}"
    # Compression measured on the deduplicated unique blocks, each block on its own, so that
    # neither copies within zstd's window nor pool repeats can inflate it.
    zc = zstandard.ZstdCompressor(level=3)
    uniq = unique_blocks(objs)
    c = sum(map(len, uniq)) / sum(len(zc.compress(b)) for b in uniq)
    assert abs(c - 2) <= 0.3, f"zstd ratio {c:.3f} seed {SEED:#x}"


def test_threads_with_own_scratch_match_sequential():
    ds = DataSource("random", dedup_factor=2, compress_factor=2, seed=SEED, pool_bytes=POOL)
    rng = random.Random(SEED)
    jobs = [(rng.randint(1, 300_000), salt) for salt in range(400)]
    expect = [body(ds.payload(size, salt, bytearray())) for size, salt in jobs]
    got: dict[int, bytes] = {}

    def work(part: int) -> None:
        scratch = bytearray()
        for i in range(part, len(jobs), 4):
            size, salt = jobs[i]
            got[i] = body(ds.payload(size, salt, scratch))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(len(jobs))] == expect


@pytest.mark.parametrize("n", [1, 2])
def test_above_scratch_cap_returns_tuple(n):
    cap = 64 * KIB
    ds = DataSource("random", dedup_factor=n, seed=SEED, pool_bytes=256 * KIB, scratch_cap=cap)
    scratch = bytearray()
    size = 1_000_003
    p = ds.payload(size, 1, scratch)
    assert isinstance(p, tuple)
    assert sum(v.nbytes for v in p) == size
    assert p[0].nbytes == cap
    assert len(scratch) == cap  # never grown past the cap
    objs = [body(p), body(ds.payload(size, 2, bytearray()))]
    assert objs[0] != objs[1]
    r = dedup_ratio(objs)
    assert abs(r - n) <= 0.15 * n, f"ratio {r:.3f} above cap, N={n} seed {SEED:#x}"


def test_scratch_grows_only_when_needed_and_new_scratch_fits():
    ds = DataSource("random", seed=SEED, pool_bytes=POOL, scratch_cap=1 << 20)
    scratch = ds.new_scratch(100_000)
    assert len(scratch) >= 100_000
    before = len(scratch)
    ds.payload(100_000, 1, scratch)
    assert len(scratch) == before
    small = bytearray(10)
    ds.payload(5000, 1, small)
    assert len(small) >= 5000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fill": "urandom"},
        {"fill": "random", "dedup_factor": 0},
        {"fill": "random", "compress_factor": 0},
        {"fill": "random", "pool_bytes": 5000},
        {"fill": "random", "scratch_cap": 1000},
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        DataSource(**kwargs)


def test_unseeded_source_records_its_seed():
    ds = DataSource("random", pool_bytes=SMALL_POOL)
    again = DataSource("random", pool_bytes=SMALL_POOL, seed=ds.seed)
    assert make(ds, [5000], 3) == make(again, [5000], 3)
    assert "random" in repr(ds)


_SMALL_SOURCES = {
    (d, c): DataSource(
        "random", seed=SEED, pool_bytes=SMALL_POOL, dedup_factor=d, compress_factor=c
    )
    for d in (1, 3)
    for c in (1, 2)
}


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, BLOCK - 1),
    salt=st.integers(0, (1 << 64) - 1),
    factors=st.sampled_from(sorted(_SMALL_SOURCES)),
)
def test_an_object_below_a_block_is_the_prefix_of_its_one_block_object(size, salt, factors):
    """The sub-block path (PUTs of 1 KiB copy only their bytes) writes what the block path
    writes: the same unique or shared block, stamped the same, cut to ``size``."""
    ds = _SMALL_SOURCES[factors]
    whole = body(ds.payload(BLOCK, salt, bytearray()))
    assert body(ds.payload(size, salt, bytearray(BLOCK))) == whole[:size]
    assert body(ds.payload(size, salt, bytearray())) == whole[:size]  # grows the scratch
