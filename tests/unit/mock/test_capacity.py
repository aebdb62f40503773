"""mock-server --max-inflight: at most K requests in their latency at once, the rest in order."""

from __future__ import annotations

import asyncio
from functools import partial

from sai3bench.mock.server import Faults
from tests.conftest import LoopRunner


def test_at_most_k_in_flight_then_arrival_order(run_loop: LoopRunner) -> None:
    async def go() -> None:
        faults = Faults(latency_s=0.01, max_inflight=2)
        assert faults.any
        sent: list[int] = []
        most = 0

        for i in range(5):
            faults.admit(partial(sent.append, i), faults.delay())
            most = max(most, faults.inflight)
        assert faults.inflight == 2 and most == 2  # three wait
        while len(sent) < 5:
            await asyncio.sleep(0.005)
            assert faults.inflight <= 2
        assert sent == [0, 1, 2, 3, 4] and faults.inflight == 0

    run_loop(go())
