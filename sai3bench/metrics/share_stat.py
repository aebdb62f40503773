"""What one engine process did in one stage of a multi-process or multi-host run.

The merged Collector says what the run as a whole measured; a ShareStat keeps, per share, the few
counts that show whether the load was even: ops, bytes and errors per process, how long it ran,
and how late its first op came. report/shares.py turns a list of them into the "Per process:" and
"Per host:" blocks, ``*_host_stats.tsv`` and the per-process sections of results.json.

Small and frozen: it travels from a child process or a Dask worker to the client as msgspec.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from sai3bench.metrics.collector import Collector


class ShareStat(msgspec.Struct, frozen=True):
    """One share's counts over one stage."""

    #: Host label: "local" on one host, the Dask worker address in a distributed run.
    host: str
    #: Index of the process on that host (0-based).
    process: int
    #: Successful ops, all kinds.
    ops: int
    #: Bytes moved by successful ops.
    bytes: int
    #: Failed ops, all kinds and outcomes.
    errors: int
    #: Wall-clock seconds this share ran the stage (its rates divide by it).
    wall_s: float
    #: ms from the earliest first op of ANY share of the stage to this share's first op (the
    #: start spread); None if this share did no op.
    first_op_ms: float | None
    #: The host's clock minus the client's, in ms, measured at start (Dask only).
    clock_offset_ms: float | None = None


def share_stat(
    host: str,
    process: int,
    collector: Collector,
    wall_s: float,
    first_op_ms: float | None,
    clock_offset_ms: float | None = None,
) -> ShareStat:
    """The ShareStat of a share whose measurements are ``collector``: counts come from it."""
    return ShareStat(
        host=host,
        process=process,
        ops=collector.ops(),
        bytes=collector.nbytes(),
        errors=collector.error_count(),
        wall_s=wall_s,
        first_op_ms=first_op_ms,
        clock_offset_ms=clock_offset_ms,
    )


def first_op_offsets_ms(first_op_ns: Sequence[int | None]) -> list[float | None]:
    """Each share's first-op instant (ns, one clock for all) as ms after the earliest of them.

    None stays None (a share that did no op). The shares' instants must be on one clock: on
    one host ``time.perf_counter_ns`` is; across hosts, correct by the clock offset first.
    """
    known = [t for t in first_op_ns if t is not None]
    if not known:
        return [None for _ in first_op_ns]
    earliest = min(known)
    return [None if t is None else (t - earliest) / 1e6 for t in first_op_ns]
