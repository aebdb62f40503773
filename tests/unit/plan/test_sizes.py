"""SizeSampler: bounds, statistics with fixed seeds, determinism, and the URI seed hash."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from sai3bench.config.sizespec import FixedSize, LognormalSize, SizeSpec, UniformSize
from sai3bench.plan.sizes import SizeSampler, seed_for_uri

N = 20_000
SEED = 20240601


def draw(spec: SizeSpec, n: int = N, seed: int = SEED) -> tuple[SizeSampler, list[int]]:
    rng = random.Random(seed)
    s = SizeSampler(spec)
    return s, [s.sample(rng) for _ in range(n)]


def test_fixed():
    s, xs = draw(FixedSize(size=4096), n=100)
    assert set(xs) == {4096}
    assert s.mean_bytes() == 4096.0
    assert (s.min_bytes, s.max_bytes) == (4096, 4096)
    assert list(s.sample_array(5, 1)) == [4096] * 5


def test_uniform_small_range_reaches_both_ends():
    s, xs = draw(UniformSize(min=1, max=4))
    assert set(xs) == {1, 2, 3, 4}, f"seed {SEED}"
    assert s.mean_bytes() == 2.5


def test_uniform_mean_and_bounds():
    lo, hi = 1024, 1048576
    s, xs = draw(UniformSize(min=lo, max=hi))
    assert min(xs) >= lo and max(xs) <= hi
    se = (hi - lo) / math.sqrt(12) / math.sqrt(N)
    assert abs(statistics.fmean(xs) - s.mean_bytes()) < 4 * se, f"seed {SEED}"
    assert s.mean_bytes() == (lo + hi) / 2


def test_uniform_min_zero_never_yields_zero():
    _, xs = draw(UniformSize(min=0, max=2), n=2000)
    assert set(xs) == {1, 2}


def test_lognormal_linear_mean_and_std_when_unbounded():
    mean, sd = 1 << 20, 1 << 18
    s, xs = draw(LognormalSize(mean=mean, std_dev=sd))
    assert abs(statistics.fmean(xs) - mean) < 4 * sd / math.sqrt(N), f"seed {SEED}"
    assert abs(statistics.stdev(xs) - sd) < 0.05 * sd, f"seed {SEED}"
    assert s.mean_bytes() == pytest.approx(mean, rel=1e-9)
    assert min(xs) >= 1


def test_lognormal_clamped_respects_bounds_and_mean_estimate():
    spec = LognormalSize(mean=1 << 20, std_dev=1 << 20, min=256 << 10, max=1536 << 10)
    s, xs = draw(spec)
    assert min(xs) >= spec.min and max(xs) <= spec.max
    # Truncation moves the mean well away from the configured one; mean_bytes must follow it.
    sd = statistics.stdev(xs)
    assert abs(statistics.fmean(xs) - s.mean_bytes()) < 4 * sd / math.sqrt(N), f"seed {SEED}"
    assert abs(s.mean_bytes() - spec.mean) > 10 * sd / math.sqrt(N)


def test_lognormal_unreachable_range_clamps_after_redraws():
    spec = LognormalSize(mean=1000, std_dev=10, min=2000, max=3000)
    s, xs = draw(spec, n=50)
    assert set(xs) == {2000}
    assert s.mean_bytes() == pytest.approx(2000)
    spec = LognormalSize(mean=1000, std_dev=10, min=1, max=500)
    assert set(draw(spec, n=50)[1]) == {500}


def test_lognormal_zero_std_is_the_mean():
    s, xs = draw(LognormalSize(mean=5000, std_dev=0), n=100)
    assert set(xs) == {5000}
    assert s.mean_bytes() == pytest.approx(5000)


@pytest.mark.parametrize(
    "spec",
    [UniformSize(min=10, max=10_000), LognormalSize(mean=8192, std_dev=4096, min=100, max=20000)],
)
def test_sample_array_is_deterministic_with_stable_prefix(spec):
    s = SizeSampler(spec)
    a = s.sample_array(1000, 42)
    assert a.typecode == "q"
    assert a == s.sample_array(1000, 42)
    assert a[:300] == s.sample_array(300, 42)
    assert a != s.sample_array(1000, 43)
    assert min(a) >= s.min_bytes and max(a) <= s.max_bytes


@pytest.mark.parametrize(
    "spec",
    [
        UniformSize(min=10, max=5),
        LognormalSize(mean=0, std_dev=1),
        LognormalSize(mean=10, std_dev=-1),
        LognormalSize(mean=10, std_dev=1, min=20, max=5),
        FixedSize(size=0),
    ],
)
def test_invalid_specs_raise(spec):
    with pytest.raises(ValueError):
        SizeSampler(spec)


def test_seed_for_uri_is_the_rolling_hash():
    assert seed_for_uri("") == 0
    assert seed_for_uri("ab") == 97 * 31 + 98
    long = "s3://bucket/" + "x" * 200
    acc = 0
    for b in long.encode():
        acc = (acc * 31 + b) % 2**64
    assert seed_for_uri(long) == acc
    assert 0 <= seed_for_uri(long) < 2**64
    assert seed_for_uri("s3://b/a") != seed_for_uri("s3://b/b")
