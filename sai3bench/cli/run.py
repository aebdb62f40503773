"""``sai3bench run``: load -> plan -> engine -> report, and the results directory."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import uvloop

from sai3bench.cli.output import Console
from sai3bench.config.load import LoadedConfig, load_config, load_config_file
from sai3bench.engine.cleanup import CleanupResult
from sai3bench.engine.prepare import PrepareResult
from sai3bench.engine.runner import RunOptions, RunReport, execute
from sai3bench.engine.workload import WorkloadResult
from sai3bench.errors import Sai3Error, UsageError
from sai3bench.report import results_dir as rd
from sai3bench.report.console import format_prepare_results, format_workload_results
from sai3bench.report.plan import format_plan, op_mix_lines
from sai3bench.report.tsv import format_prepare_tsv, format_results_tsv

#: The embedded quickstart writes under this path; a run without --config swaps in a temp dir.
QUICKSTART_ROOT = "file:///tmp/sai3bench-quickstart"


class RunFlags(msgspec.Struct, frozen=True, kw_only=True):
    dry_run: bool = False
    prepare_only: bool = False
    skip_prepare: bool = False
    no_cleanup: bool = False
    cleanup_only: bool = False
    verify: bool = False
    tsv_name: str | None = None
    results_dir: Path = Path(".")
    seed: int | None = None


_CONFLICTS = (
    ("prepare_only", "verify"),
    ("prepare_only", "skip_prepare"),
    ("prepare_only", "cleanup_only"),
    ("cleanup_only", "skip_prepare"),
    ("cleanup_only", "verify"),
    ("cleanup_only", "no_cleanup"),
    ("verify", "skip_prepare"),
)


def check_flags(flags: RunFlags) -> None:
    """Refuse the flag pairs sai3-bench refuses, with the reason."""
    for a, b in _CONFLICTS:
        if getattr(flags, a) and getattr(flags, b):
            fa, fb = "--" + a.replace("_", "-"), "--" + b.replace("_", "-")
            raise UsageError(f"{fa} and {fb} cannot be used together", hint="drop one of them")


def quickstart_text() -> str:
    return resources.files("sai3bench.config").joinpath("default.yaml").read_text("utf-8")


def _load(config_path: Path | None) -> tuple[LoadedConfig, str, str, Path | None]:
    """(loaded config, its YAML text, a label for it, a temp dir to remove afterwards)."""
    if config_path is not None:
        loaded = load_config_file(config_path)
        return loaded, config_path.read_text("utf-8"), str(config_path), None
    tmp = Path(tempfile.mkdtemp(prefix="sai3bench-quickstart-"))
    text = quickstart_text().replace(QUICKSTART_ROOT, f"file://{tmp}")
    return load_config(text), text, "<embedded quickstart>", tmp


def run_command(config_path: Path | None, flags: RunFlags) -> int:
    check_flags(flags)
    loaded, text, source, tmp = _load(config_path)
    try:
        return _run_loaded(loaded, text, source, flags)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _run_loaded(loaded: LoadedConfig, text: str, source: str, flags: RunFlags) -> int:
    console = Console()
    for warning in loaded.warnings:
        console.warn(warning)
    config = loaded.config
    if flags.dry_run:
        console.say(format_plan(config, source))
        return 0
    name = rd.test_name_for(None if source.startswith("<") else source, flags.tsv_name)
    start = dt.datetime.now()
    out_dir = rd.make_results_dir(flags.results_dir, name, start)
    rd.write_text(out_dir / "config.yaml", text)
    console.say(f"Running workload from: {source}")
    console.say(f"Target: {config.target or '(absolute paths)'}")
    console.say(f"Duration: {config.duration:g}s")
    console.say(f"Concurrency: {config.concurrency} threads")
    console.say()
    for line in op_mix_lines(config):
        console.say(line)
    saver = _StageSaver(console, out_dir, config.concurrency, config.duration)
    opts = RunOptions(
        prepare_only=flags.prepare_only,
        skip_prepare=flags.skip_prepare,
        no_cleanup=flags.no_cleanup,
        cleanup_only=flags.cleanup_only,
        verify=flags.verify,
        seed=flags.seed,
    )
    report: RunReport | None = None
    error: Sai3Error | None = None
    try:
        report = uvloop.run(execute(config, opts, console, saver.on_stage))
    except Sai3Error as exc:
        error = exc
    end = dt.datetime.now()
    console.say(f"Results saved to: {out_dir}")
    rd.write_text(out_dir / "console_log.txt", console.text())
    meta = rd.metadata(
        test_name=name,
        config_path=source,
        start=start,
        end=end,
        command_line=sys.argv,
        stages=saver.stages,
        seed=report.seed if report else flags.seed,
    )
    rd.write_json(out_dir / "metadata.json", meta)
    rd.write_json(out_dir / "results.json", saver.histograms())
    if error is not None:
        raise error
    if report is not None and report.failure is not None:
        raise report.failure
    return 0


class _StageSaver:
    """Prints each stage's results when it ends and writes its TSV right away."""

    def __init__(self, console: Console, out_dir: Path, concurrency: int, duration: float) -> None:
        self.console = console
        self.out_dir = out_dir
        self.concurrency = concurrency
        self.duration = duration
        self.stages: dict[str, Any] = {}
        self._collectors: dict[str, bytes] = {}

    def on_stage(self, name: str, result: Any) -> None:
        if isinstance(result, PrepareResult):
            self._prepare(result)
        elif isinstance(result, WorkloadResult):
            self._workload(result)
        elif isinstance(result, CleanupResult):
            self._cleanup(result)

    def histograms(self) -> dict[str, Any]:
        """results.json: every stage's collector, lossless (docs/FORMAT.md)."""
        return {
            "format": "sai3bench-results",
            "version": 1,
            "stages": {k: base64.b64encode(v).decode() for k, v in self._collectors.items()},
        }

    def _prepare(self, r: PrepareResult) -> None:
        c = self.console
        c.say(format_prepare_results(r.collector, r.wall_s, r.created, r.existed))
        if r.created:
            path = self.out_dir / "prepare_results.tsv"
            rd.write_text(path, format_prepare_tsv(r.collector, r.wall_s))
            c.say(f"Prepare metrics exported to: {path}")
        self._collectors["prepare"] = r.collector.encode()
        self.stages["prepare"] = {
            "objects_created": r.created,
            "objects_existed": r.existed,
            "bytes": r.collector.nbytes(),
            "wall_seconds": round(r.wall_s, 6),
            "ops_per_sec": round(r.created / r.wall_s, 3) if r.wall_s > 0 else 0.0,
        }

    def _workload(self, r: WorkloadResult) -> None:
        c = self.console
        c.say(format_workload_results(r.collector, r.wall_s, r.workers, self.duration))
        if r.late:
            c.say(f"Ops finished after the deadline (not counted): {r.late:,}")
        path = self.out_dir / "workload_results.tsv"
        c.say(f"Exporting results to: {path}")
        rd.write_text(path, format_results_tsv(r.collector, r.wall_s))
        self._collectors["workload"] = r.collector.encode()
        ops = r.collector.ops()
        self.stages["workload"] = {
            "ops": ops,
            "bytes": r.collector.nbytes(),
            "errors": r.collector.error_count(),
            "late": r.late,
            "retries": r.retries,
            "workers": r.workers,
            "wall_seconds": round(r.wall_s, 6),
            "ops_per_sec": round(ops / r.wall_s, 3) if r.wall_s > 0 else 0.0,
            "aborted": r.aborted,
        }

    def _cleanup(self, r: CleanupResult) -> None:
        self.console.say(f"Cleanup complete: {r.summary()}")
        self._collectors["cleanup"] = r.collector.encode()
        self.stages["cleanup"] = {
            "objects_deleted": r.deleted,
            "already_deleted": r.already_gone,
            "errors": r.errors,
            "dirs_removed": r.dirs_removed,
            "wall_seconds": round(r.wall_s, 6),
            "ops_per_sec": round(r.deleted / r.wall_s, 3) if r.wall_s > 0 else 0.0,
        }
