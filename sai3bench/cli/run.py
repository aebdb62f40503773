"""``sai3bench run``: load -> plan -> engine -> report, and the results directory."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
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
from sai3bench.errors import RunFailed, Sai3Error, UsageError
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.report import results_dir as rd
from sai3bench.report.console import (
    format_prepare_results,
    format_workload_results,
    retry_counts,
)
from sai3bench.report.endpoints import format_endpoint_block, format_endpoint_tsv
from sai3bench.report.plan import format_plan, multi_endpoint_lines, op_mix_lines
from sai3bench.report.tsv import format_prepare_tsv, format_results_tsv

EMBEDDED = "<embedded quickstart>"
_KEY, _SECRET = "quickstart", "quickstart-secret"


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
    insecure: bool = False
    http2: bool = False
    sign_payload: bool = False
    first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT


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


def _load(config_path: Path | None) -> tuple[LoadedConfig, str, str]:
    """(loaded config, its YAML text, a label for it)."""
    if config_path is not None:
        loaded = load_config_file(config_path)
        return loaded, loaded.text, str(config_path)
    text = quickstart_text()
    return load_config(text), text, EMBEDDED


def run_command(config_path: Path | None, flags: RunFlags) -> int:
    check_flags(flags)
    loaded, text, source = _load(config_path)
    if source != EMBEDDED or flags.dry_run:
        return _run_loaded(loaded, text, source, flags)
    with embedded_mock_server():
        return _run_loaded(loaded, text, source, flags)


@contextlib.contextmanager
def embedded_mock_server() -> Iterator[str]:
    """Run the bundled mock S3 server as a child process (it gets the other core) on a free
    loopback port, with SigV4 checked, and point this process's S3 settings at it."""
    cmd = [sys.executable, "-m", "sai3bench", "mock-server", "--port", "0"]
    cmd += ["--bucket", "quickstart", "--auth", f"{_KEY}:{_SECRET}"]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if "listening on" not in line:
                raise RunFailed(
                    "the embedded mock server did not start",
                    hint="run 'sai3bench mock-server --port 0' to see why",
                )
            url = line.split()[-1]
            env = {
                "AWS_ENDPOINT_URL": url,
                "AWS_ACCESS_KEY_ID": _KEY,
                "AWS_SECRET_ACCESS_KEY": _SECRET,
                "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
            saved = {k: os.environ.get(k) for k in [*env, "AWS_SESSION_TOKEN", "AWS_PROFILE"]}
            os.environ.update(env)
            os.environ.pop("AWS_SESSION_TOKEN", None)
            os.environ.pop("AWS_PROFILE", None)
            try:
                yield url
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        finally:
            proc.terminate()
            proc.wait(timeout=10)


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
    for line in multi_endpoint_lines(config):
        console.say(line)
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
        insecure=flags.insecure,
        http2=flags.http2,
        sign_payload=flags.sign_payload,
        first_byte_timeout=flags.first_byte_timeout,
    )
    if flags.insecure:
        console.warn(
            "--insecure: TLS certificates are NOT checked; anyone on the path can read and "
            "change this traffic"
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
        self._endpoints("prepare", r.endpoint_stats)
        self._collectors["prepare"] = r.collector.encode()
        self.stages["prepare"] = {
            "objects_created": r.created,
            "objects_existed": r.existed,
            "errors": r.collector.error_count(),
            "retries": r.collector.retries,  # rounds and HTTP resends (r.retries: rounds)
            "retried_after": retry_counts(r.collector),
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
        self._endpoints("workload", r.endpoint_stats)
        self._collectors["workload"] = r.collector.encode()
        ops = r.collector.ops()
        self.stages["workload"] = {
            "ops": ops,
            "bytes": r.collector.nbytes(),
            "errors": r.collector.error_count(),
            "late": r.late,
            "retries": r.retries,
            "retried_after": retry_counts(r.collector),
            "workers": r.workers,
            "wall_seconds": round(r.wall_s, 6),
            "ops_per_sec": round(ops / r.wall_s, 3) if r.wall_s > 0 else 0.0,
            "aborted": r.aborted,
        }

    def _endpoints(self, stage: str, stats: list[EndpointStat] | None) -> None:
        """multi_endpoint runs: the per-endpoint block and ``<stage>_endpoint_stats.tsv``."""
        if not stats:
            return
        self.console.say(format_endpoint_block(stats))
        path = self.out_dir / f"{stage}_endpoint_stats.tsv"
        rd.write_text(path, format_endpoint_tsv(stats))
        self.console.say(f"Endpoint statistics exported to: {path}")

    def _cleanup(self, r: CleanupResult) -> None:
        self.console.say(f"Cleanup {'incomplete' if r.errors else 'complete'}: {r.summary()}")
        self._collectors["cleanup"] = r.collector.encode()
        self.stages["cleanup"] = {
            "objects_deleted": r.deleted,
            "already_deleted": r.already_gone,
            "errors": r.errors,
            "objects_left": r.errors,
            "left_under": dict(r.left),
            "retries": r.retries,
            "retried_after": retry_counts(r.collector),
            "dirs_removed": r.dirs_removed,
            "wall_seconds": round(r.wall_s, 6),
            "ops_per_sec": round(r.deleted / r.wall_s, 3) if r.wall_s > 0 else 0.0,
        }
