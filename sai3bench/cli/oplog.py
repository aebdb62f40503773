"""``sai3bench sort`` and ``sai3bench replay``: what to do with an op-log after a run.

The file format is metrics/oplog_file.py; the external sort metrics/oplog_sort.py; the open-loop
replay engine/replay.py; the URI rules plan/remap.py. Here: flags, messages, exit codes (bad
input is one ``error:`` line and exit 2, through cli/app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from sai3bench.backends.registry import Backends
from sai3bench.config.uri import URI_HINT, parse_uri
from sai3bench.engine.replay import Replayer, ReplayOp, ReplayReport, Schedule, target_uri
from sai3bench.engine.runner import refreshing
from sai3bench.errors import RunFailed, UsageError
from sai3bench.metrics.histogram import Histogram
from sai3bench.metrics.oplog_file import OpLogEntry, read_entries
from sai3bench.metrics.oplog_sort import sort_oplogs
from sai3bench.plan.remap import load_remap

from .app import app

#: Ops --dry-run prints one by one before the summary.
DRY_RUN_SHOWN = 20


def sorted_name(path: Path) -> Path:
    """Upstream's default output: ``<stem>.sorted.tsv.zst`` beside the input."""
    name = path.name.removesuffix(".zst").removesuffix(".tsv")
    return path.with_name(f"{name}.sorted.tsv.zst")


@app.command("sort")
def sort_command(
    op_log: Annotated[
        list[Path],
        typer.Option("--op-log", help="op-log to sort; give it several times to merge files"),
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="default: <stem>.sorted.tsv.zst beside the first"),
    ] = None,
) -> None:
    """Sort op-logs by start time (external sort: bounded memory whatever the size)."""
    out = output or sorted_name(op_log[0])
    try:
        with _sigterm_unwinds():
            rows = sort_oplogs(op_log, out, renumber=len(op_log) > 1)
    except OSError as exc:  # the inputs' own errors are OpLogErrors: this is the output side
        raise UsageError(
            f"sort: cannot write {out}: {exc.strerror}",
            hint="-o a file in an existing, writable directory (the spill runs go beside it)",
        ) from None
    print(f"Sorted {rows:,} ops by start time into {out}")


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the spill runs and the temporary output are removed on
    the way out (killed by default, a sort left them: GBs for a big log); exit 143."""

    def stop(signum: int, frame: object) -> None:
        print("error: interrupted by SIGTERM", file=sys.stderr)
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@app.command()
def replay(
    op_log: Annotated[Path, typer.Option("--op-log", help="the op-log to replay (.tsv.zst)")],
    target: Annotated[
        str | None,
        typer.Option("--target", help="send every op under this URI (its bucket/key below it)"),
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=0.001, help="2 = twice as fast as logged")
    ] = 1.0,
    remap: Annotated[
        Path | None, typer.Option("--remap", help="URI rewrite rules (YAML); wins over --target")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check the log, print what would be sent")
    ] = False,
    max_in_flight: Annotated[
        int, typer.Option("--max-in-flight", min=1, help="ops running at once, at most")
    ] = 256,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="skip TLS certificate checks (not for real data)")
    ] = False,
) -> None:
    """Replay an op-log with its original timing (open loop), against the same or another
    storage; reports ops, errors and how far behind schedule it ran."""
    schedule = Schedule(_rewriter(target, remap), speed)
    entries = read_entries(op_log)  # opened now: a missing or bad file stops here
    if dry_run:
        _dry_run(schedule, entries)
        return
    if target is None and remap is None:
        print(
            "warning: no --target or --remap: the ops go to the URIs logged, where the log's "
            "PUTs overwrite and its DELETEs remove objects (check with --dry-run)",
            file=sys.stderr,
        )
    signals: list[int] = []
    report = uvloop.run(_replay(schedule.ops(entries), max_in_flight, insecure, signals))
    for line in report_lines(report, schedule):
        print(line)
    if signals:  # the shell's convention: 128 + the signal (130 Ctrl-C, 143 SIGTERM)
        raise typer.Exit(128 + signals[0])
    if report.all_failed:
        raise RunFailed(
            f"replay: all {sum(report.ops.values()):,} ops failed",
            hint="check --target / --remap, the endpoint (AWS_ENDPOINT_URL...) and credentials",
        )


def _rewriter(target: str | None, remap: Path | None) -> Callable[[OpLogEntry], str]:
    if remap is not None:
        rules = load_remap(remap)
        return lambda e: rules(e.uri)
    if target is not None:
        try:
            parse_uri(target)
        except ValueError as exc:
            raise UsageError(f"--target {target}: {exc}", hint=URI_HINT) from None
        return lambda e: target_uri(target, e)
    return lambda e: e.uri


async def _replay(
    ops: Iterable[ReplayOp], max_in_flight: int, insecure: bool, signals: list[int]
) -> ReplayReport:
    """The replay; the first SIGINT/SIGTERM (appended to ``signals``) stops it with its partial
    report (ops in flight get STOP_GRACE seconds); a second one ends the process at once."""
    backends = Backends(concurrency=max_in_flight, insecure=insecure)
    async with refreshing(backends):
        run = asyncio.ensure_future(Replayer(backends, max_in_flight=max_in_flight).run(iter(ops)))
        loop = asyncio.get_running_loop()

        def stop(signum: int) -> None:
            signals.append(signum)
            for s in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(s)  # the second signal: the default (exit now)
            run.cancel()

        for s in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(s, stop, s)
        try:
            return await run
        finally:
            for s in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(s)


def _dry_run(schedule: Schedule, entries: Iterable[OpLogEntry]) -> None:
    """Every row parsed and rewritten; the first few printed, then the counts."""
    counts: dict[str, int] = {}
    ops = schedule.ops(entries)
    for op in itertools.islice(ops, DRY_RUN_SHOWN):
        print(f"+{op.due_ns / 1e9:.6f}s {op.op} {op.uri} {op.size}")
        counts[op.op] = counts.get(op.op, 0) + 1
    for op in ops:
        counts[op.op] = counts.get(op.op, 0) + 1
    total = sum(counts.values())
    if total > DRY_RUN_SHOWN:
        print(f"... {total - DRY_RUN_SHOWN:,} more")
    print(f"Would replay {total:,} ops ({_by_op(counts)}) over {schedule.span_ns / 1e9:.3f}s")
    if counts.get("PUT") or counts.get("DELETE"):
        print(
            f"Writes: {counts.get('PUT', 0):,} PUTs overwrite and {counts.get('DELETE', 0):,} "
            "DELETEs remove objects at these URIs, whoever made them"
        )
    for note in _log_notes(schedule):
        print(note)


def report_lines(r: ReplayReport, schedule: Schedule) -> list[str]:
    """The replay's summary: ops, errors, lateness (behind schedule) and service time."""
    total = sum(r.ops.values())
    errors = sum(r.errors.values())
    lines = [
        f"Replayed {total:,} ops in {r.wall_s:.3f}s (schedule {schedule.span_ns / 1e9:.3f}s at "
        f"speed {schedule.speed:g}x): {_by_op(r.ops)}",
        f"Errors: {errors:,}"
        + (" (" + ", ".join(f"{op} {o} {n:,}" for (op, o), n in sorted(r.errors.items())) + ")")
        * bool(errors),
        f"Behind schedule: {_pcts(r.late)}",
    ]
    if r.stopped:
        lines.insert(0, "Stopped by a signal: the ops after these were not sent")
    if r.service.count:
        lines.append(f"Service time: {_pcts(r.service)}")
    return lines + _log_notes(schedule)


def _log_notes(schedule: Schedule) -> list[str]:
    notes = []
    if schedule.out_of_order:
        notes.append(
            f"Out of order in the log: {schedule.out_of_order:,} ops started at once "
            "(sort it first: sai3bench sort --op-log FILE)"
        )
    if schedule.unknown:
        notes.append(f"Skipped, unknown op: {_by_op(schedule.unknown)}")
    return notes


def _by_op(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n:,}" for op, n in sorted(counts.items())) or "none"


def _pcts(h: Histogram) -> str:
    if not h.count:
        return "no ops"
    p50, p99 = h.percentiles([0.5, 0.99])
    return f"p50 {p50 / 1e6:.3f} ms, p99 {p99 / 1e6:.3f} ms, max {h.max_ns / 1e6:.3f} ms"
