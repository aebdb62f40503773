"""The io_rate block of a workload's report: offered against achieved, the backlog, and per op
kind the service time (start -> done) beside the response time (intended start -> done).

When the client or storage could not keep the rate, one plain line says so:
"offered 10,000/s, achieved 7,412/s; the backlog grew to 3,100 ops". The same figures go to
results.json and metadata.json under the workload stage (``rate_section``).
"""

from __future__ import annotations

from typing import Any

from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.pace_stat import PaceResult
from sai3bench.report.console import kind_histograms, latency_figures, latency_line


def fmt_per_s(x: float) -> str:
    """A rate for a sentence: whole with commas from 100/s up, else three significant digits."""
    return f"{x:,.0f}/s" if x >= 100 else f"{x:.3g}/s"


def rate_sentence(p: PaceResult) -> str:
    """The offered/achieved line: says that the run fell behind when it did."""
    offered, achieved = fmt_per_s(p.offered_iops), fmt_per_s(p.achieved_iops)
    if p.kept:
        return f"offered {offered}, achieved {achieved}; largest backlog {p.max_backlog:,} ops"
    return f"offered {offered}, achieved {achieved}; the backlog grew to {p.max_backlog:,} ops"


def format_rate_block(collector: Collector, p: PaceResult) -> str:
    """The console block: the rate line, then service and response lines per op kind."""
    lines = [
        "",
        f"Rate control (io_rate {fmt_per_s(p.offered_iops)}, {p.distribution}):",
        f"  {rate_sentence(p)}",
    ]
    if not p.kept:
        lines.append("  (fell behind: response times include the wait for a free worker)")
    for kind, heading, service in kind_histograms(collector):
        response = collector.response(kind) if kind >= 0 else None
        if response is None or not response.count:
            continue
        lines.append(latency_line(service, f"{heading} service"))
        lines.append(latency_line(response, f"{heading} response"))
    return "\n".join(lines)


def rate_section(collector: Collector, p: PaceResult) -> dict[str, Any]:
    """results.json / metadata.json: the pacing figures and per-kind response percentiles (ns;
    the lossless histograms are in the stage's collector)."""
    response: dict[str, dict[str, int]] = {}
    for kind in OpKind:
        h = collector.response(kind)
        if h is None or not h.count:
            continue
        response[kind.name] = latency_figures(h)
    return {
        "distribution": p.distribution,
        "offered_ops_per_sec": round(p.offered_iops, 3),
        "achieved_ops_per_sec": round(p.achieved_iops, 3),
        "started": p.started,
        "window_seconds": round(p.window_s, 6),
        "max_backlog": p.max_backlog,
        "backlog_at_end": p.backlog_end,
        "kept": p.kept,
        "summary": rate_sentence(p),
        "response_ns": response,
    }
