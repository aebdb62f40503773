"""engine/waker.py: a timerfd on the loop resolves each future at its instant, earliest first,
whatever order they were asked in; never early; close wakes whoever still waits. Bounds on
lateness are loose (a loaded box), but never-early is exact."""

from __future__ import annotations

import asyncio
import time

import pytest

from sai3bench.engine.waker import TimerfdWaker, open_waker
from tests.conftest import LoopRunner


def waker() -> TimerfdWaker:
    w = open_waker(asyncio.get_running_loop())
    if w is None:
        pytest.fail("timerfd is not available on this Linux box")
    return w


def test_futures_resolve_at_their_instants_in_time_order(run_loop: LoopRunner) -> None:
    async def body() -> list[tuple[int, int]]:
        w = waker()
        base = time.perf_counter_ns() + 20_000_000
        woke: list[tuple[int, int]] = []

        async def sleeper(offset_ms: int) -> None:
            due = base + offset_ms * 1_000_000
            await w.wait_until(due)
            woke.append((offset_ms, time.perf_counter_ns() - due))

        # asked out of order: the heap still wakes 1 before 3 before 7
        await asyncio.gather(*(sleeper(ms) for ms in (7, 1, 3, 3)))
        w.close()
        return woke

    woke = run_loop(body())
    assert [ms for ms, _ in woke] == [1, 3, 3, 7]
    assert all(late >= 0 for _, late in woke)  # never early
    assert all(late < 500_000_000 for _, late in woke)


def test_a_past_instant_resolves_at_once(run_loop: LoopRunner) -> None:
    async def body() -> float:
        w = waker()
        t0 = time.monotonic()
        await w.wait_until(time.perf_counter_ns() - 1_000_000)
        w.close()
        return time.monotonic() - t0

    assert run_loop(body()) < 1.0


def test_close_wakes_everyone_still_waiting(run_loop: LoopRunner) -> None:
    async def body() -> bool:
        w = waker()
        fut = w.wait_until(time.perf_counter_ns() + 3_600_000_000_000)
        w.close()
        await asyncio.wait_for(fut, 5)
        return fut.done()

    assert run_loop(body())
