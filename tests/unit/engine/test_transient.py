"""engine/transient.py: which outcomes are retried, the backoff schedule, and the retry loop."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from sai3bench.engine.transient import (
    STAGE_RETRY,
    RetryPolicy,
    is_transient,
    retry_transient,
)
from sai3bench.outcome import OpError, Outcome

NO_WAIT = RetryPolicy(max_retries=3, first_s=0.0)


@pytest.mark.parametrize(
    ("outcome", "transient"),
    [
        (Outcome.THROTTLED, True),
        (Outcome.SERVER_ERROR, True),
        (Outcome.TIMEOUT, True),
        (Outcome.CONNECTION, True),
        (Outcome.PROTOCOL, True),
        (Outcome.PERMISSION, False),
        (Outcome.NOT_FOUND, False),
        (Outcome.CLIENT_ERROR, False),
        (Outcome.NO_SPACE, False),
        (Outcome.OTHER, False),
        (Outcome.OK, False),
    ],
)
def test_transient_table(outcome: Outcome, transient: bool) -> None:
    assert is_transient(outcome) is transient
    assert is_transient(int(outcome)) is transient


def test_late_flagged_code_is_not_transient() -> None:
    assert not is_transient(0x80 | Outcome.THROTTLED)


def test_backoff_grows_is_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(max_retries=10, first_s=0.1, max_s=2.0, multiplier=2.0, jitter=0.5)
    rng = random.Random(1)
    for attempt, base in enumerate([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]):
        for _ in range(50):
            assert base * 0.5 <= policy.delay_s(attempt, rng) <= base * 1.5
    spread = {round(policy.delay_s(3, rng), 6) for _ in range(20)}
    assert len(spread) > 10  # jittered: workers throttled together do not return together


def test_stage_policy_gives_up_within_a_bounded_time() -> None:
    worst = sum(
        min(STAGE_RETRY.max_s, STAGE_RETRY.first_s * STAGE_RETRY.multiplier**n)
        * (1 + STAGE_RETRY.jitter)
        for n in range(STAGE_RETRY.max_retries)
    )
    assert 5 < worst < 40


def _flaky(outcomes: list[Outcome]) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        if outcomes:
            raise OpError(outcomes.pop(0), "injected")
        return "ok"

    return calls, call


def test_transient_failures_are_retried_until_success() -> None:
    calls, call = _flaky([Outcome.THROTTLED, Outcome.CONNECTION, Outcome.PROTOCOL])
    seen: list[tuple[Outcome, int]] = []
    got = asyncio.run(
        retry_transient(
            call,
            policy=NO_WAIT,
            on_retry=lambda exc, n, wait: seen.append((exc.outcome, n)),
        )
    )
    assert got == "ok" and calls[0] == 4
    assert seen == [(Outcome.THROTTLED, 1), (Outcome.CONNECTION, 2), (Outcome.PROTOCOL, 3)]


def test_permanent_failure_is_raised_at_once() -> None:
    calls, call = _flaky([Outcome.PERMISSION])
    with pytest.raises(OpError) as info:
        asyncio.run(retry_transient(call, policy=NO_WAIT))
    assert info.value.outcome == Outcome.PERMISSION and calls[0] == 1


def test_last_transient_failure_is_raised_when_retries_run_out() -> None:
    calls, call = _flaky([Outcome.SERVER_ERROR] * 3 + [Outcome.TIMEOUT])
    with pytest.raises(OpError) as info:
        asyncio.run(retry_transient(call, policy=NO_WAIT))
    assert info.value.outcome == Outcome.TIMEOUT and calls[0] == 4


def test_a_failure_flagged_permanent_is_raised_at_once_whatever_its_outcome() -> None:
    """An untrusted certificate is a CONNECTION outcome, but retrying it for 16 s only delays
    the line that says what to fix."""
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        raise OpError(Outcome.CONNECTION, "certificate not trusted", permanent=True)

    with pytest.raises(OpError) as info:
        asyncio.run(retry_transient(call, policy=NO_WAIT))
    assert info.value.permanent and calls[0] == 1
