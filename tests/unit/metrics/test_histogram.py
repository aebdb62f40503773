"""Histogram layout, accuracy against exact order statistics, merge exactness, encoding."""

from __future__ import annotations

import math
import os
import random
import zlib
from fractions import Fraction
from pathlib import Path

import pytest

from sai3bench.metrics.histogram import (
    MAX_TRACKABLE_NS,
    N_BUCKETS,
    Histogram,
    bucket_index,
    bucket_range,
    nearest_rank,
)

DATA = Path(__file__).parents[2] / "data"
QUANTILES = ("0", "0.5", "0.9", "0.95", "0.99", "0.999", "1")


@pytest.fixture
def rng():
    seed = int(os.environ.get("SAI3_TEST_SEED", "20240601"))
    print(f"seed={seed} (set SAI3_TEST_SEED to replay)")
    return random.Random(seed)


def exact_nearest_rank(sorted_values: list[int], q: str) -> int:
    """The textbook nearest-rank percentile, with the rank computed in exact arithmetic."""
    n = len(sorted_values)
    rank = max(1, math.ceil(Fraction(q) * n))
    return sorted_values[rank - 1]


def filled(values) -> Histogram:
    h = Histogram()
    for v in values:
        h.record(v)
    return h


# --- layout -------------------------------------------------------------------------------


def test_buckets_tile_the_range_without_gaps_or_overlap():
    prev_hi = -1
    for i in range(N_BUCKETS):
        lo, hi = bucket_range(i)
        assert lo == prev_hi + 1, i
        assert bucket_index(lo) == i and bucket_index(hi) == i
        prev_hi = hi
    assert prev_hi == MAX_TRACKABLE_NS


def test_values_below_2048_are_exact_and_wider_buckets_are_within_1_in_1024():
    for v in range(2048):
        assert bucket_range(bucket_index(v)) == (v, v)
    for i in range(2048, N_BUCKETS, 97):
        lo, hi = bucket_range(i)
        assert (hi - lo + 1) * 1024 <= lo


@pytest.mark.parametrize(
    ("value", "index"),
    [
        (-5, 0),
        (0, 0),
        (2047, 2047),
        (2048, 2048),  # k=1: 1*1024 + 1024
        (2049, 2048),
        (4095, 3071),
        (4096, 3072),  # k=2
        (MAX_TRACKABLE_NS, N_BUCKETS - 1),
        (MAX_TRACKABLE_NS + 1, N_BUCKETS - 1),
        (10**30, N_BUCKETS - 1),
    ],
)
def test_bucket_index_at_boundaries(value, index):
    assert bucket_index(value) == index


def test_bucket_range_rejects_out_of_range_index():
    with pytest.raises(IndexError):
        bucket_range(N_BUCKETS)
    with pytest.raises(IndexError):
        bucket_range(-1)


def test_record_puts_values_where_bucket_index_says(rng):
    values = [rng.randrange(0, 1 << 44) >> rng.randrange(0, 44) for _ in range(3000)]
    h = filled(values)
    ref = [0] * N_BUCKETS
    for v in values:
        ref[bucket_index(v)] += 1
    assert list(h.counts) == ref


# --- accuracy -----------------------------------------------------------------------------


def _distributions(rng: random.Random) -> dict[str, list[int]]:
    n = 20_000
    return {
        "uniform 1us-10ms": [rng.randint(1_000, 10_000_000) for _ in range(n)],
        "lognormal ~200us": [int(rng.lognormvariate(math.log(200_000), 1.2)) for _ in range(n)],
        "spike": [1_234_567] * n,
        "spike plus outliers": [1_234_567] * (n - 30) + [rng.randint(1, 10**9) for _ in range(30)],
        "below 2048 ns": [rng.randint(0, 2047) for _ in range(n)],
        "near 1 hour": [rng.randint(3_500_000_000_000, 3_600_000_000_000) for _ in range(n)],
        "few values": [rng.randint(1_000, 10**8) for _ in range(7)],
    }


def test_percentiles_within_0_1_percent_of_exact_nearest_rank(rng):
    for name, values in _distributions(rng).items():
        h = filled(values)
        ordered = sorted(values)
        got = h.percentiles([float(q) for q in QUANTILES])
        for q, est in zip(QUANTILES, got, strict=True):
            exact = exact_nearest_rank(ordered, q)
            assert abs(est - exact) <= exact / 1000, (name, q, est, exact)  # the contract
            assert abs(est - exact) * 2048 <= exact, (name, q, est, exact)  # midpoint: 1/2048
            if exact < 2048:
                assert est == exact, (name, q)
        assert h.value_at_quantile(0.99) == got[4]
        assert (h.min_ns, h.max_ns, h.count) == (ordered[0], ordered[-1], len(values))
        assert h.total_ns == sum(values)
        assert h.mean_ns() == pytest.approx(sum(values) / len(values), rel=1e-12)


def test_spike_reports_the_exact_value_everywhere():
    h = Histogram()
    h.record_n(1_234_567, 5000)
    assert h.percentiles([0.0, 0.5, 0.999, 1.0]) == [1_234_567] * 4


def test_nearest_rank_is_robust_to_float_noise():
    assert 0.07 * 100 > 7  # the trap
    assert nearest_rank(0.07, 100) == 7
    assert nearest_rank(0.0, 10) == 1
    assert nearest_rank(1.0, 10) == 10
    assert nearest_rank(0.5, 3) == 2
    assert nearest_rank(0.999, 10**12) == 999 * 10**9


def test_quantile_out_of_range_is_refused():
    with pytest.raises(ValueError):
        Histogram().value_at_quantile(1.5)
    with pytest.raises(ValueError):
        filled([5]).percentiles([-0.1])


# --- edge values --------------------------------------------------------------------------


def test_empty_histogram_reports_zeros():
    h = Histogram()
    assert (h.count, h.total_ns, h.min_ns, h.max_ns, h.saturated) == (0, 0, 0, 0, 0)
    assert h.mean_ns() == 0.0
    assert h.value_at_quantile(0.5) == 0
    assert h.percentiles([0.5, 0.99]) == [0, 0]
    assert repr(h) == "<Histogram n=0>"
    assert Histogram.decode(h.encode()) == h
    other = Histogram()
    other.merge(h)
    assert other == h
    one = filled([42])
    one.merge(Histogram())
    assert one == filled([42])


def test_saturated_values_keep_exact_max_and_sum():
    h = filled([1_000, MAX_TRACKABLE_NS + 1, 10**15])
    assert h.saturated == 2
    assert h.counts[N_BUCKETS - 1] == 2
    assert h.max_ns == 10**15 and h.total_ns == 1_000 + MAX_TRACKABLE_NS + 1 + 10**15
    assert h.value_at_quantile(1.0) == 10**15


def test_negative_values_are_clamped_to_zero():
    h = filled([-1, -(10**9), 5])
    assert h.counts[0] == 2 and h.min_ns == 0 and h.total_ns == 5 and h.max_ns == 5


def test_record_n_equals_n_records(rng):
    a, b = Histogram(), Histogram()
    for _ in range(200):
        v = rng.randint(-10, 10**13)
        n = rng.randint(0, 5)
        a.record_n(v, n)
        for _ in range(n):
            b.record(v)
    assert a == b


def test_first_value_sets_both_min_and_max():
    for seq in ([5], [5, 4, 3], [3, 4, 5], [4, 3, 5]):
        h = filled(seq)
        assert (h.min_ns, h.max_ns) == (min(seq), max(seq)), seq


def test_repr_shows_count_p50_and_max():
    h = Histogram()
    h.record_n(1_200_000, 999)
    h.record(9_100_000)
    assert repr(h) == "<Histogram n=1000 p50=1.20ms max=9.10ms>"


# --- merge --------------------------------------------------------------------------------


def test_merge_of_three_parts_is_identical_to_one_histogram(rng):
    values = [int(rng.lognormvariate(math.log(50_000), 2.0)) for _ in range(30_000)]
    values += [0, 1, MAX_TRACKABLE_NS + 7]
    whole = filled(values)
    parts = [Histogram() for _ in range(3)]
    for v in values:
        parts[rng.randrange(3)].record(v)
    merged = Histogram()
    for p in parts:
        merged.merge(p)
    assert merged.counts == whole.counts
    assert merged == whole
    qs = [float(q) for q in QUANTILES]
    assert merged.percentiles(qs) == whole.percentiles(qs)
    assert merged.encode() == whole.encode()


# --- encoding -----------------------------------------------------------------------------


def test_encode_decode_round_trip(rng):
    values = [rng.randint(0, 10**11) >> rng.randint(0, 30) for _ in range(5000)]
    h = filled(values)
    for compress in (False, True):
        blob = h.encode(compress=compress)
        back = Histogram.decode(blob)
        assert back == h
        assert back.encode(compress=compress) == blob


def test_hand_computed_encoding():
    """docs/FORMAT.md's worked example: 1000 ns twice and 5000 ns once."""
    h = Histogram()
    h.record_n(1000, 2)
    h.record(5000)
    expected = bytes.fromhex(
        "53334248 01 00 0b 2a"  # magic, version 1, flags 0, 11 sub-bucket bits, 42 value bits
        "03 d836 e807 8827 00"  # count 3, total 7000, min 1000, max 5000, saturated 0
        "02 e807 02 f911 01"  # 2 entries: gap 1000 -> idx 1000 x2; gap 2297 -> idx 3298 x1
    )
    assert h.encode() == expected
    assert Histogram.decode(expected) == h


def test_golden_blob_decodes_and_re_encodes_identically():
    blob = (DATA / "histogram_v1.bin").read_bytes()
    h = Histogram.decode(blob)
    assert (h.count, h.min_ns, h.max_ns, h.saturated) == (11, 0, MAX_TRACKABLE_NS + 5, 1)
    assert h.total_ns == 7_998_049_640_709
    assert h.percentiles([0.5, 0.9, 1.0]) == [123_488, 3_600_256_335_872, MAX_TRACKABLE_NS + 5]
    rebuilt = Histogram()
    for v in (0, 1, 2047, 2048, 2049, 123_456, 3_600_000_000_000, MAX_TRACKABLE_NS + 5):
        rebuilt.record(v)
    rebuilt.record_n(1_000_000, 3)
    assert rebuilt == h
    assert rebuilt.encode() == blob


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b"XXXX" + b[4:], "magic"),
        (lambda b: b[:4] + b"\x02" + b[5:], "version"),
        (lambda b: b[:5] + b"\x04" + b[6:], "flags"),
        (lambda b: b[:6] + b"\x0a" + b[7:], "layout"),
        (lambda b: b[:7] + b"\x40" + b[8:], "layout"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\x00", "trailing"),
        (lambda b: b[:8] + b"\x04" + b[9:], "header says"),
        (lambda b: b[:3], "magic"),
    ],
)
def test_decode_refuses_corrupt_blobs(mangle, message):
    h = Histogram()
    h.record_n(1000, 2)
    h.record(5000)
    with pytest.raises(ValueError, match=message):
        Histogram.decode(mangle(h.encode()))


def test_decode_refuses_index_past_the_last_bucket():
    body = bytes([1, 5, 5, 5, 0, 1]) + bytes([0xFF, 0xFF, 0x03, 1])  # gap 65535: out of range
    blob = b"S3BH\x01\x00\x0b\x2a" + body
    with pytest.raises(ValueError, match="out of range"):
        Histogram.decode(blob)
    with pytest.raises(ValueError, match="out of range"):
        Histogram.decode(b"S3BH\x01\x01\x0b\x2a" + zlib.compress(body))
