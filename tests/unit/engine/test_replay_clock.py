"""engine/replay.py: opening the first backend (a client's set-up) is not counted as lateness."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from sai3bench.backends.registry import Backends
from sai3bench.engine.replay import Replayer, ReplayOp

OPENING_S = 1.0


class _Backend:
    def key_of(self, uri: str) -> str:
        return uri.rpartition("/")[2]

    async def head(self, key: str) -> None:
        return None


class _SlowToOpen:
    """Backends whose first for_uri takes OPENING_S (a client set up: credentials, TLS...)."""

    def __init__(self) -> None:
        self.backend: Any = None

    def for_uri(self, uri: str) -> Any:
        if self.backend is None:
            time.sleep(OPENING_S)
            self.backend = _Backend()
        return self.backend


def test_the_first_backend_is_opened_before_the_clock_starts() -> None:
    ops = [ReplayOp(0, "STAT", f"s3://b/k{n}", 0) for n in range(3)]
    replayer = Replayer(cast(Backends, _SlowToOpen()), max_in_flight=4)
    report = asyncio.run(replayer.run(iter(ops)))
    assert report.ops["STAT"] == 3 and not report.errors
    # without the fix every op is >= OPENING_S behind schedule
    assert report.late.max_ns < OPENING_S * 1e9


def test_an_empty_log_replays_nothing() -> None:
    report = asyncio.run(Replayer(cast(Backends, _SlowToOpen()), max_in_flight=1).run(iter([])))
    assert not report.ops and not report.all_failed
