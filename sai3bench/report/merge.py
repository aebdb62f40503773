"""``sai3bench merge``: several results directories of runs that ran at the same time (the
agents of one test, by hand) as one, exactly.

Each stage's collectors merge by histogram addition (docs/FORMAT.md), so the merged percentiles
are those of every op of every run; a stage's wall time is the longest of the runs' (they ran
at once), the divisor of the merged rates, as for the hosts of a ``--cluster`` run. The
perf-log merges by interval: exactly from perf_log_intervals.jsonl (report/interval_log.py),
or, for runs without it, row by row from perf_log.tsv (report/perflog_rows.py). metadata.json
lists the sources. Runs whose files are not in the same format (a foreign results.json, a
perf-log in some runs only) are refused: a merge that dropped part of a run would not be exact.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

from sai3bench.engine.intervals import MergedInterval
from sai3bench.errors import UsageError
from sai3bench.metrics.collector import Collector
from sai3bench.report import results_dir as rd
from sai3bench.report.interval_log import INTERVALS_NAME, merge_intervals, read_intervals, to_line
from sai3bench.report.perf_log import PERF_LOG_HEADER, format_row
from sai3bench.report.perflog_rows import merge_perf_logs, parse_perf_log
from sai3bench.report.run_data import RESULTS_FORMAT, RESULTS_VERSION, RunData
from sai3bench.report.tsv import format_prepare_tsv, format_results_tsv

#: The count each stage's ops_per_sec divides, as run.py's metadata writes it.
_RATE_OF = {"workload": "ops", "prepare": "objects_created", "cleanup": "objects_deleted"}


def merged_collectors(runs: list[RunData]) -> dict[str, Collector]:
    """Stage -> the exact merge of that stage's collector in every run that has it."""
    out: dict[str, Collector] = {}
    for run in runs:
        for stage, collector in run.collectors.items():
            out.setdefault(stage, Collector()).merge(collector)
    return out


def merged_walls(runs: list[RunData]) -> dict[str, float]:
    """Stage -> the longest wall time of that stage among the runs (they ran at once)."""
    out: dict[str, float] = {}
    for run in runs:
        for stage, wall in run.walls.items():
            out[stage] = max(out.get(stage, 0.0), wall)
    return out


def _add(into: dict[str, Any], section: dict[str, Any]) -> None:
    """Add one run's metadata section into ``into``: counts add, flags OR, lists join, nested
    sections (retried_after, left_under) add key by key; anything else is dropped."""
    for key, value in section.items():
        if isinstance(value, bool):
            into[key] = into.get(key, False) or value
        elif isinstance(value, int):
            into[key] = into.get(key, 0) + value
        elif isinstance(value, list):
            into[key] = into.get(key, []) + value
        elif isinstance(value, dict):
            _add(into.setdefault(key, {}), value)


def _merged_stage(sections: list[dict[str, Any]], stage: str, wall: float) -> dict[str, Any]:
    """One stage of metadata.json: the sections added, wall the longest, the rate anew."""
    out: dict[str, Any] = {}
    for section in sections:
        _add(out, section)
    out["wall_seconds"] = round(wall, 6)
    count = out.get(_RATE_OF.get(stage, "ops"), 0)
    out["ops_per_sec"] = round(count / wall, 3) if wall > 0 else 0.0
    return out


def _stage_sections(runs: list[RunData], walls: dict[str, float]) -> dict[str, Any]:
    stages: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for name, section in (run.metadata.get("stages") or {}).items():
            if isinstance(section, dict):
                stages.setdefault(name, []).append(section)
    return {n: _merged_stage(s, n, walls.get(n, 0.0)) for n, s in stages.items()}


def _times(runs: list[RunData], key: str) -> list[dt.datetime]:
    out = []
    for run in runs:
        try:
            out.append(dt.datetime.fromisoformat(str(run.metadata[key])))
        except (KeyError, ValueError):
            continue
    return out


def _check_formats(runs: list[RunData]) -> None:
    for name, attr in (("perf_log.tsv", "perf_log_text"), (INTERVALS_NAME, "intervals_text")):
        with_it = [r.path for r in runs if getattr(r, attr) is not None]
        if with_it and len(with_it) != len(runs):
            without = next(r.path for r in runs if getattr(r, attr) is None)
            raise UsageError(
                f"cannot merge: {without} has no {name} and {with_it[0]} has one",
                hint="merge runs made with the same perf_log setting and sai3bench version",
            )


def _perf_log_files(runs: list[RunData]) -> dict[str, bytes]:
    """perf_log.tsv of the merge: rebuilt from the lossless intervals when every run has them
    (exact percentiles, and perf_log_intervals.jsonl too), else merged row by row. Built before
    the output directory is made, so a corrupt perf-log leaves nothing half-written."""
    if runs[0].intervals_text is not None:
        parts = [read_intervals(r.intervals_text or "", str(r.path / INTERVALS_NAME)) for r in runs]
        _check_interval_lengths(runs, parts)
        merged = merge_intervals(parts)
        rows = "".join(format_row(m, agent_id="merged") for m in merged)
        return {
            "perf_log.tsv": (PERF_LOG_HEADER + "\n" + rows).encode(),
            INTERVALS_NAME: b"".join(to_line(m) for m in merged),
        }
    if runs[0].perf_log_text is not None:
        logs = [parse_perf_log(r.perf_log_text or "", str(r.path / "perf_log.tsv")) for r in runs]
        return {"perf_log.tsv": merge_perf_logs(logs).encode()}
    return {}


def _check_interval_lengths(runs: list[RunData], parts: list[list[MergedInterval]]) -> None:
    """Interval i of every run is merged with interval i of the others: that is the same time
    only when the runs' perf_log.interval is the same (interval i starts at i x the interval)."""
    lengths = [next((m.start_s / m.index for m in p if m.index > 0), None) for p in parts]
    known = [(run, x) for run, x in zip(runs, lengths, strict=True) if x is not None]
    for run, x in known[1:]:
        if not math.isclose(x, known[0][1], rel_tol=0.01):
            raise UsageError(
                f"cannot merge: {run.path} logged every {x:g}s and {known[0][0].path} "
                f"every {known[0][1]:g}s (perf_log.interval)",
                hint="merge runs made with the same perf_log setting",
            )


def _check_sources(runs: list[RunData], out: Path) -> None:
    """One directory given twice would count its ops twice; an output inside a source would
    put files into that run's directory."""
    seen: dict[Path, Path] = {}
    for run in runs:
        real = run.path.resolve()
        if real in seen:
            raise UsageError(
                f"cannot merge: {run.path} is {seen[real]} again (its ops would count twice)",
                hint="name each results directory once",
            )
        seen[real] = run.path
        if out.resolve().is_relative_to(real):
            raise UsageError(
                f"cannot merge into {out}: it is inside the source {run.path}",
                hint="pass -o DIR, a new directory outside the runs merged",
            )


def _make_output(out: Path) -> None:
    """``out`` as a new or empty directory: a merge never writes into another run's files."""
    try:
        if out.is_dir() and not any(out.iterdir()):
            return
        out.mkdir(parents=True)
    except FileExistsError:
        raise UsageError(
            f"{out} exists and is not empty", hint="pass -o DIR, a new directory"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot create {out}: {exc.strerror}", hint="pass -o DIR, a writable path"
        ) from None


def _sources(runs: list[RunData]) -> list[dict[str, Any]]:
    keys = ("test_name", "config_path", "start_time", "end_time", "hostname")
    return [{"path": str(r.path), **{k: r.metadata.get(k) for k in keys}} for r in runs]


def write_merged(runs: list[RunData], out: Path, command_line: list[str]) -> Path:
    """Write the merge of ``runs`` into the new directory ``out`` (refused if it has files)."""
    _check_formats(runs)
    _check_sources(runs, out)
    perf_logs = _perf_log_files(runs)
    _make_output(out)
    collectors, walls = merged_collectors(runs), merged_walls(runs)
    starts, ends = _times(runs, "start_time"), _times(runs, "end_time")
    now = dt.datetime.now().astimezone()
    meta = rd.metadata(
        test_name="merged",
        config_path=None,
        start=min(starts, default=now),
        end=max(ends, default=now),
        command_line=command_line,
        stages=_stage_sections(runs, walls),
        seed=None,
        hosts=sorted({str(r.metadata.get("hostname", "?")) for r in runs}),
    )
    meta["merged_from"] = _sources(runs)
    rd.write_json(out / "metadata.json", meta)
    rd.write_json(out / "results.json", _results_doc(runs, collectors))
    if "workload" in collectors:
        text = format_results_tsv(collectors["workload"], walls.get("workload", 0.0))
        rd.write_text(out / "workload_results.tsv", text)
    if "prepare" in collectors and collectors["prepare"].ops():
        text = format_prepare_tsv(collectors["prepare"], walls.get("prepare", 0.0))
        rd.write_text(out / "prepare_results.tsv", text)
    for name, data in perf_logs.items():
        (out / name).write_bytes(data)
    configs = {r.config_text for r in runs}
    if len(configs) == 1 and runs[0].config_text is not None:
        shutil.copyfile(runs[0].path / "config.yaml", out / "config.yaml")
    return out


def _results_doc(runs: list[RunData], collectors: dict[str, Collector]) -> dict[str, Any]:
    """results.json of the merge: the merged collectors and every run's per-share sections."""
    doc: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "version": RESULTS_VERSION,
        "stages": {k: base64.b64encode(c.encode()).decode() for k, c in collectors.items()},
    }
    for section in ("processes", "hosts"):
        merged: dict[str, list[Any]] = {}
        for run in runs:
            for stage, rows in (run.extra.get(section) or {}).items():
                merged.setdefault(stage, []).extend(rows)
        if merged:
            doc[section] = merged
    return doc
