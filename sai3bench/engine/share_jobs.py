"""What travels between the coordinator and an engine process: one stage's share, and its result.

Plain msgspec Structs, so the same job goes to this process, a local child (msgpack over a pipe)
or a Dask worker (pickled) unchanged. Collectors travel encoded (``Collector.encode``): lossless
histograms, merged exactly by the coordinator.
"""

from __future__ import annotations

import msgspec

from sai3bench.config.schema import Config
from sai3bench.engine.intervals import EncodedInterval
from sai3bench.engine.options import RunOptions
from sai3bench.engine.vitals import Vitals
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.metrics.pace_stat import PaceResult
from sai3bench.plan.share import IndicesPerSet, WorkloadShare


class PrepareWork(msgspec.Struct, frozen=True, tag="prepare"):
    """Create these indices (per prepare set)."""

    todo: IndicesPerSet


class WorkloadWork(msgspec.Struct, frozen=True, tag="workload"):
    share: WorkloadShare


class CleanupWork(msgspec.Struct, frozen=True, tag="cleanup"):
    """Delete these indices (per prepare set): created by this run, not deleted by its workload."""

    created: IndicesPerSet
    mode: str


Work = PrepareWork | WorkloadWork | CleanupWork


class ShareJob(msgspec.Struct, frozen=True, kw_only=True):
    """One engine process's part of one stage."""

    index: int
    count: int
    config: Config
    options: RunOptions
    #: The run's seed (data pools); the op-choice seed is derived from it and ``index``.
    seed: int
    concurrency: int
    work: Work
    #: Credentials forwarded from the client (``--forward-credentials``): set in the engine
    #: process's environment only, never written anywhere.
    env: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def stage(self) -> str:
        return type(self.work).__struct_config__.tag  # type: ignore[return-value]


class Failure(msgspec.Struct, frozen=True):
    """A Sai3Error raised in an engine process, by class name, to be raised again by the
    coordinator with the same message and hint."""

    kind: str
    msg: str
    hint: str = ""
    #: PrepareFailed: the outcome that stopped it, and how many objects failed.
    outcome: int = 0
    failed: int = 0


class PrepareDone(msgspec.Struct, frozen=True, tag="prepare", kw_only=True):
    collector: bytes
    wall_s: float
    retries: int
    created: IndicesPerSet
    endpoint_stats: list[EndpointStat] | None = None


class WorkloadDone(msgspec.Struct, frozen=True, tag="workload", kw_only=True):
    collector: bytes
    wall_s: float
    workers: int
    late: int
    retries: int
    aborted: str | None
    exhausted: list[str]
    deleted_keys: list[str]
    first_error: tuple[str, str] | None
    #: (op label, key, detail, outcome)
    refused: tuple[str, str, str, int] | None
    endpoint_stats: list[EndpointStat] | None
    #: When its workers started (right before the first op): CLOCK_MONOTONIC and wall ns.
    started_mono_ns: int
    started_wall_ns: int
    #: The engine process's CPU, loop lag and thread saturation (engine/vitals.py).
    vitals: Vitals | None = None
    #: io_rate: what this share offered and achieved (None: the closed loop).
    pacing: PaceResult | None = None


class CleanupDone(msgspec.Struct, frozen=True, tag="cleanup", kw_only=True):
    collector: bytes
    wall_s: float
    deleted: int
    already_gone: int
    errors: int
    retries: int
    left: dict[str, int]
    last_failure: tuple[str, int, str] | None


Done = PrepareDone | WorkloadDone | CleanupDone


class ShareDone(msgspec.Struct, frozen=True, kw_only=True):
    """What one engine process hands back for a stage: its result (None if it had none), the
    error that ended it, and whether a stop request cut it short."""

    index: int
    result: Done | None = None
    failure: Failure | None = None
    interrupted: bool = False
    #: Where it ran: host label and process index on that host.
    host: str = "local"
    process: int = 0
    #: Set by the coordinator when the process died or hung: why, in one line.
    lost: str | None = None
    #: The share's closed perf-log intervals, when they were not streamed (a Dask host).
    intervals: list[EncodedInterval] = []


def encode(obj: ShareJob | ShareDone) -> bytes:
    return msgspec.msgpack.encode(obj)


def decode_job(data: bytes) -> ShareJob:
    return msgspec.msgpack.decode(data, type=ShareJob)


def decode_done(data: bytes) -> ShareDone:
    return msgspec.msgpack.decode(data, type=ShareDone)
