"""``sai3bench compare``, ``merge`` and ``report``: results directories read back.

Thin: the logic is in report/compare.py, report/rules.py, report/merge.py and
report/html_report.py; this module parses flags, prints, and turns a tripped rule into exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sai3bench.errors import RunFailed, UsageError
from sai3bench.report.compare import Delta, deltas, format_table, format_value, op_figures
from sai3bench.report.rules import Trip, check_rules, parse_rule
from sai3bench.report.run_data import RunData, load_run

from .app import app


def _figures(run: RunData, stage: str) -> dict[str, dict[str, float]]:
    if stage not in run.collectors:
        have = ", ".join(run.stages()) or "none"
        raise UsageError(
            f"{run.path} has no {stage} stage (it has: {have})",
            hint="pick one with --stage prepare|workload|cleanup",
        )
    return op_figures(run.collectors[stage], run.walls.get(stage, 0.0))


def _trip_line(t: Trip) -> str:
    """The op, metric and the figure the rule tested: the % change for a % rule, the
    absolute change (in the metric's unit) for the others."""
    d: Delta = t.delta
    if t.rule.relative:
        shown = "new" if d.pct is None else f"{d.pct:+.1f}%"
    else:
        sign = "+" if d.change > 0 else "-" if d.change < 0 else ""
        shown = sign + format_value(d.metric, abs(d.change))
    base, new = format_value(d.metric, d.base), format_value(d.metric, d.new)
    return f"{d.op} {d.metric} {shown} ({base} -> {new})"


@app.command()
def compare(
    base: Annotated[Path, typer.Argument(help="results directory of the baseline run")],
    new: Annotated[Path, typer.Argument(help="results directory of the run to judge")],
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if",
            help="exit 1 when NEW vs BASE meets it, e.g. 'ops_per_sec < -5%', 'p99 > +10%', "
            "'GET.p99.9 > 2ms', 'errors > 0' (repeatable)",
        ),
    ] = None,
    stage: Annotated[str, typer.Option("--stage", help="prepare, workload or cleanup")] = (
        "workload"
    ),
) -> None:
    """Deltas per op (ops/s, MiB/s, p50, p99, p99.9, errors) of two runs; a CI gate."""
    rules = [parse_rule(text) for text in fail_if or []]
    base_run, new_run = load_run(base), load_run(new)
    rows = deltas(_figures(base_run, stage), _figures(new_run, stage))
    print(format_table(rows, stage, str(base), str(new)), end="")
    trips = check_rules(rules, rows)
    for t in trips:
        print(f"FAIL {t.rule.text!r}: {_trip_line(t)}")
    if trips:
        tripped = sorted({t.rule.text for t in trips}, key=[r.text for r in rules].index)
        raise RunFailed(
            f"regression: {len(tripped)} of {len(rules)} --fail-if rules tripped: "
            + ", ".join(repr(t) for t in tripped),
            hint="the FAIL lines above name the op and the change",
        )
    if rules:
        print(f"PASS: {len(rules)} --fail-if rule{'s' if len(rules) > 1 else ''} held")


@app.command()
def merge(
    dirs: Annotated[list[Path], typer.Argument(help="results directories of runs made at once")],
    out: Annotated[Path, typer.Option("-o", "--output", help="new directory for the merge")],
) -> None:
    """Combine runs made at once, exactly: histograms add, rates over the longest wall."""
    from sai3bench.report.merge import write_merged

    if len(dirs) < 2:
        raise UsageError("merge needs at least two results directories", hint="merge A B -o DIR")
    runs = [load_run(d) for d in dirs]
    print(f"Merged {len(runs)} runs into: {write_merged(runs, out, sys.argv)}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="results directory of a run")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="HTML file to write (default: RUN_DIR/report.html)"),
    ] = None,
) -> None:
    """One self-contained HTML page of a run's plots (needs the 'report' extra: plotly)."""
    from sai3bench.report.html_report import require_plotly, write_report

    require_plotly()
    print(f"Report written to: {write_report(load_run(run_dir), out)}")
