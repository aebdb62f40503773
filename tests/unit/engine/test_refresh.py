"""Credentials near expiry are renewed by the runner's background task, never on the hot path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sai3bench.engine import runner


class FakeProvider:
    def __init__(self) -> None:
        self.refreshed = 0
        self.expiring = True

    def needs_refresh(self, now: float) -> bool:
        return self.expiring

    async def refresh_if_needed(self, now: float) -> None:
        self.refreshed += 1
        self.expiring = False


class FakeBackends:
    def __init__(self, providers: list[Any]) -> None:
        self.credentials = providers


def test_refresher_renews_only_what_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep

    async def fast_sleep(_: float) -> None:
        await real_sleep(0)

    monkeypatch.setattr(runner.asyncio, "sleep", fast_sleep)
    due, fresh = FakeProvider(), FakeProvider()
    fresh.expiring = False

    async def go() -> None:
        task = asyncio.create_task(runner._refresh_credentials(FakeBackends([due, fresh])))  # type: ignore[arg-type]
        for _ in range(20):
            await real_sleep(0)
        task.cancel()

    asyncio.run(go())
    assert due.refreshed == 1  # renewed once, then no longer due
    assert fresh.refreshed == 0
