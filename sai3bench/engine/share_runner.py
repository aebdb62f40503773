"""Where a stage's shares run: this process, local child processes (scale/local.py), or the
hosts of a Dask cluster (scale/cluster.py). The coordinator (engine/runner.py) only sees this
Protocol, so the engine never imports the layers that spawn processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sai3bench.engine.context import RunContext
from sai3bench.engine.interrupt import STAGE_GRACE
from sai3bench.engine.share_jobs import ShareDone, ShareJob
from sai3bench.engine.share_run import run_share, start_now


class ShareRunner(Protocol):
    """Runs every share of one stage and returns one ShareDone per job, in job order.

    A share whose process died or hung comes back with ``lost`` set (and no result); the runner
    never raises for it, so the coordinator can still account for what it created.
    """

    #: How many shares a stage is split into (hosts x processes).
    @property
    def shares(self) -> int: ...

    #: Seconds a stage may take after a stop request before it is abandoned.
    @property
    def grace(self) -> float: ...

    #: Clock offset per host label (ms, host minus client), where hosts have their own clocks.
    @property
    def clock_offsets_ms(self) -> dict[str, float]: ...

    async def run(self, jobs: Sequence[ShareJob]) -> list[ShareDone]: ...

    def stop(self) -> None:
        """A signal reached the coordinator: every share stops its stage at its next op."""
        ...


class InProcessRunner:
    """One share, run on the coordinator's own loop and backends (``processes: 1``): no child,
    no copy of the plan, and the coordinator's Interrupt stops its pools directly."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.shares = 1
        self.grace = STAGE_GRACE
        self.clock_offsets_ms: dict[str, float] = {}

    def __repr__(self) -> str:
        return "<InProcessRunner>"

    async def run(self, jobs: Sequence[ShareJob]) -> list[ShareDone]:
        return [await run_share(self.ctx, job, start_now) for job in jobs]

    def stop(self) -> None:
        """Nothing to forward: the pools watch the coordinator's Interrupt themselves."""
