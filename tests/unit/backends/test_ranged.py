"""The range engine's split, concurrency bound, deadline and failure, on a fake range source."""

from __future__ import annotations

import asyncio

import pytest

from sai3bench.backends.base import OpResult
from sai3bench.backends.ranged import RangedGets, RangeRead, object_size, pool_size
from sai3bench.config.storage_opts import RangeEngine
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner


class FakeSource:
    """An object of ``size`` bytes served in ranges after a short sleep, counting requests."""

    def __init__(self, size: int, delay: float = 0.001) -> None:
        self.size = size
        self.delay = delay
        self.requests: list[tuple[int, int]] = []
        self.in_flight = self.most_in_flight = 0
        self.fail_at = -1
        self.cancelled = 0
        #: the size Content-Range names (-1: the real one); a server that sends short ranges
        self.claimed = -1
        #: a range starting past the end is 416 (CLIENT_ERROR), as S3, GCS and Azure answer
        self.past_end_416 = False
        #: sizes the object is rewritten at, one after each answered request (a PUT between)
        self.rewrites: list[int] = []

    async def read_range(self, key: str, offset: int, length: int) -> RangeRead:
        self.requests.append((offset, length))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if offset == self.fail_at:
                raise OpError(Outcome.CONNECTION, "reset")
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        if self.past_end_416 and offset >= self.size:
            raise OpError(Outcome.CLIENT_ERROR, "416 range not satisfiable")
        got = max(0, min(length, self.size - offset))
        named = self.size if self.claimed < 0 else self.claimed
        if self.rewrites:
            self.size = self.rewrites.pop(0)
        return got, 1000 + offset, f"bytes {offset}-{offset + got - 1}/{named}".encode()

    async def plain(self, key: str) -> OpResult:
        self.requests.append((0, -1))
        return self.size, 7


def _engine(**kw: int) -> RangedGets:
    return RangedGets(RangeEngine(enabled=True, **kw))


def test_object_size_from_content_range() -> None:
    assert object_size(b"bytes 0-99/1000") == 1000
    assert object_size(b"bytes */1000") == 1000
    assert object_size(b"bytes 0-99/*") == -1
    assert object_size(b"") == -1


def test_pool_grows_by_the_ranges_each_worker_may_hold() -> None:
    assert pool_size(8, None) == 8
    assert pool_size(8, RangeEngine(enabled=False)) == 8
    assert pool_size(8, RangeEngine(enabled=True, max_concurrent_ranges=4)) == 32
    assert pool_size(512, RangeEngine(enabled=True, max_concurrent_ranges=16)) == 1024


def test_ranges_never_exceed_the_limit_and_cover_the_object(run_loop: LoopRunner) -> None:
    src = FakeSource(100 * 10 + 3)
    eng = _engine(chunk_size=10, min_split_size=50, max_concurrent_ranges=4)

    async def go() -> None:
        assert await eng.get(src, "k", src.plain) == (1003, 1000)  # first range's TTFB
        assert src.most_in_flight == 4
        assert sorted(src.requests) == [(o, 10 if o < 1000 else 3) for o in range(0, 1003, 10)]
        src.requests.clear()
        assert await eng.get(src, "k", src.plain) == (1003, 1000)  # size remembered
        assert len(src.requests) == 101 and src.requests[0] == (0, 10)

    run_loop(go())


def test_a_failed_range_cancels_the_rest_and_fails_the_op(run_loop: LoopRunner) -> None:
    src = FakeSource(1000, delay=0.01)
    src.fail_at = 300
    eng = _engine(chunk_size=100, min_split_size=100, max_concurrent_ranges=4)

    async def go() -> None:
        with pytest.raises(OpError) as err:
            await eng.get(src, "k", src.plain)
        assert err.value.outcome == Outcome.CONNECTION
        assert src.in_flight == 0 and src.cancelled >= 1  # nothing left running
        assert len(src.requests) < 10  # the ranges after the failure were never sent

    run_loop(go())


def test_a_range_past_its_deadline_is_a_timeout(run_loop: LoopRunner) -> None:
    src = FakeSource(1000, delay=5.0)
    eng = _engine(chunk_size=100, min_split_size=100)
    eng.timeout = 0.05  # the config's floor is 1 s; the deadline logic is the same

    async def go() -> None:
        with pytest.raises(OpError) as err:
            await eng.get(src, "k", src.plain)
        assert err.value.outcome == Outcome.TIMEOUT and "range_timeout_secs" in err.value.detail

    run_loop(go())


def test_a_short_range_is_a_protocol_error(run_loop: LoopRunner) -> None:
    src = FakeSource(1000)
    eng = _engine(chunk_size=100, min_split_size=100)

    async def go() -> None:
        await eng.get(src, "k", src.plain)
        src.size, src.claimed = 950, 1000  # a server that names 1000 bytes and sends 950
        with pytest.raises(OpError) as err:
            await eng.get(src, "k", src.plain)
        assert err.value.outcome == Outcome.PROTOCOL
        src.claimed = -1
        assert await eng.get(src, "k", src.plain) == (950, 1000)  # the retry learns it anew

    run_loop(go())


@pytest.mark.parametrize("new_size", [2500, 950, 450])
@pytest.mark.parametrize("past_end_416", [False, True])
def test_an_object_rewritten_at_another_size_is_read_at_its_new_size(
    run_loop: LoopRunner, new_size: int, past_end_416: bool
) -> None:
    """The remembered size is stale after a PUT of another size: the op reads the object as it
    is now (all its bytes, counted right), not the old split (a grown object was read short and
    counted at the old size; a shrunk one failed the op)."""
    src = FakeSource(1000)
    src.past_end_416 = past_end_416
    eng = _engine(chunk_size=100, min_split_size=100)

    async def go() -> None:
        assert await eng.get(src, "k", src.plain) == (1000, 1000)
        src.size = new_size
        src.requests.clear()
        assert await eng.get(src, "k", src.plain) == (new_size, 1000)
        assert eng.sizes["k"] == new_size
        tail = sorted(src.requests[src.requests.index((0, 100), 1) :])  # the second read
        assert tail == [(o, min(100, new_size - o)) for o in range(0, new_size, 100)]

    run_loop(go())


def test_two_gets_of_one_key_failing_together_both_fail_with_their_outcome(
    run_loop: LoopRunner,
) -> None:
    """Two workers reading one remembered object both fail: each forgets the size (the second
    found it gone; that was a KeyError in the engine)."""
    src = FakeSource(1000, delay=0.01)
    eng = _engine(chunk_size=100, min_split_size=100)

    async def go() -> None:
        await eng.get(src, "k", src.plain)
        src.fail_at = 500
        got = await asyncio.gather(
            *(eng.get(src, "k", src.plain) for _ in range(2)), return_exceptions=True
        )
        assert all(isinstance(e, OpError) and e.outcome == Outcome.CONNECTION for e in got), got
        assert "k" not in eng.sizes

    run_loop(go())


@pytest.mark.parametrize("new_size", [2500, 450])
def test_an_object_rewritten_between_its_ranges_is_read_again(
    run_loop: LoopRunner, new_size: int
) -> None:
    """A PUT lands after the first range told the size: the rest would tile the old object
    (short, 416, or a size the ranges disagree on), so the op reads it once more at its new
    size; a second rewrite within the op fails it."""
    src = FakeSource(1000)
    src.past_end_416 = True
    eng = _engine(chunk_size=100, min_split_size=100, max_concurrent_ranges=1)

    async def go() -> None:
        src.rewrites = [new_size]  # after the first range
        assert await eng.get(src, "k", src.plain) == (new_size, 1000)
        assert eng.sizes["k"] == new_size
        eng.sizes.clear()
        src.size, src.rewrites = 1000, [new_size, new_size, 1000]  # and again in the re-read
        with pytest.raises(OpError) as err:
            await eng.get(src, "k", src.plain)
        assert err.value.outcome == Outcome.PROTOCOL and "kept changing size" in err.value.detail
        assert "k" not in eng.sizes

    run_loop(go())
