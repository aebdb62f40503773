"""Per-process and per-host breakdowns of a scaled-out stage: console blocks, TSV, JSON sections.

The merged Collector gives the run's figures (report/console.py, report/tsv.py); this module
shows how they were shared out, so that an uneven load, a slow host or a late start is seen at
once. It is pure: ShareStat list in, str or plain dicts out; the caller prints and writes.

Rates divide by wall seconds; a host's by the longest wall of its processes (they ran at once).
A zero wall gives rate 0, never a division error. Rows are sorted by host label, then process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from sai3bench.metrics.share_stat import ShareStat
from sai3bench.report.console import fmt_int, fmt_rate

HOST_TSV_HEADER = (
    "host\tprocesses\tops\tbytes\terrors\twall_seconds\tops_per_sec\tmib_per_sec"
    "\tclock_offset_ms\tfirst_op_spread_ms"
)
_MIB = 1_048_576


class HostTotals(msgspec.Struct, frozen=True):
    """One host's shares summed: counts add up, wall is the longest, spread is within the host."""

    host: str
    processes: int
    ops: int
    bytes: int
    errors: int
    wall_s: float
    clock_offset_ms: float | None
    #: Last minus first first-op offset of this host's processes; None if none did an op.
    first_op_spread_ms: float | None


def _per_second(n: float, wall_s: float) -> float:
    return n / wall_s if wall_s > 0 else 0.0


def _spread(stats: Sequence[ShareStat]) -> float | None:
    """Last minus first ``first_op_ms`` among ``stats``; None if no share did an op."""
    offsets = [s.first_op_ms for s in stats if s.first_op_ms is not None]
    return max(offsets) - min(offsets) if offsets else None


def _sorted(stats: Sequence[ShareStat]) -> list[ShareStat]:
    return sorted(stats, key=lambda s: (s.host, s.process))


def host_totals(stats: Sequence[ShareStat]) -> list[HostTotals]:
    """One HostTotals per host label, sorted by label."""
    by_host: dict[str, list[ShareStat]] = {}
    for s in _sorted(stats):
        by_host.setdefault(s.host, []).append(s)
    out = []
    for host, shares in by_host.items():
        offsets = [s.clock_offset_ms for s in shares if s.clock_offset_ms is not None]
        out.append(
            HostTotals(
                host=host,
                processes=len(shares),
                ops=sum(s.ops for s in shares),
                bytes=sum(s.bytes for s in shares),
                errors=sum(s.errors for s in shares),
                wall_s=max(s.wall_s for s in shares),
                clock_offset_ms=offsets[0] if offsets else None,
                first_op_spread_ms=_spread(shares),
            )
        )
    return out


def _align(rows: list[list[str]], left: int) -> list[str]:
    """Rows of cells as lines: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  "
        + "  ".join(
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _count_cells(x: ShareStat | HostTotals) -> list[str]:
    """ops, ops/s, MiB/s and errors as console cells."""
    return [
        fmt_int(x.ops),
        fmt_rate(_per_second(x.ops, x.wall_s)),
        fmt_rate(_per_second(x.bytes / _MIB, x.wall_s)),
        fmt_int(x.errors),
    ]


def _ms(x: float | None, sign: str = "") -> str:
    return "-" if x is None else f"{x:{sign}.2f} ms"


def format_process_block(stats: Sequence[ShareStat]) -> str:
    """The "Per process:" console block and its start-spread line ("" for no shares).

    Columns: host, process index, ops, ops/s, MiB/s, errors, and the first op's delay after the
    stage's earliest first op ("-" for a share that did no op).
    """
    if not stats:
        return ""
    # Only the workload starts at a barrier: prepare and cleanup have no first-op column.
    timed = any(s.first_op_ms is not None for s in stats)
    head = ["host", "proc", "ops", "ops/s", "MiB/s", "errors"]
    rows = [head + (["first op"] if timed else [])]
    for s in _sorted(stats):
        first = [_ms(s.first_op_ms, "+")] if timed else []
        rows.append([s.host, str(s.process), *_count_cells(s), *first])
    spread = _spread(stats)
    last = (
        []
        if spread is None
        else [f"  start spread: {_ms(spread)} (first to last process's first op)"]
    )
    return "\n".join(["Per process:", *_align(rows, 1), *last]) + "\n"


def format_host_block(stats: Sequence[ShareStat]) -> str:
    """The "Per host:" console block ("" for no shares); clock offsets only where measured."""
    hosts = host_totals(stats)
    if not hosts:
        return ""
    with_clock = any(h.clock_offset_ms is not None for h in hosts)
    rows = [["host", "procs", "ops", "ops/s", "MiB/s", "errors"]]
    if with_clock:
        rows[0].append("clock offset")
    for h in hosts:
        row = [h.host, str(h.processes), *_count_cells(h)]
        rows.append([*row, _ms(h.clock_offset_ms, "+")] if with_clock else row)
    return "\n".join(["Per host:", *_align(rows, 1)]) + "\n"


def format_host_tsv(stats: Sequence[ShareStat]) -> str:
    """``*_host_stats.tsv``: the header and one row per host, sorted by label, newline-ended.

    Numbers as in the results TSV: integers plain, rates with two decimals; seconds and ms
    with three. An unknown clock offset or spread (no op on that host) is an empty cell.
    """
    lines = [HOST_TSV_HEADER]
    for h in host_totals(stats):
        fields = (
            h.host,
            str(h.processes),
            str(h.ops),
            str(h.bytes),
            str(h.errors),
            f"{h.wall_s:.3f}",
            f"{_per_second(h.ops, h.wall_s):.2f}",
            f"{_per_second(h.bytes / _MIB, h.wall_s):.2f}",
            "" if h.clock_offset_ms is None else f"{h.clock_offset_ms:.3f}",
            "" if h.first_op_spread_ms is None else f"{h.first_op_spread_ms:.3f}",
        )
        lines.append("\t".join(fields))
    return "".join(line + "\n" for line in lines)


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _counts(x: ShareStat | HostTotals) -> dict[str, Any]:
    return {
        "ops": x.ops,
        "bytes": x.bytes,
        "errors": x.errors,
        "wall_seconds": round(x.wall_s, 6),
        "ops_per_sec": round(_per_second(x.ops, x.wall_s), 3),
        "mib_per_sec": round(_per_second(x.bytes / _MIB, x.wall_s), 3),
    }


def share_sections(stats: Sequence[ShareStat]) -> list[dict[str, Any]]:
    """Per-process sections for results.json / metadata.json, sorted by host then process."""
    return [
        {
            "host": s.host,
            "process": s.process,
            **_counts(s),
            "first_op_ms": _rounded(s.first_op_ms),
            "clock_offset_ms": _rounded(s.clock_offset_ms),
        }
        for s in _sorted(stats)
    ]


def host_sections(stats: Sequence[ShareStat]) -> list[dict[str, Any]]:
    """Per-host sections for a distributed run's results.json / metadata.json, sorted by label."""
    return [
        {
            "host": h.host,
            "processes": h.processes,
            **_counts(h),
            "clock_offset_ms": _rounded(h.clock_offset_ms),
            "first_op_spread_ms": _rounded(h.first_op_spread_ms),
        }
        for h in host_totals(stats)
    ]
