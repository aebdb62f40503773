"""``sai3bench report``: one self-contained HTML file of a results directory.

plotly draws the plots (report/figures.py); its JavaScript is embedded once in the page, so the
file opens offline and makes no network request. plotly is an optional dependency (the
``report`` extra): without it the command says how to install it. Figures with no data for this
run (no perf-log, no TTFB on file://, one endpoint) are left out, each with a line saying why.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sai3bench.config.load import load_config
from sai3bench.errors import Sai3Error, UsageError
from sai3bench.report import figures
from sai3bench.report.compare import METRICS, format_value, op_figures
from sai3bench.report.interval_log import INTERVALS_NAME, read_intervals
from sai3bench.report.perflog_rows import PerfLog, parse_perf_log
from sai3bench.report.run_data import RunData, load_run

INSTALL_HINT = "pip install 'sai3bench[report]' (or: pip install plotly)"
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}
_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
    "pre{background:#f6f6f6;padding:1em;overflow:auto}.note{color:#666}"
)


def require_plotly() -> Any:
    """The plotly.graph_objects module, or a UsageError saying how to install it."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise UsageError(
            "the HTML report needs plotly, which is not installed", hint=INSTALL_HINT
        ) from None
    return go


def warmup_spans(run: RunData, log: PerfLog) -> list[tuple[float, float, str]]:
    """Where to shade warmup: rows whose stage says warmup, else the config's warmup_period
    from the start of the Workload rows."""
    x = figures.time_axis(log)
    marked = [t for t, r in zip(x, log.rows, strict=True) if "warmup" in r["stage"].lower()]
    if marked:
        step = _step(x)
        return [(min(marked) - step, max(marked), "warmup")]
    warmup = _config_warmup(run)
    work = [t for t, r in zip(x, log.rows, strict=True) if r["stage"].lower() == "workload"]
    if not warmup or not work:
        return []
    start = work[0] - _step(x)
    return [(start, start + warmup, "warmup")]


def _step(x: list[float]) -> float:
    """The interval length, read off the time axis (1 s if it cannot be)."""
    gaps = sorted(b - a for a, b in itertools.pairwise(x) if b > a)
    return gaps[len(gaps) // 2] if gaps else 1.0


def _config_warmup(run: RunData) -> float:
    if run.config_text is None:
        return 0.0
    try:
        return load_config(run.config_text).config.warmup_period
    except Sai3Error:
        return 0.0


def _tsv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def _time_figures(go: Any, run: RunData) -> tuple[list[Any], list[str]]:
    if run.perf_log_text is None:
        return [], ["No perf_log.tsv in this run: add 'perf_log: {interval: 1s}' to the config."]
    log = parse_perf_log(run.perf_log_text, str(run.path / "perf_log.tsv"))
    if not log.rows:
        return [], ["perf_log.tsv has no rows."]
    spans = warmup_spans(run, log)
    if run.intervals_text:  # exact per-kind percentiles, p99.9 included
        intervals = read_intervals(run.intervals_text, str(run.path / INTERVALS_NAME))
        t0 = float(log.rows[0]["timestamp_epoch_ms"])
        latency = figures.latency_exact(go, intervals, t0, spans)
    else:
        latency = figures.latency(go, log, spans)
    throughput = figures.throughput(go, log, spans)
    return [throughput, latency, figures.error_timeline(go, log, spans)], []


def _run_figures(go: Any, run: RunData) -> tuple[list[Any], list[str]]:
    figs, notes = [], []
    work = run.collectors.get("workload")
    if work is not None:
        for build, why in (
            (figures.hdr_percentiles, "No workload op finished: no percentile plot."),
            (figures.ttfb_vs_total, "No time-to-first-byte (file:// has none)."),
        ):
            fig = build(go, work)
            if fig is not None:
                figs.append(fig)
            else:
                notes.append(why)
    for name, text in run.small_tsvs.items():
        if name.endswith("_endpoint_stats.tsv"):
            fig = figures.per_endpoint(go, _tsv_rows(text), name.split("_")[0])
            figs += [fig] if fig is not None else []
    for what, key in (("process", "processes"), ("host", "hosts")):
        for stage, rows in (run.extra.get(key) or {}).items():
            fig = figures.per_share(go, rows, stage, what)
            figs += [fig] if fig is not None else []
    if not any(n.endswith("_endpoint_stats.tsv") for n in run.small_tsvs):
        notes.append("One endpoint: no per-endpoint plot (multi_endpoint runs have one).")
    return figs, notes


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _summary(run: RunData) -> str:
    meta = run.metadata
    keys = ("test_name", "start_time", "end_time", "duration_secs", "hostname", "version")
    info = _table(["", "value"], [[k, str(meta.get(k, ""))] for k in keys])
    parts = [info]
    for stage in run.stages():
        figs = op_figures(run.collectors[stage], run.walls.get(stage, 0.0))
        rows = [[op, *(format_value(m, v[m]) for m in METRICS)] for op, v in figs.items()]
        parts.append(f"<h3>{html.escape(stage)}</h3>" + _table(["op", *METRICS], rows))
    return "".join(parts)


def build_report(run: RunData) -> str:
    """The whole page: summary tables, every plot with data, notes, the config."""
    go = require_plotly()
    from plotly.offline import get_plotlyjs

    time_figs, notes = _time_figures(go, run)
    run_figs, more = _run_figures(go, run)
    divs = [
        fig.to_html(full_html=False, include_plotlyjs=False, config=_PLOT_CONFIG)
        for fig in time_figs + run_figs
    ]
    title = html.escape(f"sai3bench report: {run.metadata.get('test_name', run.path.name)}")
    note_html = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes + more)
    config = html.escape(run.config_text or "(no config.yaml)")
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{title}</h1><p>{html.escape(str(run.path))}</p>{_summary(run)}"
        f"{''.join(divs)}{note_html}<h2>Config</h2><pre>{config}</pre></body></html>\n"
    )


def write_report(run: RunData, out: Path | None) -> Path:
    """Write the page to ``out`` (default: report.html in the results directory)."""
    path = out or run.path / "report.html"
    text = build_report(run)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror}", hint="pass -o with a writable path"
        ) from None
    return path


def report_after_run(
    out_dir: Path, say: Callable[[str], None], warn: Callable[[str], None]
) -> None:
    """``run --report``: the page of the run just saved. A failure is a warning: the run's
    results are saved already, and ``sai3bench report`` can make the page again."""
    try:
        say(f"HTML report: {write_report(load_run(out_dir), None)}")
    except Sai3Error as exc:
        warn(f"no HTML report: {exc.msg}")
