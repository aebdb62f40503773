"""The config as the rest of the program sees it: frozen msgspec Structs, already normalised.

Owns: the *shape* after loading. Every size is int bytes, every duration float seconds, every
path an absolute URI, every size spec a concrete ``SizeSpec``. Bounds are ``Meta`` constraints;
rules across fields are in ``__post_init__`` so that a Config built in code (tests, the engine,
``--dry-run``) obeys them too.
Never: parses YAML, units or relative paths. That is config/load.py's job, which also gives
user-facing errors their YAML path and hint before these checks can fire.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec
from msgspec import Meta

from sai3bench.config.base import Base
from sai3bench.config.rate import IoRate
from sai3bench.config.sizespec import SizeSpec
from sai3bench.config.storage_opts import PageCacheMode, RangeEngine
from sai3bench.config.tree import DirectoryStructure

# msgspec does not inherit ``kw_only`` from Base (it applies to the fields a class defines), so
# every Struct here repeats it. ``frozen`` is inherited at run time but repeated for mypy, whose
# dataclass_transform view would otherwise call the subclass mutable.

__all__ = [
    "CHOICES",
    "OPS",
    "CleanupMode",
    "Config",
    "DeleteOp",
    "Distributed",
    "EnsureObjects",
    "ErrorHandling",
    "Fill",
    "GetOp",
    "ListOp",
    "MkdirOp",
    "Op",
    "OpBase",
    "PerfLog",
    "Prepare",
    "PrepareStrategy",
    "Processes",
    "PutOp",
    "RmdirOp",
    "StatOp",
]

NonNegInt = Annotated[int, Meta(ge=0)]
PosInt = Annotated[int, Meta(ge=1)]
Size = Annotated[int, Meta(ge=1, le=2**63 - 1)]
"""Bytes. Zero is refused (upstream rejects it too); the cap fits the planner's ``array('q')``."""
NonNegFloat = Annotated[float, Meta(ge=0)]

Fill = Literal["zero", "random", "prand"]
CleanupMode = Literal["strict", "tolerant", "best_effort"]
PrepareStrategy = Literal["sequential", "parallel"]

DEFAULT_ENSURE_SIZE = 1048576
"""``ensure_objects`` ``min_size``/``max_size`` default (1 MiB), as upstream."""


class OpBase(Base, tag_field="op", kw_only=True, frozen=True):
    """Fields every workload op has.

    ``weight`` is relative; 0 is allowed as long as the workload total is > 0. ``concurrency``
    caps this op's in-flight count; None means the global ``concurrency``.
    """

    path: str
    weight: NonNegInt
    concurrency: PosInt | None = None


class GetOp(OpBase, tag="get", kw_only=True, frozen=True):
    """Read one object; ``path`` may be a key, a prefix ending in ``/`` or a ``*`` glob."""


class PutOp(OpBase, tag="put", kw_only=True, frozen=True):
    """Write a new object under ``path``.

    ``size_spec`` is always set after loading: ``object_size: N`` becomes ``FixedSize(N)``
    (upstream prefers ``object_size`` when both are given). ``object_size`` is kept for reports.
    """

    size_spec: SizeSpec
    object_size: Size | None = None
    dedup_factor: PosInt = 1
    compress_factor: PosInt = 1


class ListOp(OpBase, tag="list", kw_only=True, frozen=True):
    """Recursive listing of the ``path`` prefix on every execution."""


class StatOp(OpBase, tag="stat", kw_only=True, frozen=True):
    """HEAD/stat of one object; ``path`` resolved like GET."""


class DeleteOp(OpBase, tag="delete", kw_only=True, frozen=True):
    """Delete one object; ``path`` resolved like GET."""


class MkdirOp(OpBase, tag="mkdir", kw_only=True, frozen=True):
    """Create a directory (a prefix on object stores). In tree mode a random directory of the
    tree, as upstream; ``path`` says where otherwise."""


class RmdirOp(OpBase, tag="rmdir", kw_only=True, frozen=True):
    """Remove a directory; ``recursive`` removes what is in it too (``rm -r``)."""

    recursive: bool = False


Op = GetOp | PutOp | ListOp | StatOp | DeleteOp | MkdirOp | RmdirOp

OPS: dict[str, type[OpBase]] = {
    str(cls.__struct_config__.tag): cls
    for cls in (GetOp, PutOp, ListOp, StatOp, DeleteOp, MkdirOp, RmdirOp)
}
"""Op name (the YAML ``op:`` value) -> Struct class."""


class EnsureObjects(Base, kw_only=True, frozen=True):
    """One prepared object set: ``{base_uri}/prepared-NNNNNNNN.dat`` for idx in 0..count-1.

    ``size_spec`` is always set after loading: from ``size_spec``/``size_distribution`` if given,
    else from ``min_size``/``max_size`` (equal -> fixed, different -> uniform, 1 MiB defaults).
    ``min_size``/``max_size`` are kept as written (or None) for reports.
    """

    base_uri: str
    count: NonNegInt
    size_spec: SizeSpec
    min_size: Size | None = None
    max_size: Size | None = None
    fill: Fill = "random"
    dedup_factor: PosInt = 1
    compress_factor: PosInt = 1

    def __post_init__(self) -> None:
        lo = DEFAULT_ENSURE_SIZE if self.min_size is None else self.min_size
        hi = DEFAULT_ENSURE_SIZE if self.max_size is None else self.max_size
        if lo > hi:
            raise ValueError(f"min_size ({lo}) is larger than max_size ({hi})")


class Prepare(Base, kw_only=True, frozen=True):
    """The prepare stage and the cleanup that undoes it. ``post_prepare_delay`` is seconds."""

    ensure_objects: tuple[EnsureObjects, ...] = ()
    cleanup: bool = False
    cleanup_mode: CleanupMode = "tolerant"
    post_prepare_delay: NonNegFloat = 0.0
    prepare_strategy: PrepareStrategy = "sequential"
    skip_verification: bool = False
    force_overwrite: bool = False
    #: Tree mode (config/tree.py): files and directories named by the tree, not prepared-N.
    directory_structure: DirectoryStructure | None = None
    #: Prepared keys under ``{idx % N:02x}/`` (PUT keys under ``{rand % N:02x}/``); 0: none.
    key_prefix_shards: Annotated[int, Meta(ge=0, le=65536)] = 0


class ErrorHandling(Base, kw_only=True, frozen=True):
    """When to retry, back off or abort. Durations are seconds; ``*_ms`` are milliseconds."""

    #: Failed ops that abort the run. None (not set): abort once 100 ops failed and they are
    #: most of all ops (engine/error_guard.py), so a few % of 503s never stops a run.
    max_total_errors: NonNegInt | None = None
    #: Errors per second that pause the run (upstream's rule). None (not set): pause when
    #: most ops of a window fail instead (engine/error_guard.py says why).
    error_rate_threshold: NonNegFloat | None = None
    backoff_duration: NonNegFloat = 5.0
    error_rate_window: Annotated[float, Meta(gt=0)] = 1.0
    retry_on_error: bool = False
    max_retries: NonNegInt = 3
    initial_retry_delay_ms: NonNegInt = 100
    max_retry_delay_ms: NonNegInt = 5000
    retry_backoff_multiplier: Annotated[float, Meta(ge=1.0)] = 2.0
    retry_jitter_factor: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.25


class PerfLog(Base, kw_only=True, frozen=True):
    """``perf_log``: the per-interval time series, ``<results_dir>/perf_log.tsv``. Written by
    default (it is cheap); ``enabled: false`` turns it off. ``interval`` is seconds: each one
    costs a process a few ms (close, merge, encode), so below 0.1 s it would cost a core."""

    enabled: bool = True
    interval: Annotated[float, Meta(ge=0.1)] = 1.0


MultiStrategy = Literal["round_robin", "least_connections"]


class MultiEndpoint(Base, kw_only=True, frozen=True):
    """Several endpoints serving one namespace; ops are spread over them by ``strategy``."""

    endpoints: Annotated[tuple[str, ...], Meta(min_length=1, max_length=32)]
    strategy: MultiStrategy = "round_robin"


MAX_PROCESSES = 1024
"""Most engine processes ``processes: N`` may ask for: more is a typo, not a machine."""

Processes = Annotated[int, Meta(ge=1, le=MAX_PROCESSES)] | Literal["auto"]
"""An engine process count, or ``"auto"``: one per core this process may use
(``plan.cores.resolve_processes``)."""


class Distributed(Base, kw_only=True, frozen=True):
    """What sai3bench keeps of upstream's ``distributed`` block: the agents' addresses.

    Each is ``host:port`` (``[v6]:port``), host lowercased; an address upstream gave without a
    port has its ``listen_port`` or upstream's agent port 7167. The port is an upstream agent's,
    not a Dask worker's: match Dask workers to agents by host. Empty: ``--cluster`` names the
    hosts alone.
    """

    agents: tuple[str, ...] = ()


class Config(Base, kw_only=True, frozen=True):
    """One benchmark run. ``duration`` is seconds; ``target`` a normalised URI or None.

    Every op path is absolute after loading, so ``target`` is informational for the engine.
    ``processes`` None means the key was absent: the CLI (``--processes``) picks the default.
    """

    workload: Annotated[tuple[Op, ...], Meta(min_length=1)]
    target: str | None = None
    #: 0: no workload stage (prepare and cleanup only), as upstream's ``duration: 0s``.
    duration: Annotated[float, Meta(ge=0)] = 60.0
    concurrency: PosInt = 16
    prepare: Prepare | None = None
    error_handling: ErrorHandling = msgspec.field(default_factory=ErrorHandling)
    multi_endpoint: MultiEndpoint | None = None
    processes: Processes | None = None
    distributed: Distributed | None = None
    perf_log: PerfLog = msgspec.field(default_factory=PerfLog)
    #: Seconds at the start of the workload whose ops run and appear in the perf-log (stage
    #: ``Warmup``) but not in the summary, the TSVs or results.json.
    warmup_period: NonNegFloat = 0.0
    #: Open-loop rate control (config/rate.py); None: the closed loop, as fast as it goes.
    io_rate: IoRate | None = None
    #: Every op into this op-log (zstd TSV); ``run --op-log`` wins over it.
    op_log_path: str | None = None
    #: posix_fadvise hint for file:// and direct:// (config/storage_opts.py); None: no hint.
    page_cache_mode: PageCacheMode | None = None
    #: Large GETs split into concurrent ranges on s3://, gs://, az:// (config/storage_opts.py).
    range_engine: RangeEngine | None = None
    #: Objects the workload PUTs join the GET/STAT pools that match them (upstream v0.8.97).
    dynamic_put_pool: bool = False

    def __post_init__(self) -> None:
        if sum(op.weight for op in self.workload) <= 0:
            raise ValueError("workload: the total weight is 0")
        if self.duration > 0 and self.warmup_period >= self.duration:
            raise ValueError("warmup_period: must be shorter than duration")


CHOICES: dict[str, tuple[str, ...]] = {
    "fill": get_args(Fill),
    "cleanup_mode": get_args(CleanupMode),
    "prepare_strategy": get_args(PrepareStrategy),
    "strategy": get_args(MultiStrategy),
}
"""Allowed values of the enum-like fields, by key name; the loader lists them in hints."""
