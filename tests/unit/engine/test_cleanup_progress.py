"""Cleanup through DeleteObjects batches (s3://) shows progress like every other task list:
objects done of the total, once a second (issue 10 item 6)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sai3bench.engine.cleanup import run_cleanup
from sai3bench.engine.prepare import PreparedSet
from sai3bench.engine.progress import Tick
from sai3bench.plan.tasks import PrepareSet


class _SlowBatches:
    """A BatchDeleter whose every request takes 0.7 s and deletes every key."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete_many(self, keys: Sequence[str]) -> list[tuple[str, str, str]]:
        await asyncio.sleep(0.7)
        self.deleted += keys
        return []

    def uri_of(self, key: str) -> str:
        return "s3://b/" + key


class _Out:
    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.cleared = 0

    def say(self, line: str = "") -> None: ...
    def warn(self, line: str) -> None: ...
    def progress(self, line: str) -> None:
        self.cleared += line == ""

    def progress_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)


class _Ctx:
    def __init__(self, out: _Out) -> None:
        self.out = out
        self.concurrency = 1  # the two batches run one after the other: 1.4 s


def test_batched_cleanup_reports_objects_done_of_the_total(run_loop: Any) -> None:
    backend = _SlowBatches()
    pset = PrepareSet(0, "prepared", None, "s3://b/d/")  # type: ignore[arg-type]
    ps = PreparedSet(pset, backend, "d/")  # type: ignore[arg-type]
    ps.created.extend(range(1500))  # two DeleteObjects requests of up to 1,000 keys
    out = _Out()
    result = run_loop(run_cleanup(_Ctx(out), [ps], mode="tolerant"))  # type: ignore[arg-type]
    assert result.deleted == 1500 and len(backend.deleted) == 1500
    assert out.ticks, "no progress in 1.4 s"
    first = out.ticks[0]  # at 1 s: the first batch is done, the second in flight
    assert (first.label, first.total, first.done) == ("cleanup", 1500, 1000)
    assert out.cleared >= 1  # the live view is erased when the stage ends
