"""engine/mix: exact weighted sequences and the cap-aware op chooser (pure)."""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from sai3bench.engine.mix import SEQUENCE_LEN, OpMix, build_sequence

SEED = int(os.environ.get("SAI3_TEST_SEED", "20250611"))


def check_counts(weights: Sequence[int], seq: Sequence[int], length: int = SEQUENCE_LEN) -> None:
    counts = Counter(seq)
    total = sum(weights)
    assert len(seq) == length
    assert sum(counts.values()) == length
    assert set(counts) <= set(range(len(weights)))
    for i, w in enumerate(weights):
        exact = w * length / total
        assert abs(counts[i] - exact) < 1, (weights, i, counts[i], exact)
        if w == 0:
            assert counts[i] == 0


@pytest.mark.parametrize(
    "weights",
    [
        [1],
        [1, 1],
        [1, 3],
        [1, 1, 1],
        [60, 15, 21, 1, 3],
        [7, 0, 5],
        [0, 0, 1],
        [3, 5, 7, 11, 13],
        [1, 4095],
        [1, 10**6],
        [99, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ],
)
def test_build_sequence_proportions(weights: list[int]) -> None:
    check_counts(weights, build_sequence(weights, SEED))


def test_build_sequence_exact_when_weights_divide() -> None:
    counts = Counter(build_sequence([1, 3, 0, 4], SEED))
    assert counts == {0: 512, 1: 1536, 3: 2048}


def test_build_sequence_random_weight_sets() -> None:
    rng = random.Random(SEED)
    for _ in range(200):
        weights = [rng.choice([0, rng.randint(1, 1000)]) for _ in range(rng.randint(1, 8))]
        if sum(weights) == 0:
            weights[0] = 1
        check_counts(weights, build_sequence(weights, rng.getrandbits(32)))


def test_build_sequence_other_length() -> None:
    check_counts([2, 1], build_sequence([2, 1], SEED, length=10), length=10)


def test_build_sequence_deterministic_by_seed_and_shuffled() -> None:
    a = build_sequence([1, 1, 2], SEED)
    assert list(a) == list(build_sequence([1, 1, 2], SEED))
    b = build_sequence([1, 1, 2], SEED + 1)
    assert list(a) != list(b)
    assert sorted(a) == sorted(b)
    assert list(a) != sorted(a), "the sequence must be shuffled, not grouped"


@pytest.mark.parametrize("weights", [[], [0], [0, 0]])
def test_build_sequence_zero_total_refused(weights: list[int]) -> None:
    with pytest.raises(ValueError, match="total weight"):
        build_sequence(weights, SEED)


def picks(mix: OpMix, n: int, held: Sequence[int] = ()) -> Counter[int | None]:
    return Counter(mix.next_op(held) for _ in range(n))


def test_next_op_walks_the_sequence_exactly() -> None:
    weights = [5, 3, 0, 8]
    mix = OpMix(weights, caps=[4, 4, 4, 4], seed=SEED)
    got = [mix.next_op() for _ in range(SEQUENCE_LEN)]
    assert got == list(build_sequence(weights, SEED))


def test_zero_weight_op_never_picked() -> None:
    mix = OpMix([1, 0], caps=[1, 1], seed=SEED)
    assert mix.live == [True, False]
    assert picks(mix, 500) == {0: 500}


def test_op_at_cap_is_skipped_not_waited_for() -> None:
    mix = OpMix([9, 1], caps=[1, 8], seed=SEED)
    mix.acquire(0)
    assert picks(mix, 300) == {1: 300}
    mix.release(0)
    assert picks(mix, SEQUENCE_LEN)[0] > 0


def test_held_op_may_repeat_past_its_cap() -> None:
    mix = OpMix([1, 1], caps=[1, 1], seed=SEED)
    mix.acquire(0)
    mix.acquire(1)
    assert mix.next_op() is None
    assert picks(mix, 100, held=[0]) == {0: 100}
    assert set(picks(mix, 200, held=[0, 1])) == {0, 1}


def test_none_when_everything_is_at_cap() -> None:
    mix = OpMix([2, 1, 1], caps=[2, 1, 1], seed=SEED)
    for op in (0, 0, 1, 2):
        mix.acquire(op)
    assert mix.inflight == [2, 1, 1]
    assert mix.next_op() is None
    mix.release(2)
    assert mix.next_op() == 2


def test_retire_stops_picking_and_any_live() -> None:
    mix = OpMix([1, 1], caps=[4, 4], seed=SEED)
    assert mix.any_live
    mix.retire(1)
    assert mix.any_live
    assert picks(mix, 300) == {0: 300}
    assert picks(mix, 10, held=[1]) == {0: 10}  # holding a retired op does not revive it
    mix.retire(0)
    assert not mix.any_live
    assert mix.next_op() is None
    assert mix.next_op(held=[0, 1]) is None
