"""Retries reach the stage's collector by op kind and outcome: the engine's own retries and the
requests an HTTP pool resent below the backend (told through http/resends.py). No sockets."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from sai3bench.engine.batch import BatchResults, exec_batch_async
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.record import Tally, make_recorder
from sai3bench.engine.transient import RetryPolicy
from sai3bench.http.resends import note_resend
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import OpError, Outcome


class ResendingBackend:
    """An async backend whose GETs follow a script: "resend" (the pool resent it, then it
    worked), "throttled" (fails with 503), or "ok"."""

    root_uri = "fake://"

    def __init__(self, script: list[str]) -> None:
        self.script = deque(script)

    async def get(self, key: str) -> tuple[int, int]:
        await asyncio.sleep(0)
        step = self.script.popleft() if self.script else "ok"
        if step == "throttled":
            raise OpError(Outcome.THROTTLED)
        if step == "resend":
            note_resend(Outcome.CONNECTION)  # what H1Pool.send says when it sends again
        return 10, 0

    async def head(self, key: str) -> tuple[int, int]:
        note_resend(Outcome.CONNECTION)
        return 0, 0


def _run(script: list[str], tasks: list[Task], retry: RetryPolicy) -> Collector:
    backend: Any = ResendingBackend(script)
    ops = [
        PlannedOp(index=0, kind=OpKind.GET, backend=backend, label="get"),
        PlannedOp(index=1, kind=OpKind.STAT, backend=backend, label="stat"),
    ]
    collector = Collector()
    record = make_recorder(collector, ops, Tally())
    out = BatchResults(8)

    async def go() -> None:
        ran = await exec_batch_async(ops, tasks, out, 2**62, retry)
        record(tasks, ran, out)

    asyncio.run(go())
    assert out.retry_log == [] and out.resent == []  # filed and cleared
    return collector


def test_resends_and_engine_retries_are_filed_under_the_op_that_made_them() -> None:
    tasks: list[Task] = [(0, "a", 0, 0), (1, "b", 0, 0), (0, "c", 0, 0), (0, "d", 0, 0)]
    c = _run(["resend", "throttled", "ok", "ok"], tasks, RetryPolicy(max_retries=2, first_s=0))
    assert c.ops(OpKind.GET) == 3 and c.ops(OpKind.STAT) == 1 and c.error_count() == 0
    assert c.retry_outcomes() == {
        (OpKind.GET, Outcome.CONNECTION): 1,  # "a": resent by the pool
        (OpKind.GET, Outcome.THROTTLED): 1,  # "c": retried by error_handling
        (OpKind.STAT, Outcome.CONNECTION): 1,  # "b": a HEAD resent
    }


def test_without_resends_nothing_is_counted() -> None:
    c = _run([], [(0, "a", 0, 0)], RetryPolicy())
    assert c.retries == 0 and c.retry_outcomes() == {}
