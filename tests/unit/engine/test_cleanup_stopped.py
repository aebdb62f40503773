"""A cleanup stopped before every object was tried (a signal, a Stop sent to an engine process)
reports the untried objects as left behind, never as deleted and never as nothing.

It once ended a share with "deleted 21", 0 errors and no ``left`` entry while 4 prepared
objects were still in the store: a Stop meant for the workload reached the cleanup children.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sai3bench.backends.base import OpResult
from sai3bench.engine import interrupt
from sai3bench.engine.cleanup import run_cleanup
from sai3bench.engine.context import executor_for
from sai3bench.engine.prepare import PreparedSet
from sai3bench.plan.tasks import PrepareSet


class _StopAfter:
    """Stands in for the run's Interrupt: keeps the pool so the backend can stop it."""

    def __init__(self) -> None:
        self.pools: list[Any] = []

    @contextlib.contextmanager
    def watching(self, pool: Any) -> Iterator[None]:
        self.pools.append(pool)
        yield


class _Deletes:
    """An async backend that deletes and, after ``stop_at`` deletes, stops the pool."""

    def __init__(self, stopper: _StopAfter, stop_at: int) -> None:
        self.stopper = stopper
        self.stop_at = stop_at
        self.deleted: list[str] = []

    async def delete(self, key: str) -> OpResult:
        self.deleted.append(key)
        if len(self.deleted) == self.stop_at:
            for pool in self.stopper.pools:
                pool.stop()
        return 0, 0

    def uri_of(self, key: str) -> str:
        return "mem://b/" + key


class _Out:
    def say(self, line: str = "") -> None: ...
    def warn(self, line: str) -> None: ...
    def progress(self, line: str) -> None: ...


class _Ctx:
    def __init__(self) -> None:
        self.out = _Out()
        self.concurrency = 1

    def executor_for(self, backends: Any, workers: int) -> Any:
        return executor_for(backends, workers)


def test_objects_never_tried_are_left_behind_not_deleted(run_loop: Any) -> None:
    stopper = _StopAfter()
    backend = _Deletes(stopper, stop_at=5)
    pset = PrepareSet(0, "prepared", None, "mem://b/d/")  # type: ignore[arg-type]
    ps = PreparedSet(pset, backend, "d/")  # type: ignore[arg-type]
    ps.created.extend(range(20))
    token = interrupt._active.set(stopper)  # type: ignore[arg-type]
    try:
        result = run_loop(run_cleanup(_Ctx(), [ps], mode="tolerant"))  # type: ignore[arg-type]
    finally:
        interrupt._active.reset(token)
    assert result.deleted == len(backend.deleted) < 20
    assert result.errors == 20 - result.deleted
    assert result.left == {"mem://b/d/prepared-*": 20 - result.deleted}
    assert "left behind" in result.summary()
