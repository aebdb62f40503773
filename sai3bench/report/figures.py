"""The HTML report's plots, one function per figure: run data in, a plotly Figure out.

Each function returns None when the run has nothing for that figure (no perf-log, no TTFB on
file://, one endpoint), so the page shows only plots that have data and says why the others
are missing. plotly is imported by the caller (html_report.py) and passed in as ``go``, so this
module imports without it. Latencies are shown in milliseconds, rates per second.
"""

from __future__ import annotations

import math
from typing import Any

from sai3bench.engine.intervals import MergedInterval
from sai3bench.metrics.collector import Collector, OpClass, OpKind
from sai3bench.metrics.histogram import Histogram
from sai3bench.report.perflog_rows import PerfLog

_MIB = 1_048_576
#: perf-log column prefix and label of each op class, in plot order.
_CLASSES = (("get", "GET"), ("put", "PUT"), ("meta", "META"))
#: Tick labels of the percentile axis at 1/(1-q) = 1, 10, 100...
_PCT_LABELS = ("0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%")
_TTFB_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))


def _layout(fig: Any, title: str, **more: Any) -> Any:
    layout = {"height": 420, "margin": {"l": 60, "r": 20, "t": 50, "b": 50}, **more}
    fig.update_layout(title=title, **layout)
    return fig


def time_axis(log: PerfLog) -> list[float]:
    """Seconds since the first row, from the wall-clock column (monotonic across stages)."""
    stamps = log.series("timestamp_epoch_ms")
    t0 = stamps[0] if stamps else 0.0
    return [(t - t0) / 1000 for t in stamps]


def shade(fig: Any, spans: list[tuple[float, float, str]]) -> None:
    """Grey bands over the warmup (and any other marked span), labelled."""
    for x0, x1, label in spans:
        fig.add_vrect(
            x0=x0,
            x1=x1,
            fillcolor="grey",
            opacity=0.2,
            line_width=0,
            annotation_text=label,
            annotation_position="top left",
        )


def throughput(go: Any, log: PerfLog, spans: list[tuple[float, float, str]]) -> Any:
    """ops/s and MiB/s over time per op class (two stacked plots sharing the time axis)."""
    from plotly.subplots import make_subplots

    x = time_axis(log)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("ops/s", "MiB/s"))
    for prefix, name in _CLASSES:
        iops = log.series(f"{prefix}_iops")
        if any(iops):
            fig.add_trace(go.Scatter(x=x, y=iops, name=f"{name} ops/s", mode="lines"), 1, 1)
        if prefix != "meta" and any(mbps := log.series(f"{prefix}_mbps")):
            fig.add_trace(go.Scatter(x=x, y=mbps, name=f"{name} MiB/s", mode="lines"), 2, 1)
    shade(fig, spans)
    fig.update_xaxes(title_text="seconds", row=2, col=1)
    return _layout(fig, "Throughput over time", height=560)


#: One latency-over-time series: (name, y values in ms or None for "no op then", line dash).
_Series = tuple[str, list[float | None], str]


def _latency_over_time(
    go: Any, x: list[float], series: list[_Series], spans: list[tuple[float, float, str]]
) -> Any:
    fig = go.Figure()
    for name, y, dash in series:
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line={"dash": dash}))
    shade(fig, spans)
    return _layout(
        fig,
        "Latency over time (per interval)",
        xaxis_title="seconds",
        yaxis_title="ms",
        yaxis_type="log",
    )


def latency(go: Any, log: PerfLog, spans: list[tuple[float, float, str]]) -> Any:
    """Per-interval p50, p90, p99 per op class over time (ms, log scale); a gap where the
    interval had no op of that class (its 0 is "none", not a latency)."""
    series: list[_Series] = []
    for prefix, name in _CLASSES:
        ops = log.series(f"{prefix}_ops")
        if not any(ops):
            continue
        for p, dash in (("p50", "solid"), ("p90", "dot"), ("p99", "dash")):
            us = log.series(f"{prefix}_{p}_us")
            y = [v / 1000 if n else None for v, n in zip(us, ops, strict=True)]
            series.append((f"{name} {p}", y, dash))
    return _latency_over_time(go, time_axis(log), series, spans)


def latency_exact(
    go: Any, intervals: list[MergedInterval], t0_ms: float, spans: list[tuple[float, float, str]]
) -> Any:
    """Per-interval p50, p99, p99.9 per op kind over time, from the lossless intervals (ms, log
    scale); a gap where the interval had no op of that kind."""
    x = [(m.wall_ms - t0_ms) / 1000 for m in intervals]
    series: list[_Series] = []
    for kind in OpKind:
        hists = [m.collector.kind_histogram(kind) for m in intervals]
        if not any(h is not None and h.count for h in hists):
            continue
        for label, q, dash in (
            ("p50", 0.5, "solid"),
            ("p99", 0.99, "dash"),
            ("p99.9", 0.999, "dot"),
        ):
            y = [h.value_at_quantile(q) / 1e6 if h is not None and h.count else None for h in hists]
            series.append((f"{kind.name} {label}", y, dash))
    return _latency_over_time(go, x, series, spans)


def error_timeline(go: Any, log: PerfLog, spans: list[tuple[float, float, str]]) -> Any:
    """Failed ops per interval."""
    fig = go.Figure(go.Bar(x=time_axis(log), y=log.series("errors"), name="errors"))
    shade(fig, spans)
    return _layout(fig, "Errors over time", xaxis_title="seconds", yaxis_title="failed ops")


def _hdr_points(h: Histogram) -> tuple[list[float], list[float]]:
    """(1 / (1 - q), latency ms) from q = 0 up to the last rank the count resolves."""
    xs, ys = [], []
    top = 1 - 1 / h.count if h.count > 1 else 0.0
    for i in range(0, 141):
        q = 1 - 10 ** (-i / 20)
        if q > top:
            break
        xs.append(1 / (1 - q))
        ys.append(h.value_at_quantile(q) / 1e6)
    xs.append(max(xs[-1] * 1.5, h.count) if xs else 1.0)
    ys.append(h.max_ns / 1e6)
    return xs, ys


def hdr_percentiles(go: Any, collector: Collector) -> Any | None:
    """Latency by percentile per op kind (HdrHistogram's plot: x is 1/(1-q), log)."""
    fig = go.Figure()
    for kind in OpKind:
        h = collector.kind_histogram(kind)
        if h is not None and h.count:
            xs, ys = _hdr_points(h)
            fig.add_trace(go.Scatter(x=xs, y=ys, name=kind.name, mode="lines"))
    if not fig.data:
        return None
    ticks = [10.0**i for i in range(len(_PCT_LABELS))]
    return _layout(
        fig,
        "Latency by percentile (workload, whole run)",
        xaxis={"type": "log", "tickvals": ticks, "ticktext": _PCT_LABELS, "title": "percentile"},
        yaxis_title="ms",
    )


def ttfb_vs_total(go: Any, collector: Collector) -> Any | None:
    """Time to first byte against total latency, per op class, at p50..p99.9."""
    fig = go.Figure()
    for cls in OpClass:
        ttfb = collector.ttfb(cls)
        if ttfb is None or not ttfb.count:
            continue
        total = collector.merged(cls)
        labels = [label for label, _ in _TTFB_QUANTILES]
        for name, h in (("TTFB", ttfb), ("total", total)):
            y = [h.value_at_quantile(q) / 1e6 for _, q in _TTFB_QUANTILES]
            fig.add_trace(go.Bar(x=labels, y=y, name=f"{cls.name} {name}"))
    if not fig.data:
        return None
    return _layout(fig, "Time to first byte vs total latency", barmode="group", yaxis_title="ms")


def per_endpoint(go: Any, rows: list[dict[str, str]], stage: str) -> Any | None:
    """Requests and errors per endpoint (``<stage>_endpoint_stats.tsv``)."""
    if len(rows) < 2:
        return None
    names = [r["endpoint_uri"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[int(r["total_requests"]) for r in rows], name="requests"))
    fig.add_trace(go.Bar(x=names, y=[int(r["error_count"]) for r in rows], name="errors"))
    return _layout(fig, f"Per endpoint ({stage})", barmode="group", yaxis_title="requests")


def per_share(go: Any, rows: list[dict[str, Any]], stage: str, what: str) -> Any | None:
    """ops/s and MiB/s per process or per host (results.json sections)."""
    if len(rows) < 2:
        return None
    if what == "process":
        names = [f"{r['host']}/{r['process']}" for r in rows]
    else:
        names = [str(r["host"]) for r in rows]
    fig = go.Figure()
    ops = [r["ops_per_sec"] for r in rows]
    mib = [r["mib_per_sec"] for r in rows]
    fig.add_trace(go.Bar(x=names, y=ops, name="ops/s", offsetgroup=0))
    fig.add_trace(go.Bar(x=names, y=mib, name="MiB/s", yaxis="y2", offsetgroup=1))
    return _layout(
        fig,
        f"Per {what} ({stage})",
        barmode="group",
        yaxis_title="ops/s",
        yaxis2={"title": "MiB/s", "overlaying": "y", "side": "right"},
    )


def nonempty(fig: Any) -> bool:
    """Every trace of ``fig`` has at least one finite point (the report's own check)."""
    for trace in fig.data:
        ys = list(trace.y if trace.y is not None else [])
        if not ys or not any(isinstance(v, int | float) and math.isfinite(v) for v in ys):
            return False
    return bool(fig.data)
