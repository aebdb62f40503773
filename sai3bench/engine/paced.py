"""The workload's io_rate glue: a share's pacer from its SharePace, the recorder that adds each
paced op's response time, and what the pacing achieved (one share's, or the run's merged).

Closed loop (no io_rate, or ``iops: max``) builds none of this: ``make_pacer`` returns None, the
pool runs unpaced and the recorder is the plain one, so it costs nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from sai3bench.config.schema import Config
from sai3bench.engine.batch import BatchResults
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.pacer import Pacer, schedule
from sai3bench.metrics.collector import Collector
from sai3bench.metrics.pace_stat import PaceResult
from sai3bench.plan.share import SharePace

Recorder = Callable[[Sequence[Task], int, BatchResults], None]


def make_pacer(
    config: Config, pace: SharePace | None, rng: random.Random, start_ns: int, deadline_ns: int
) -> Pacer | None:
    """The share's pacer, or None for the closed loop."""
    if config.io_rate is None or pace is None:
        return None
    dist = config.io_rate.distribution
    instants = schedule(pace.iops, dist, rng.getrandbits(64), pace.phase_s)
    return Pacer(instants, pace.iops, start_ns, deadline_ns)


def paced_recorder(
    inner: Recorder, planned: Sequence[PlannedOp], current: Callable[[], Collector]
) -> Recorder:
    """``inner``, then each successful op's response time (intended start -> done) into the
    collector ``current()`` returns (the interval the batch lands in)."""
    kinds = [int(op.kind) for op in planned]

    def on_batch(tasks: Sequence[Task], ran: int, out: BatchResults) -> None:
        inner(tasks, ran, out)
        record_response = current().record_response
        oc, t0, lat, due = out.outcome, out.start_ns, out.latency_ns, out.intended_ns
        for j in range(ran):
            if oc[j] == 0:  # response = service + how late it started (never less)
                late = t0[j] - due[j]
                record_response(kinds[tasks[j][0]], lat[j] + late if late > 0 else lat[j])

    return on_batch


def pace_result(config: Config, pacer: Pacer, end_ns: int, window_s: float) -> PaceResult:
    """One share's figures once its pool is done; ``end_ns``: when the window closed."""
    assert config.io_rate is not None
    return PaceResult(
        distribution=config.io_rate.distribution,
        offered_iops=pacer.iops,
        started=pacer.started,
        window_s=window_s,
        backlog_end=pacer.close(end_ns),
        max_backlog=pacer.max_backlog,
    )
