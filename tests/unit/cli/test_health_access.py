"""util health's access step names a read-only file system rather than blaming the user."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sai3bench.cli import health
from sai3bench.outcome import OpError, Outcome


async def _await(step: Awaitable[str]) -> str:
    return await step


def _run(step: Awaitable[str]) -> str:
    return asyncio.run(_await(step))


def test_read_only_file_system_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_flag=os.ST_RDONLY))
    with pytest.raises(health._Failed) as failed:
        _run(health._access(str(tmp_path), read_only=False)())
    assert "read-only file system" in failed.value.detail
    assert failed.value.hint is not None and "--read-only" in failed.value.hint
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_flag=0))
    with pytest.raises(health._Failed) as failed:
        _run(health._access(str(tmp_path), read_only=False)())
    assert "this user may not read and write" in failed.value.detail


class _TimedOutPut:
    """A store that keeps the PUT's body but answers it too late (the client's timeout)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def key_of(self, uri: str) -> str:
        return uri.rsplit("/", 1)[-1]

    async def put(self, key: str, body: memoryview) -> None:
        self.keys.add(key)
        raise OpError(Outcome.TIMEOUT, "no response within 10 s")

    async def get(self, key: str) -> tuple[int, object]:
        raise AssertionError("no GET after a failed PUT")

    async def delete(self, key: str) -> None:
        self.keys.discard(key)


def test_a_put_that_timed_out_is_still_deleted() -> None:
    """The PUT may have landed: the health key must not be left behind."""
    store = _TimedOutPut()
    checks = health.Checks()
    backend: Any = store
    asyncio.run(health._round_trip(checks, backend, "s3://b/sai3bench-health-x"))
    assert store.keys == set()
    assert [(s.name, s.result) for s in checks.steps][-1] == ("delete", "ok")
    assert checks.failure is not None and checks.failure[0] == "put"


class _SlowDelete:
    """A store whose first DELETE is still under way when the signal comes."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.deletes = 0
        self.deleting = asyncio.Event()

    def key_of(self, uri: str) -> str:
        return uri.rsplit("/", 1)[-1]

    async def put(self, key: str, body: memoryview) -> None:
        self.keys.add(key)

    async def get(self, key: str) -> tuple[int, object]:
        return len(health.BODY), None

    async def delete(self, key: str) -> None:
        self.deletes += 1
        if self.deletes == 1:
            self.deleting.set()
            await asyncio.sleep(60)  # cancelled by the signal
        self.keys.discard(key)


def test_a_signal_during_the_delete_still_deletes() -> None:
    store = _SlowDelete()
    checks = health.Checks()
    backend: Any = store

    async def main() -> None:
        task = asyncio.create_task(health._round_trip(checks, backend, "s3://b/k"))
        await store.deleting.wait()
        checks.interrupted = 2
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert store.keys == set() and store.deletes == 2
    assert checks.steps[-1].name == "delete" and checks.steps[-1].ok
