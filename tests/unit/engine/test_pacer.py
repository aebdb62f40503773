"""engine/pacer.py: the io_rate schedule (pure, seeded) and the pacer's books.

The gap tests are Kolmogorov-Smirnov tests, written here (scipy is not a dependency), at
alpha = 0.001 on a fixed seed: deterministic, and a real mismatch (gaps from the wrong mean, or
a fixed interval) fails them by a wide margin (see test_ks_rejects_the_wrong_distribution).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import pytest

from sai3bench.engine.pacer import BLOCK_MIN, Pacer, schedule


def ks_statistic(samples: Sequence[float], cdf: Callable[[float], float]) -> float:
    """The one-sample Kolmogorov-Smirnov statistic D of ``samples`` against ``cdf``."""
    xs = sorted(samples)
    n = len(xs)
    d = 0.0
    for i, x in enumerate(xs):
        f = cdf(x)
        d = max(d, (i + 1) / n - f, f - i / n)
    return d


def ks_critical(n: int, alpha: float = 0.001) -> float:
    """Asymptotic critical value of D for ``n`` samples: sqrt(-ln(alpha / 2) / 2) / sqrt(n)."""
    return math.sqrt(-math.log(alpha / 2) / 2) / math.sqrt(n)


def exponential_cdf(rate: float) -> Callable[[float], float]:
    return lambda x: 1.0 - math.exp(-rate * x)


def gaps_s(instants: Sequence[int]) -> list[float]:
    return [(b - a) / 1e9 for a, b in itertools.pairwise(instants)]


def first(n: int, rate: float, distribution: str, seed: int = 7, phase_s: float = 0.0) -> list[int]:
    return list(itertools.islice(schedule(rate, distribution, seed, phase_s), n))


@pytest.mark.parametrize("rate", [200.0, 2000.0, 37.5])
def test_exponential_gaps_pass_ks_against_exponential(rate: float) -> None:
    gaps = gaps_s(first(20_001, rate, "exponential"))
    assert ks_statistic(gaps, exponential_cdf(rate)) < ks_critical(len(gaps))


def test_ks_rejects_the_wrong_distribution() -> None:
    """The test has teeth: a 10 % wrong mean, uniform or fixed gaps all fail it."""
    n = 20_000
    rate = 2000.0
    critical = ks_critical(n)
    wrong_mean = gaps_s(first(n + 1, rate * 1.1, "exponential"))
    uniform = gaps_s(first(n + 1, rate, "uniform"))
    fixed = gaps_s(first(n + 1, rate, "deterministic"))
    for gaps in (wrong_mean, uniform, fixed):
        assert ks_statistic(gaps, exponential_cdf(rate)) > 2 * critical


def test_uniform_gaps_are_uniform_up_to_twice_the_mean() -> None:
    rate = 500.0
    gaps = gaps_s(first(20_001, rate, "uniform"))
    top = 2 / rate
    d = ks_statistic(gaps, lambda x: min(max(x / top, 0.0), 1.0))
    assert d < ks_critical(len(gaps))


def test_deterministic_is_evenly_spaced_from_its_phase() -> None:
    instants = first(1000, 2000.0, "deterministic", phase_s=0.00025)
    assert instants[0] == 250_000
    assert {b - a for a, b in itertools.pairwise(instants)} == {500_000}


@pytest.mark.parametrize("distribution", ["exponential", "uniform", "deterministic"])
@pytest.mark.parametrize("rate", [200.0, 2000.0, 333.3])
def test_the_offered_count_is_exact_each_block(distribution: str, rate: float) -> None:
    """A 3 s window holds the rate's count of slots (+-1): no Poisson noise of +-4 % at 200/s
    (the integration tests' 2 % bound on the achieved rate depends on it)."""
    instants = first(int(rate * 4), rate, distribution)
    in_window = sum(1 for t in instants if t < 3_000_000_000)
    assert abs(in_window - rate * 3) <= 1


def test_schedules_are_seeded_and_non_decreasing() -> None:
    a = first(5000, 1000.0, "exponential", seed=1)
    assert a == first(5000, 1000.0, "exponential", seed=1)
    assert a != first(5000, 1000.0, "exponential", seed=2)
    assert all(x <= y for x, y in itertools.pairwise(a))


def test_a_slow_rate_keeps_at_least_block_min_slots_a_block() -> None:
    """At 0.5/s a block is 200 s: the scaling per block never reduces to one fixed gap."""
    gaps = gaps_s(first(BLOCK_MIN + 1, 0.5, "exponential"))
    assert max(gaps) > 3 * min(gaps) + 1
    assert sum(gaps[: BLOCK_MIN - 1]) < BLOCK_MIN / 0.5


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        schedule(0, "exponential", 1)
    with pytest.raises(ValueError, match="distribution"):
        schedule(10, "poisson", 1)


def pacer(rate: float = 1000.0, deadline_ms: int = 1000) -> Pacer:
    return Pacer(schedule(rate, "deterministic", 0), rate, 0, deadline_ms * 1_000_000)


def test_on_time_takes_have_no_backlog() -> None:
    p = pacer()
    assert [p.take(0), p.take(0), p.take(1_500_000)] == [0, 1_000_000, 2_000_000]
    assert p.max_backlog == 1  # the first slot, due at 0, taken at 0


def test_backlog_counts_slots_past_due_and_not_started() -> None:
    p = pacer()
    ms = 1_000_000
    assert p.take(10 * ms) == 0  # slots 0..10 ms are due: 11 waiting, this one among them
    assert p.max_backlog == 11
    assert p.take(10 * ms) == 1 * ms
    assert p.max_backlog == 11
    assert p.close(20 * ms) == 19  # 2..20 ms due and never started
    assert p.max_backlog == 19


def test_a_huge_backlog_is_extrapolated_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sai3bench.engine.pacer.LOOKAHEAD_MAX", 1000)
    p = pacer(rate=1000.0)
    p.take(10_000_000_000)  # 10 s behind: 10,001 slots due
    assert 9_990 <= p.max_backlog <= 10_001
    assert len(p._ahead) <= 1000
