"""``sai3bench run``: load -> plan -> engine -> report, and the results directory."""

from __future__ import annotations

import base64
import datetime as dt
import errno
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Final

import msgspec
import uvloop

from sai3bench.backends.direct_probe import check_direct_targets
from sai3bench.backends.namespace_probe import namespace_warning
from sai3bench.cli.embedded import embedded_mock_server
from sai3bench.cli.oplog_run import finish_op_log, op_log_name_warning, resolve_op_log
from sai3bench.cli.output import Console
from sai3bench.cli.overrides import Overrides, apply_overrides, check_overrides
from sai3bench.config.load import LoadedConfig, load_config
from sai3bench.config.scale import PROCESSES_HINT, parse_processes
from sai3bench.config.schema import Config
from sai3bench.config.text import decode_config, read_config_bytes
from sai3bench.engine.cleanup import CleanupResult
from sai3bench.engine.interrupt import Interrupt
from sai3bench.engine.options import RunOptions
from sai3bench.engine.prepare import PrepareResult
from sai3bench.engine.runner import RunnerFactory, RunReport, execute, idle_run_problem
from sai3bench.engine.workload import WorkloadResult
from sai3bench.errors import RunFailed, Sai3Error, UsageError
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.metrics.share_stat import ShareStat
from sai3bench.plan.cores import resolve_processes, usable_cores
from sai3bench.plan.limits import check_limits
from sai3bench.plan.share import usable_shares
from sai3bench.plan.tree import check_tree, dir_op_problem
from sai3bench.report import results_dir as rd
from sai3bench.report.console import (
    format_prepare_results,
    format_workload_results,
    latency_summary,
    retry_counts,
)
from sai3bench.report.endpoints import format_endpoint_block, format_endpoint_tsv
from sai3bench.report.html_report import report_after_run
from sai3bench.report.interval_log import IntervalLog
from sai3bench.report.opmix import mix_section, op_mix
from sai3bench.report.perf_log import PerfLogWriter
from sai3bench.report.plan import format_plan, multi_endpoint_lines, op_mix_lines
from sai3bench.report.rate import format_rate_block, rate_section
from sai3bench.report.shares import (
    format_host_block,
    format_host_tsv,
    format_process_block,
    host_sections,
    share_sections,
)
from sai3bench.report.tsv import format_prepare_tsv, format_results_tsv
from sai3bench.scale.local import LocalProcessRunner

EMBEDDED = "<embedded quickstart>"


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
    #: --processes as typed (auto, single, N); None: the YAML's, else DEFAULT_PROCESSES.
    processes: str | None = None
    cluster: str | None = None
    forward_credentials: bool = False
    #: --duration, --concurrency, --target: the YAML's values overridden.
    overrides: Overrides = msgspec.field(default_factory=Overrides)
    #: --quiet: no live progress.
    quiet: bool = False
    #: --op-log FILE; the YAML's op_log_path when absent (cli/oplog_run.py).
    op_log: str | None = None
    op_log_since_ns: int = 0
    #: --report: report.html in the results directory at the end (report/html_report.py).
    report: bool = False
    #: --ignore-unknown-keys: an unknown YAML key is a warning, not an error (as upstream).
    ignore_unknown_keys: bool = False


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
    if flags.processes is not None:
        try:
            parse_processes(flags.processes)
        except ValueError as exc:
            raise UsageError(f"--processes: {exc}", hint=PROCESSES_HINT) from None
    if flags.forward_credentials and not flags.cluster:
        raise UsageError(
            "--forward-credentials needs --cluster",
            hint="local processes already share this shell's environment",
        )
    check_overrides(flags.overrides)


def quickstart_text() -> str:
    return resources.files("sai3bench.config").joinpath("default.yaml").read_text("utf-8")


def _load(
    config_path: Path | None,
    *,
    http2: bool = False,
    overrides: Overrides | None = None,
    ignore_unknown_keys: bool = False,
) -> tuple[LoadedConfig, str, str]:
    """(loaded config, its YAML text with the command line's overrides, a label for it)."""
    if config_path is not None:
        text, label = decode_config(read_config_bytes(config_path)), str(config_path)
    else:
        text, label = quickstart_text(), EMBEDDED
    if overrides is not None and overrides.given():
        # Before loading: --target is how a config that names its storage per agent runs.
        text = apply_overrides(text, overrides)
    loaded = load_config(text, ignore_unknown_keys=ignore_unknown_keys)
    check_tree(loaded.config)  # a count that does not match the tree: refused, dry run too
    if config_path is not None:
        check_limits(loaded.config, http2=http2)
    return loaded, loaded.text, label


def run_command(config_path: Path | None, flags: RunFlags) -> int:
    check_flags(flags)
    loaded, text, source = _load(
        config_path,
        http2=flags.http2,
        overrides=flags.overrides,
        ignore_unknown_keys=flags.ignore_unknown_keys,
    )
    if source != EMBEDDED or flags.dry_run:
        return _run_loaded(loaded, text, source, flags)
    with embedded_mock_server():
        return _run_loaded(loaded, text, source, flags)


def _run_loaded(loaded: LoadedConfig, text: str, source: str, flags: RunFlags) -> int:
    console = Console(quiet=flags.quiet)
    for warning in loaded.warnings:
        console.warn(warning)
    config = loaded.config
    if (idle := idle_run_problem(config, _options(flags))) is not None:  # duration 0, no prepare
        raise idle
    if flags.dry_run:
        console.say(format_plan(config, source, _local_processes(config, flags)))
        return 0
    if (problem := dir_op_problem(config)) is not None:  # mkdir/rmdir with no tree
        raise problem
    if not flags.cluster:  # a cluster's hosts have their own disks: they fail per op there
        check_direct_targets(config)  # tmpfs, no O_DIRECT, read-only: one line, before any stage
        if (apart := namespace_warning(config)) is not None:
            console.warn(apart)
    op_log = resolve_op_log(flags.op_log, config.op_log_path, cluster=bool(flags.cluster))
    if (name_warning := op_log_name_warning(op_log)) is not None:
        console.warn(name_warning)
    flags = msgspec.structs.replace(flags, op_log=op_log, op_log_since_ns=time.time_ns())
    name = rd.test_name_for(None if source.startswith("<") else source, flags.tsv_name)
    start = dt.datetime.now()
    files = ResultFiles(rd.make_results_dir(flags.results_dir, name, start))
    files.write_first("config.yaml", text)
    perf_log = PerfLogWriter(files.out_dir) if config.perf_log.enabled else None
    # perf_log_intervals.jsonl: the same intervals, lossless (p99.9 over time, exact merges)
    intervals = IntervalLog(files.out_dir, perf_log) if perf_log else None
    _say_header(console, config, source, flags.insecure)
    runner = _share_runner(config, flags, console)
    # From here on a signal stops the run in order (engine/interrupt.py) instead of killing
    # it: partial results are printed and saved, and cleanup runs.
    interrupt = Interrupt(console)
    saver = _StageSaver(console, files, config.duration, interrupt, config)
    report: RunReport | None = None
    error: Sai3Error | None = None
    with interrupt.deferred():
        try:
            report = uvloop.run(
                execute(
                    config, _options(flags), console, saver.on_stage, interrupt, runner, intervals
                )
            )
        except Sai3Error as exc:
            error = exc
        _close_perf_log(perf_log, console)
        if intervals is not None:
            intervals.close()
        if flags.op_log:
            n = 1 if flags.cluster else _local_processes(config, flags)
            finish_op_log(flags.op_log, processes=n, cluster=bool(flags.cluster), console=console)
        seed = report.seed if report else flags.seed
        hosts = saver.hosts() if flags.cluster else None
        _save(saver, test_name=name, config_path=source, start=start, seed=seed, hosts=hosts)
        if flags.report:
            report_after_run(files.out_dir, console.say, console.warn)
    return _exit_code(interrupt, error, report, files)


#: Engine processes when neither --processes nor the YAML says (README "Scale out": why).
DEFAULT_PROCESSES: Final = 1


def _local_processes(config: Config, flags: RunFlags) -> int:
    """Engine processes a run on this host starts: the setting, cut to one per worker."""
    setting = parse_processes(flags.processes) if flags.processes else config.processes
    n = resolve_processes(setting, cores=usable_cores(), default=DEFAULT_PROCESSES)
    return usable_shares(n, config.concurrency)


def _share_runner(config: Config, flags: RunFlags, console: Console) -> RunnerFactory | None:
    """Where the stages' shares run: None for this process alone, else local child processes
    (``processes`` > 1) or the workers of a Dask cluster (``--cluster``)."""
    setting = parse_processes(flags.processes) if flags.processes else config.processes
    if config.distributed is not None and config.distributed.agents and not flags.cluster:
        console.warn(
            "distributed.agents is used only with --cluster tcp://SCHEDULER:8786; "
            "this run stays on this host"
        )
    if flags.cluster:
        from sai3bench.scale.cluster import cluster_runner

        agents = config.distributed.agents if config.distributed else ()
        return cluster_runner(
            flags.cluster, setting, console, flags.forward_credentials, agents=agents
        )
    n = resolve_processes(setting, cores=usable_cores(), default=DEFAULT_PROCESSES)
    usable = _local_processes(config, flags)
    if usable < n:
        console.warn(
            f"processes: {n} asked for, {usable} run (concurrency {config.concurrency}: "
            "each process needs at least one worker)"
        )
    if usable == 1:
        return None
    console.say(f"Processes: {usable} engine processes on this host")
    return lambda ctx: LocalProcessRunner(usable, ctx.out, intervals=ctx.intervals)


def _close_perf_log(perf_log: PerfLogWriter | None, console: Console) -> None:
    """perf_log.tsv is complete: say so if a write failed (the run's results still count)."""
    if perf_log is None:
        return
    perf_log.close()
    if perf_log.failure is not None:
        console.warn(f"perf_log.tsv: rows after {perf_log.rows:,} were lost: {perf_log.failure}")


def _save(saver: _StageSaver, **meta: Any) -> None:
    """console_log.txt, metadata.json (with an ``interrupted`` block when a signal stopped the
    run) and results.json; ``meta`` is what rd.metadata needs beyond the run's end."""
    console, interrupt, files = saver.console, saver.interrupt, saver.files
    if interrupt.requested:
        where = f"the {interrupt.stage} stage" if interrupt.stage else "the run"
        console.warn(f"interrupted by {interrupt.signal_name} during {where}")
    console.say(f"Results saved to: {files.out_dir}")
    data = rd.metadata(end=dt.datetime.now(), command_line=sys.argv, stages=saver.stages, **meta)
    if interrupt.requested:
        data["interrupted"] = interrupt.marker()
    files.write("console_log.txt", console.text())
    files.write_json("metadata.json", data)
    files.write_json("results.json", saver.histograms())


def _say_header(console: Console, config: Config, source: str, insecure: bool) -> None:
    console.say(f"Running workload from: {source}")
    console.say(f"Target: {config.target or '(absolute paths)'}")
    for line in multi_endpoint_lines(config):
        console.say(line)
    console.say(f"Duration: {config.duration:g}s")
    console.say(f"Concurrency: {config.concurrency} threads")
    console.say()
    for line in op_mix_lines(config):
        console.say(line)
    if insecure:
        console.warn(
            "--insecure: TLS certificates are NOT checked; anyone on the path can read and "
            "change this traffic"
        )


def _options(flags: RunFlags) -> RunOptions:
    """The engine's part of the flags: every RunOptions field has a RunFlags namesake."""
    return RunOptions(**{f: getattr(flags, f) for f in RunOptions.__struct_fields__})


def _exit_code(
    interrupt: Interrupt, error: Sai3Error | None, report: RunReport | None, files: ResultFiles
) -> int:
    """An interrupted run exits 128 + the signal (130, 143) whatever else happened; otherwise
    the run's own error comes first, then a failed run, then results that were not saved.
    Every reason but the one raised is still printed."""
    failures = report.failures if report else []
    reasons = [e for e in (error, *failures, files.failure) if e]
    if interrupt.requested:
        for reason in reasons:
            print(f"error: {reason.msg}", file=sys.stderr)
        return interrupt.exit_code
    if not reasons:
        return 0
    for reason in reasons[1:]:
        print(f"warning: {reason.msg}", file=sys.stderr)
    raise reasons[0]


class ResultFiles:
    """Writes into the results directory; a write that fails (a full disk) is remembered, not
    raised, so the run goes on and prints its results; the first failure ends it (exit 1)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.failure: RunFailed | None = None

    def write_first(self, name: str, text: str) -> None:
        """The first file, before anything runs: a failure refuses the run at once."""
        self.write(name, text)
        if self.failure is not None:
            raise UsageError(self.failure.msg, hint=self.failure.hint)

    def write(self, name: str, text: str) -> Path:
        return self._save(name, lambda path: rd.write_text(path, text))

    def write_json(self, name: str, obj: Any) -> Path:
        return self._save(name, lambda path: rd.write_json(path, obj))

    def _save(self, name: str, write: Callable[[Path], None]) -> Path:
        path = self.out_dir / name
        try:
            write(path)
        except OSError as exc:
            if self.failure is None:
                code = errno.errorcode.get(exc.errno or 0, "?")
                self.failure = RunFailed(
                    f"results not saved: cannot write {path}: {exc.strerror} ({code})",
                    hint="free space there or pass --results-dir pointing elsewhere",
                )
        return path


class _StageSaver:
    """Prints each stage's results when it ends and writes its TSV right away."""

    def __init__(
        self,
        console: Console,
        files: ResultFiles,
        duration: float,
        interrupt: Interrupt,
        config: Config | None = None,
    ) -> None:
        self.console = console
        self.files = files
        self.duration = duration
        #: The weights the workload's op mix is held against (report/opmix.py).
        self.config = config
        self._op_mix: dict[str, Any] | None = None
        self.interrupt = interrupt
        self.stages: dict[str, Any] = {}
        self._collectors: dict[str, bytes] = {}
        #: Per stage, per op kind: ops, rates and latency percentiles up to p99.99 (ns).
        self._summaries: dict[str, dict[str, Any]] = {}
        #: Client- or storage-bound, and the figures that say so (engine/vitals.py).
        self._verdict: dict[str, Any] | None = None
        self._per_share: dict[str, list[dict[str, Any]]] = {}
        self._per_host: dict[str, list[dict[str, Any]]] = {}

    def on_stage(self, name: str, result: Any) -> None:
        if isinstance(result, PrepareResult):
            self._prepare(result)
        elif isinstance(result, WorkloadResult):
            self._workload(result)
        elif isinstance(result, CleanupResult):
            self._cleanup(result)
        shares: list[ShareStat] = getattr(result, "shares", [])
        if shares and name in self.stages:
            self._shares(name, shares)
        cut = self.interrupt.stage == name
        if name == "cleanup" and self.interrupt.cleanup in ("stopped", "timed out"):
            cut = True
        if cut and name in self.stages:
            self.stages[name]["interrupted"] = True
            self.console.say(f"({name} was interrupted: these are partial results)")

    def hosts(self) -> list[str]:
        """Every host that ran a share of any stage (a --cluster run's agents)."""
        return sorted({row["host"] for rows in self._per_share.values() for row in rows})

    def histograms(self) -> dict[str, Any]:
        """results.json: every stage's collector, lossless (docs/FORMAT.md)."""
        data: dict[str, Any] = {
            "format": "sai3bench-results",
            "version": 1,
            "stages": {k: base64.b64encode(v).decode() for k, v in self._collectors.items()},
            "summary": self._summaries,
        }
        if self._verdict is not None:
            data["verdict"] = self._verdict
        if self._op_mix is not None:
            data["op_mix"] = {"workload": self._op_mix}
        if self._per_share:
            data["processes"] = self._per_share
        if self._per_host:
            data["hosts"] = self._per_host
        if "rate" in self.stages.get("workload", {}):  # io_rate: offered, achieved, response
            data["rate"] = {"workload": self.stages["workload"]["rate"]}
        return data

    def _prepare(self, r: PrepareResult) -> None:
        c = self.console
        c.say(format_prepare_results(r.collector, r.wall_s, r.created, r.existed))
        if r.created:
            path = self.files.write(
                "prepare_results.tsv", format_prepare_tsv(r.collector, r.wall_s)
            )
            c.say(f"Prepare metrics exported to: {path}")
        self._endpoints("prepare", r.endpoint_stats)
        self._collectors["prepare"] = r.collector.encode()
        self._summaries["prepare"] = latency_summary(r.collector, r.wall_s)
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
        mix = op_mix(r.collector, self.config, r.exhausted) if self.config else None
        c.say(format_workload_results(r.collector, r.wall_s, r.workers, self.duration, mix))
        if mix is not None:
            self._op_mix = mix_section(mix)
        if r.late:
            c.say(f"Ops finished after the deadline (not counted): {r.late:,}")
        if r.verdict is not None:
            c.say(r.verdict.line)
            self._verdict = msgspec.to_builtins(r.verdict)
        if r.pacing is not None:
            c.say(format_rate_block(r.collector, r.pacing))
        path = self.files.write("workload_results.tsv", format_results_tsv(r.collector, r.wall_s))
        c.say(f"Exporting results to: {path}")
        self._endpoints("workload", r.endpoint_stats)
        self._collectors["workload"] = r.collector.encode()
        self._summaries["workload"] = latency_summary(r.collector, r.wall_s)
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
        if r.pacing is not None:
            self.stages["workload"]["rate"] = rate_section(r.collector, r.pacing)

    def _shares(self, stage: str, stats: list[ShareStat]) -> None:
        """Per process (and per host in a distributed run): console lines, the stage's
        sections in metadata.json, and ``<stage>_host_stats.tsv`` when hosts differ."""
        self.console.say(format_process_block(stats))
        self.stages[stage]["processes"] = self._per_share[stage] = share_sections(stats)
        if len({s.host for s in stats}) > 1:
            self.console.say(format_host_block(stats))
            self.stages[stage]["hosts"] = self._per_host[stage] = host_sections(stats)
            path = self.files.write(f"{stage}_host_stats.tsv", format_host_tsv(stats))
            self.console.say(f"Host statistics exported to: {path}")

    def _endpoints(self, stage: str, stats: list[EndpointStat] | None) -> None:
        """multi_endpoint runs: the per-endpoint block and ``<stage>_endpoint_stats.tsv``."""
        if not stats:
            return
        self.console.say(format_endpoint_block(stats))
        path = self.files.write(f"{stage}_endpoint_stats.tsv", format_endpoint_tsv(stats))
        self.console.say(f"Endpoint statistics exported to: {path}")

    def _cleanup(self, r: CleanupResult) -> None:
        self.console.say(f"Cleanup {'incomplete' if r.errors else 'complete'}: {r.summary()}")
        self._collectors["cleanup"] = r.collector.encode()
        self._summaries["cleanup"] = latency_summary(r.collector, r.wall_s)
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
