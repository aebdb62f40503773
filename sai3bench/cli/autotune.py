"""``sai3bench autotune --config X``: the concurrency (and processes) where the target's knee is.

Prepare once, then short runs (``--step``, 5 s) of the config's own workload: concurrency 1, 2,
4, ... in one process until a doubling buys under ``--min-gain`` (5 %) more ops/s, then
processes 2, 3, ... at the best concurrency while each adds that much (engine/sweep.py). The
table and the chosen setting with its reason are printed; the config is written beside the input
as ``<stem>.tuned.yaml`` with ``concurrency`` and ``processes`` set in its text (comments kept),
never over an existing file without ``--force``. Cleanup deletes only what prepare made.
Ctrl-C stops the step under way, prints the table so far, cleans up, exits 130, writes nothing.
Refused before anything runs (one line, exit 2): io_rate (the sweep is a closed loop),
``duration: 0s`` (no workload stage to tune), an existing tuned file without ``--force``, a
directory the tuned file cannot be written to. A chosen setting with failed ops is warned about.

sai3-bench's autotune sweeps object size x threads x GCS channels for s3dlio; this one tunes
the run's own workload on any backend, which is what a run's concurrency and processes decide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from sai3bench.cli.app import app
from sai3bench.cli.netopts import DEFAULT_FIRST_BYTE, FirstByteTimeout, first_byte_seconds
from sai3bench.cli.output import Console
from sai3bench.cli.overrides import set_top_level
from sai3bench.config.load import LoadedConfig, load_config_file
from sai3bench.config.scale import parse_processes
from sai3bench.config.units import parse_duration, show
from sai3bench.engine.context import RunContext
from sai3bench.engine.interrupt import Interrupt
from sai3bench.engine.options import RunOptions
from sai3bench.engine.share_runner import ShareRunner
from sai3bench.engine.sweep import Point, Sweep, SweepRules
from sai3bench.engine.tune import TuneResult, autotune
from sai3bench.errors import RunFailed, UsageError
from sai3bench.plan.cores import resolve_processes, usable_cores
from sai3bench.report.autotune import chosen_line, table_header, table_row

_DEFAULT_STEP = "5s"


def tuned_path(config: Path) -> Path:
    """Where the tuned config goes: beside the input, ``<stem>.tuned.yaml``."""
    return config.with_name(f"{config.stem}.tuned.yaml")


def _rules(max_concurrency: int, max_processes: str, min_gain: float) -> SweepRules:
    if not 0 < min_gain < 1:
        raise UsageError(
            f"--min-gain {min_gain:g} is out of range", hint="give a fraction, e.g. 0.05 for 5 %"
        )
    try:
        setting = parse_processes(max_processes)
    except ValueError as exc:
        raise UsageError(
            f"--max-processes {show(max_processes)}: {exc}", hint="1, N or auto"
        ) from None
    cap = resolve_processes(setting, cores=usable_cores(), default=1)
    return SweepRules(max_concurrency=max_concurrency, max_processes=cap, min_gain=min_gain)


def _step_seconds(step: str) -> float:
    try:
        seconds = parse_duration(step)
    except ValueError as exc:
        raise UsageError(f"--step {show(step)}: {exc}", hint="e.g. --step 5s") from None
    if seconds <= 0:
        raise UsageError(f"--step {show(step)} must be above 0", hint="e.g. --step 5s")
    return seconds


def _check(loaded: LoadedConfig, out: Path, force: bool) -> None:
    """Refuse, before anything runs, what autotune cannot do (one line, exit 2)."""
    if loaded.config.io_rate is not None:
        raise UsageError(
            "autotune sweeps the closed loop; this config paces ops with io_rate",
            hint="remove io_rate from a copy of the config and tune that",
        )
    if loaded.config.duration == 0:
        raise UsageError(
            "autotune tunes the workload stage; this config has duration: 0s (prepare and "
            "cleanup only, no workload)",
            hint="set a duration in a copy of the config and tune that",
        )
    if out.exists() and not force:
        raise UsageError(f"{out} exists", hint="pass --force to overwrite it, or move it away")
    if not os.access(out.parent, os.W_OK):  # refused before the sweep, not after it
        raise UsageError(
            f"cannot write {out}: the directory is not writable",
            hint="copy the config to a writable directory and tune it there",
        )


def _local_runner(n: int, ctx: RunContext) -> ShareRunner:
    from sai3bench.scale.local import LocalProcessRunner

    return LocalProcessRunner(n, ctx.out, show_progress=False)


@app.command("autotune")
def autotune_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", help="sai3-bench YAML to tune")],
    step: Annotated[
        str, typer.Option("--step", help="length of each measured run, e.g. 5s")
    ] = _DEFAULT_STEP,
    max_concurrency: Annotated[
        int, typer.Option("--max-concurrency", min=1, help="highest concurrency tried")
    ] = 256,
    max_processes: Annotated[
        str, typer.Option("--max-processes", help="processes tried at the best concurrency")
    ] = "auto",
    min_gain: Annotated[
        float, typer.Option("--min-gain", help="least ops/s gain per step that counts")
    ] = 0.05,
    force: Annotated[bool, typer.Option("--force", help="overwrite <stem>.tuned.yaml")] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="skip TLS certificate checks (not for real data)")
    ] = False,
    first_byte_timeout: FirstByteTimeout = DEFAULT_FIRST_BYTE,
) -> None:
    """Sweep concurrency then processes with short runs; stop at the knee; write the config."""
    step_s = _step_seconds(step)
    rules = _rules(max_concurrency, max_processes, min_gain)
    loaded = load_config_file(config)
    out = tuned_path(config)
    _check(loaded, out, force)
    opts = RunOptions(insecure=insecure, first_byte_timeout=first_byte_seconds(first_byte_timeout))
    console = Console()
    for warning in loaded.warnings:
        console.warn(warning)
    sweep = Sweep(rules)
    console.say(f"Tuning {config}: {step_s:g}s per step, knee below {min_gain:.0%} per step")
    interrupt = Interrupt(console)
    with interrupt.deferred():
        result = uvloop.run(
            autotune(
                loaded.config,
                opts,
                console,
                sweep,
                step_s,
                interrupt,
                _local_runner,
                lambda p: _show_row(console, sweep, p),
            )
        )
    code = _finish(console, sweep, result, interrupt, loaded.text, out)
    if code:
        raise SystemExit(code)


def _show_row(console: Console, sweep: Sweep, point: Point) -> None:
    """Each step's row as it is measured, under a header before the first."""
    if len(sweep.points) == 1:
        console.say(table_header())
    console.say(table_row(point))


def _finish(
    console: Console,
    sweep: Sweep,
    result: TuneResult,
    interrupt: Interrupt,
    text: str,
    out: Path,
) -> int:
    """The table again with the choice marked, the tuned config written; the exit code."""
    if sweep.points:
        console.say("")
        console.say(table_header())
    for p in sweep.points:
        console.say(table_row(p, chosen=p is sweep.best))
    if result.abandoned:
        console.warn(result.abandoned)
    cleanup = result.cleanup
    if interrupt.requested:
        console.say("Stopped before the sweep ended: nothing written.")
        return interrupt.exit_code
    if cleanup is not None and cleanup.failure is not None:
        raise cleanup.failure
    best = sweep.best
    if best is None:
        raise RunFailed("autotune measured nothing", hint="see the lines above")
    if best.errors:
        console.warn(
            f"the chosen setting had {best.errors:,} failed ops (errors from the first step "
            "on): the target fails requests at any concurrency tried, so this tuning measures "
            "a sick store; check it with `sai3bench util health`"
        )
    console.say(chosen_line(best, sweep.reason))
    _write(out, text, best)
    console.say(f"Tuned config written to: {out}")
    return 0


def _write(out: Path, text: str, best: Point) -> None:
    tuned = set_top_level(text, {"concurrency": best.concurrency, "processes": best.processes})
    note = (
        f"# tuned by sai3bench autotune: concurrency {best.concurrency}, "
        f"processes {best.processes}\n"
    )
    part = out.with_name(f".{out.name}.part")
    try:  # whole or not at all: a signal or a full disk leaves no half-written config
        part.write_text(note + tuned, encoding="utf-8")
        os.replace(part, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise RunFailed(
            f"cannot write {out}: {exc.strerror}", hint="check the directory's permissions"
        ) from None
