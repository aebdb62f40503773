"""The op mix a workload really ran, beside the weights it was given (pure).

Upstream prints an "Actual Operation Distribution" block after a run; we print it per op kind
with the configured share beside each line, and a warning when the two differ by more than
``DRIFT_POINTS`` percentage points, naming the cause and the fix. The mix can drift for three
reasons: a per-op ``concurrency`` cap (an op at its cap is skipped, not waited for: see
engine/mix.py, so the faster ops fill the free workers), failed ops (the distribution counts
successful ops, as upstream's does), or a DELETE pool that ran dry; io_rate is named when it is
set and nothing else explains the drift.

A short run can miss the weights by chance: the warning needs the drift to exceed three
standard deviations of a binomial share too (at 1,000 ops that is under 5 points for any share).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sai3bench.config.schema import Config, Op
from sai3bench.metrics.collector import Collector, OpKind

#: Percentage points between the actual and the configured share that earn a warning.
DRIFT_POINTS = 5.0


@dataclass(frozen=True)
class MixRow:
    """One op kind: successful ops, their share, the configured share and the smallest cap."""

    kind: str
    ops: int
    failed: int
    actual_pct: float
    configured_pct: float
    cap: int | None

    @property
    def drift(self) -> float:
        return self.actual_pct - self.configured_pct


@dataclass(frozen=True)
class MixReport:
    """The distribution, and when it drifted: the warning's text and its remedy."""

    rows: tuple[MixRow, ...]
    workers: int
    warning: str | None = None
    hint: str | None = None


def op_kind_name(op: Op) -> str:
    """The OpKind name of a workload entry (its YAML tag upper-cased: GET, PUT, ..., RMDIR)."""
    tag = op.__struct_config__.tag
    assert isinstance(tag, str)
    return tag.upper()


def op_mix(collector: Collector, config: Config, exhausted: Sequence[str] = ()) -> MixReport:
    """What ran against the weights of ``config.workload``; ``exhausted``: labels of DELETE
    pools that ran dry during the run (WorkloadResult.exhausted)."""
    workload = config.workload
    workers = max(config.concurrency, *(op.concurrency or 0 for op in workload))
    total_weight = sum(op.weight for op in workload)
    failed = _failed_by_kind(collector)
    names = list(dict.fromkeys(op_kind_name(op) for op in workload))
    ops = {name: _ops_of(collector, name) for name in names}
    total_ops = sum(ops.values())
    rows = []
    for name in names:
        entries = [op for op in workload if op_kind_name(op) == name]
        caps = [op.concurrency for op in entries if op.concurrency and op.concurrency < workers]
        rows.append(
            MixRow(
                kind=name,
                ops=ops[name],
                failed=failed.get(name, 0),
                actual_pct=100.0 * ops[name] / total_ops if total_ops else 0.0,
                configured_pct=100.0 * sum(op.weight for op in entries) / total_weight,
                cap=min(caps) if caps else None,
            )
        )
    report = MixReport(tuple(rows), workers)
    drifted = [r for r in rows if _drifted(r, total_ops)]
    if not drifted:
        return report
    warning, hint = _diagnose(report, drifted, exhausted, io_rate=config.io_rate is not None)
    return MixReport(report.rows, workers, warning, hint)


def _ops_of(collector: Collector, name: str) -> int:
    kind = OpKind.__members__.get(name)
    return collector.ops(kind) if kind is not None else 0


def _failed_by_kind(collector: Collector) -> dict[str, int]:
    out: dict[str, int] = {}
    for (kind, _), n in collector.errors().items():
        out[OpKind(kind).name] = out.get(OpKind(kind).name, 0) + n
    return out


def _drifted(row: MixRow, total_ops: int) -> bool:
    """More than DRIFT_POINTS off, and more than chance explains (three binomial sigmas)."""
    if total_ops == 0:
        return False
    p = row.configured_pct / 100.0
    sigma_points = 100.0 * math.sqrt(p * (1.0 - p) / total_ops)
    return abs(row.drift) > max(DRIFT_POINTS, 3.0 * sigma_points)


def _diagnose(
    report: MixReport, drifted: Sequence[MixRow], exhausted: Sequence[str], *, io_rate: bool
) -> tuple[str, str]:
    """(warning, hint): which kinds drifted and why, and what to change."""
    worst = max(drifted, key=lambda r: abs(r.drift))
    shares = ", ".join(f"{r.kind} {r.actual_pct:.1f}% vs {r.configured_pct:.1f}%" for r in drifted)
    short = [r for r in drifted if r.drift < 0]
    causes: list[str] = []
    hints: list[str] = []
    capped = [r for r in short if r.cap is not None]
    if capped:
        names = ", ".join(f"{r.kind} at most {r.cap} in flight" for r in capped)
        causes.append(
            f"per-op concurrency caps ({names}, of {report.workers} workers; an op at its cap"
            " is skipped, not waited for, so the faster ops fill the free workers)"
        )
        hints.append(
            "to run the weights, drop or raise the per-op `concurrency` of "
            + ", ".join(r.kind for r in capped)
            + "; to keep the caps, set the weights to the actual mix so the config says what runs"
        )
    failing = [r for r in short if r.failed]
    if failing:
        causes.append(
            "errors ("
            + ", ".join(f"{r.failed:,} {r.kind} ops failed" for r in failing)
            + "; failed ops are not counted)"
        )
        hints.append("fix what fails (see Errors below)")
    if exhausted:
        causes.append(f"a DELETE pool ran dry ({', '.join(exhausted)})")
        hints.append("prepare more objects for the DELETEs or lower their weight")
    if not causes and io_rate:
        causes.append("io_rate (the paced schedule decides when ops start)")
        hints.append("raise io_rate's iops or the concurrency so the schedule keeps up")
    if not causes:
        causes.append("no cap, error or io_rate explains it")
        hints.append("run longer: the mix converges to the weights over every 4,096 ops")
    warning = (
        f"warning: the op mix is {abs(worst.drift):.1f} points off the weights ({shares});"
        f" cause: {'; '.join(causes)}"
    )
    return warning, "hint: " + "; ".join(hints)


def distribution_lines(report: MixReport) -> list[str]:
    """The "Actual Operation Distribution:" block: upstream's ``  GET: N ops (x.x%)`` lines,
    each followed by its configured share, then the warning and hint when the mix drifted."""
    lines = ["Actual Operation Distribution:"]
    for r in report.rows:
        cap = f", at most {r.cap} in flight" if r.cap is not None else ""
        lines.append(
            f"  {r.kind}: {r.ops:,} ops ({r.actual_pct:.1f}%)"
            f"   configured {r.configured_pct:.1f}%{cap}"
        )
    if report.warning is not None:
        lines.append(report.warning)
        assert report.hint is not None
        lines.append(report.hint)
    return lines


def mix_section(report: MixReport) -> dict[str, object]:
    """results.json's ``op_mix``: per kind ops, failed, actual and configured percent."""
    return {
        "kinds": {
            r.kind: {
                "ops": r.ops,
                "failed": r.failed,
                "actual_pct": round(r.actual_pct, 3),
                "configured_pct": round(r.configured_pct, 3),
                "cap": r.cap,
            }
            for r in report.rows
        },
        "workers": report.workers,
        "drift_points": DRIFT_POINTS,
        "warning": report.warning,
        "hint": report.hint,
    }
