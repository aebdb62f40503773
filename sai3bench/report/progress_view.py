"""How a stage's live progress looks: a plain line for a log, a rich view for a terminal.

Pure: a Tick in, text or a rich renderable out; cli/output.py decides when and where to show
them. Prepare and cleanup (a Tick with ``total``) get a bar with the count, the rate and the
time left; the workload (a Tick with ``duration_s``) gets its totals and one row per op kind
from ``Tick.classes``: ops/s, MiB/s, p99 and errors over the last interval.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sai3bench.engine.progress import ClassTick, Tick, format_progress
from sai3bench.report.console import fmt_in, line_unit


def eta_s(t: Tick) -> float | None:
    """Seconds left: objects left at the current rate for a task list, the time left of the
    duration for the workload; None when unknown (no rate yet)."""
    if t.duration_s:
        return max(t.duration_s - t.elapsed_s, 0.0)
    if t.rate <= 0 or not t.total:
        return None
    return max(t.total - t.done, 0) / t.rate


def fmt_eta(seconds: float | None) -> str:
    """``0:07`` / ``1:02:03``; ``--:--`` when unknown."""
    if seconds is None:
        return "--:--"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def fmt_p99(us: float) -> str:
    ns = us * 1000
    return fmt_in(ns, line_unit(ns))


def _class_text(c: ClassTick) -> str:
    return (
        f"{c.name} {c.ops_s:,.0f}/s {c.mib_s:,.1f} MiB/s p99 {fmt_p99(c.p99_us)} "
        f"errors {c.errors:,}"
    )


def plain_line(t: Tick) -> str:
    """One line for a log: the stage's totals, then the ETA or each op kind's figures."""
    head = format_progress(t)
    if not t.duration_s:
        return f"{head} ETA {fmt_eta(eta_s(t))}"
    return " | ".join([f"{t.label} {head}", *(_class_text(c) for c in t.classes)])


def renderable(t: Tick) -> RenderableType:
    """The terminal view of ``t``: a bar for a task list, a table for the workload."""
    if not t.duration_s:
        return _bar(t)
    return _workload(t)


def _bar(t: Tick) -> RenderableType:
    grid = Table.grid(padding=(0, 1))
    grid.add_row(
        Text(t.label, style="bold"),
        ProgressBar(total=max(t.total, 1), completed=min(t.done, t.total), width=40),
        Text(f"{t.done:,}/{t.total:,}"),
        Text(f"{t.rate:,.0f}/s"),
        Text(f"ETA {fmt_eta(eta_s(t))}", style="cyan"),
    )
    return grid


def _workload(t: Tick) -> RenderableType:
    head = Table.grid(padding=(0, 1))
    head.add_row(
        Text(t.label, style="bold"),
        ProgressBar(total=t.duration_s, completed=min(t.elapsed_s, t.duration_s), width=30),
        Text(f"{t.elapsed_s:.0f}s/{t.duration_s:g}s"),
        Text(f"{t.rate:,.0f} ops/s  {t.mib_s:,.1f} MiB/s  errors {t.errors:,}", style="bold"),
    )
    if not t.classes:
        return head
    table = Table(box=None, padding=(0, 2), show_edge=False)
    for name in ("op", "ops/s", "MiB/s", "p99", "errors"):
        table.add_column(name, justify="left" if name == "op" else "right", no_wrap=True)
    for c in t.classes:
        table.add_row(
            c.name, f"{c.ops_s:,.0f}", f"{c.mib_s:,.1f}", fmt_p99(c.p99_us), f"{c.errors:,}"
        )
    return Group(head, table)
