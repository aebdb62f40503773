"""plan/share.py's io_rate split: the rate is the run's aggregate, whatever the process count.

Each share offers rate/N; deterministic shares are phase-offset so their union is one evenly
spaced stream at the full rate; exponential shares (independent seeded streams) sum to one whose
gaps pass a Kolmogorov-Smirnov test against exponential at the full rate.
"""

from __future__ import annotations

import itertools

import pytest

from sai3bench.engine.pacer import schedule
from sai3bench.plan.share import OpPool, WorkloadPlan, share_seed, split_workload
from tests.unit.engine.test_pacer import exponential_cdf, gaps_s, ks_critical, ks_statistic

PLAN = WorkloadPlan(pools=[OpPool(keys=["a", "b"])])


def union(rate: float, parts: int, distribution: str, n_each: int) -> list[int]:
    shares = split_workload(PLAN, concurrency=8, caps=[None], parts=parts, iops=rate)
    merged: list[int] = []
    for s in shares:
        assert s.pace is not None
        it = schedule(s.pace.iops, distribution, share_seed(42, s.index), s.pace.phase_s)
        merged.extend(itertools.islice(it, n_each))
    return sorted(merged)


@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_each_share_offers_its_part_and_they_add_up(parts: int) -> None:
    shares = split_workload(PLAN, concurrency=8, caps=[None], parts=parts, iops=1000.0)
    rates = [s.pace.iops for s in shares if s.pace is not None]
    assert len(rates) == parts and sum(rates) == pytest.approx(1000.0)


def test_closed_loop_shares_carry_no_pace() -> None:
    assert all(s.pace is None for s in split_workload(PLAN, concurrency=4, caps=[None], parts=2))


@pytest.mark.parametrize("parts", [2, 3, 4])
def test_deterministic_shares_interleave_into_one_even_stream(parts: int) -> None:
    instants = union(2000.0, parts, "deterministic", 500)
    gaps = {b - a for a, b in itertools.pairwise(instants)}
    assert max(gaps) - min(gaps) <= 1  # 500 us apart, +-1 ns of rounding


def test_exponential_shares_sum_to_poisson_at_the_full_rate() -> None:
    rate = 2000.0
    gaps = gaps_s(union(rate, 4, "exponential", 5000))
    assert ks_statistic(gaps, exponential_cdf(rate)) < ks_critical(len(gaps))
