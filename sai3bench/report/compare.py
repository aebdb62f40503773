"""Two runs side by side: per-op figures, their deltas, and the table ``sai3bench compare`` prints.

Pure: collectors and wall seconds in, figures and text out. Latencies come from the lossless
histograms (never from a TSV's rounded microseconds), so a delta is the runs' difference and not
a rounding artefact. Rows are per op kind (GET, PUT, LIST, STAT, DELETE); a META kind read from a
file written before the kinds were kept apart has no histogram of its own, and then one META row
(their merge) stands for the three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sai3bench.metrics.collector import META_KINDS, Collector, OpClass, OpKind
from sai3bench.metrics.histogram import Histogram
from sai3bench.report.console import fmt_latency

#: The metrics a row carries, in table order; the names ``--fail-if`` accepts.
METRICS = ("ops_per_sec", "mib_per_sec", "p50", "p99", "p99.9", "errors")
LATENCY_METRICS = frozenset({"p50", "p99", "p99.9"})
_QUANTILE = {"p50": 0.5, "p99": 0.99, "p99.9": 0.999}
_LABEL = {
    "ops_per_sec": "ops/s",
    "mib_per_sec": "MiB/s",
    "p50": "p50",
    "p99": "p99",
    "p99.9": "p99.9",
    "errors": "errors",
}
_MIB = 1_048_576
_META_KINDS = META_KINDS


@dataclass(frozen=True)
class Delta:
    """One metric of one op in both runs. ``pct`` is None when the base is 0 and NEW is not
    (no finite relative change); equal zeros are a 0% change."""

    op: str
    metric: str
    base: float
    new: float

    @property
    def change(self) -> float:
        return self.new - self.base

    @property
    def pct(self) -> float | None:
        if self.base:
            return 100.0 * self.change / self.base
        return 0.0 if not self.new else None


def op_figures(collector: Collector, wall_s: float) -> dict[str, dict[str, float]]:
    """op name -> metric -> value (latencies in ns), for every op with an op or an error."""
    errors: dict[int, int] = {}
    for (kind, _), n in collector.errors().items():
        errors[kind] = errors.get(kind, 0) + n
    out: dict[str, dict[str, float]] = {}
    pooled_meta = False
    for kind in OpKind:
        ops = collector.ops(kind)
        if not ops and not errors.get(kind):
            continue
        h = collector.kind_histogram(kind)
        if h is None and ops:  # an older file: the META kinds share one histogram
            pooled_meta = True
            continue
        out[kind.name] = _figures(h, ops, collector.nbytes(kind), errors.get(kind, 0), wall_s)
    if pooled_meta:
        meta = collector.merged(OpClass.META)
        n_err = sum(errors.get(k, 0) for k in _META_KINDS)
        nbytes = collector.bytes_of_class(OpClass.META)
        out["META"] = _figures(meta, meta.count, nbytes, n_err, wall_s)
        for kind in _META_KINDS:
            out.pop(kind.name, None)
    return out


def _figures(
    h: Histogram | None, ops: int, nbytes: int, errors: int, wall_s: float
) -> dict[str, float]:
    per_s = 1 / wall_s if wall_s > 0 else 0.0
    figures = {"ops_per_sec": ops * per_s, "mib_per_sec": nbytes / _MIB * per_s}
    for name, q in _QUANTILE.items():
        figures[name] = float(h.value_at_quantile(q)) if h is not None and h.count else 0.0
    figures["errors"] = float(errors)
    return figures


def deltas(base: dict[str, dict[str, float]], new: dict[str, dict[str, float]]) -> list[Delta]:
    """Every metric of every op in either run (an op missing from one counts as zeros there),
    in op-kind order, then METRICS order."""
    order = [k.name for k in OpKind] + ["META"]
    ops = [op for op in order if op in base or op in new]
    zero = dict.fromkeys(METRICS, 0.0)
    return [
        Delta(op, m, base.get(op, zero)[m], new.get(op, zero)[m]) for op in ops for m in METRICS
    ]


def format_value(metric: str, x: float) -> str:
    """A metric's value in its unit: a latency with fmt_latency, errors whole, rates 2 decimals."""
    if metric in LATENCY_METRICS:
        return fmt_latency(x)
    if metric == "errors":
        return f"{x:,.0f}"
    return f"{x:,.2f}"


def _change(d: Delta) -> str:
    sign = "+" if d.change > 0 else "-" if d.change < 0 else ""
    if d.metric in LATENCY_METRICS:
        return sign + fmt_latency(abs(d.change))
    return sign + format_value(d.metric, abs(d.change))


def _pct(d: Delta) -> str:
    pct = d.pct
    if pct is None:
        return "new"
    return "0.0%" if math.isclose(pct, 0.0, abs_tol=0.05) else f"{pct:+.1f}%"


def format_table(rows: list[Delta], stage: str, base_name: str, new_name: str) -> str:
    """The compare table: one line per (op, metric), columns aligned, values in their units."""
    head = ["op", "metric", "base", "new", "change", "%"]
    table = [head]
    last_op = ""
    for d in rows:
        op = d.op if d.op != last_op else ""
        last_op = d.op
        base, new = format_value(d.metric, d.base), format_value(d.metric, d.new)
        table.append([op, _LABEL[d.metric], base, new, _change(d), _pct(d)])
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = [f"{stage}: base {base_name}  vs  new {new_name}"]
    for r in table:
        left = [r[i].ljust(widths[i]) for i in range(2)]
        right = [r[i].rjust(widths[i]) for i in range(2, len(head))]
        lines.append("  " + "  ".join(left + right).rstrip())
    return "\n".join(lines) + "\n"
