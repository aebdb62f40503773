"""Measuring primitives of tools/bench_scale.py: one `sai3bench run --processes N` against a
server, its client and server CPU, its start spread, and the tables built from repetitions.

Owns: nothing on disk but the run directories under the work directory it is given.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import (
    fmt_num,
    median,
    paired_ratio,
    print_table,
    rotated,
    run_child,
    spread,
    tree_cpu,
)
from bench_http import BASE_S, PeerError, sai_parse

REPO = Path(__file__).resolve().parent.parent
#: Start spreads (ms) of every multi-process run, by where they came from.
SPREADS: dict[str, list[float]] = {}
#: [where, what, value, target, MET/MISSED] of every target checked, for the closing table.
SUMMARY: list[list[str]] = []


@dataclass(frozen=True, slots=True)
class Run:
    """One finished `sai3bench run`: what it did and what it cost."""

    ops: int
    ops_s: float
    wall_s: float
    cpu_s: float  # client process tree
    server_cpu_s: float
    spread_ms: float | None


@dataclass(frozen=True, slots=True)
class Sample:
    """A measured run net of its 0.2 s baseline: the steady state of one variant."""

    ops_s: float
    cpu_us: float | None  # client CPU per op, microseconds (= ms per 1,000 ops)
    server_us: float
    client_cores: float | None
    server_cores: float
    spread_ms: float | None
    startup_s: float  # wall seconds of a BASE_S run beyond BASE_S: start-up and hand-out


# --- measuring ----------------------------------------------------------------------------


@contextlib.contextmanager
def environ(extra: dict[str, str]) -> Iterator[None]:
    """`extra` in os.environ (run_child passes this process's environment on), restored after."""
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def stage_spread(stage: dict[str, Any]) -> float | None:
    """Last minus first first-op offset over a stage's per-process sections (None: one process
    or no op)."""
    offsets = [p["first_op_ms"] for p in stage.get("processes", []) if p["first_op_ms"] is not None]
    return max(offsets) - min(offsets) if len(offsets) > 1 else None


def note_spread(source: str, ms: float | None) -> None:
    if ms is not None:
        SPREADS.setdefault(source, []).append(ms)


class ScaleRunner:
    """`sai3bench run --processes N` over prepared objects, against one server."""

    def __init__(self, work: Path, env: dict[str, str], server_pid: int | None) -> None:
        self.work, self.env, self.server_pid, self.n = work, env, server_pid, 0
        work.mkdir(parents=True, exist_ok=True)

    def run(self, cfg: dict[str, Any], processes: str, *flags: str, copies: int = 1) -> Run:
        """One run; `copies` > 1 starts that many independent runs at once (one shell child,
        so RUSAGE_CHILDREN holds them all): ops and ops/s are their sums."""
        names, cmds = [], []
        for _ in range(copies):
            self.n += 1
            names.append(f"r{self.n}")
            cfgf = self.work / f"{names[-1]}.yaml"
            cfgf.write_text(yaml.safe_dump(cfg))
            cmd = [sys.executable, "-m", "sai3bench", "run", "-c", str(cfgf), "--skip-prepare"]
            cmd += ["--no-cleanup", "--results-dir", str(self.work), "--tsv-name", names[-1]]
            cmds.append([*cmd, "--processes", processes, *flags])
        s0 = tree_cpu(self.server_pid)
        with environ(self.env):
            r = run_child(cmds[0] if copies == 1 else at_once(cmds), cwd=REPO, timeout=300)
        server = tree_cpu(self.server_pid) - s0
        if r.returncode != 0:
            raise PeerError(f"exit {r.returncode}: {r.tail(2)}")
        parsed = [sai_parse(self.work, name, "get") for name in names]
        meta = json.loads(next(self.work.glob(f"sai3-*-{names[0]}/metadata.json")).read_text())
        spread_ms = stage_spread(meta["stages"]["workload"]) if copies == 1 else None
        ops, ops_s = sum(x[3] for x in parsed), sum(x[0] for x in parsed)
        return Run(ops, ops_s, r.wall_s, r.cpu_s, server, spread_ms)

    def sample(self, make_cfg: Callable[[float], dict[str, Any]], seconds: float, procs: str,
               *flags: str, copies: int = 1) -> Sample:  # fmt: skip
        """A `seconds` run minus a BASE_S run of the same command (start-up cancels)."""
        base = self.run(make_cfg(BASE_S), procs, *flags, copies=copies)
        full = self.run(make_cfg(seconds), procs, *flags, copies=copies)
        d_ops = max(full.ops - base.ops, 1)
        d_wall = max(full.wall_s - base.wall_s, 1e-3)
        d_cpu, d_srv = full.cpu_s - base.cpu_s, full.server_cpu_s - base.server_cpu_s
        return Sample(full.ops_s, d_cpu / d_ops * 1e6, d_srv / d_ops * 1e6,
                      d_cpu / d_wall, d_srv / d_wall, full.spread_ms,
                      max(base.wall_s - BASE_S, 0.0))  # fmt: skip


def at_once(cmds: list[list[str]]) -> list[str]:
    """One `sh -c` that starts every command at once, waits for each, and fails if any did."""
    starts = " ".join(f"{shlex.join(c)} & p{i}=$!;" for i, c in enumerate(cmds))
    waits = " ".join(f"wait $p{i} || rc=1;" for i in range(len(cmds)))
    return ["sh", "-c", f"rc=0; {starts} {waits} exit $rc"]


# --- tables -------------------------------------------------------------------------------

Samples = dict[str, list[Sample | str]]  # variant -> one Sample (or failure text) per rep


def measure(variants: dict[str, Callable[[], Sample]], reps: int, tag: str) -> Samples:
    out: Samples = {v: [] for v in variants}
    for rep in range(reps):
        for v in rotated(list(variants), rep):
            try:
                s: Sample | str = variants[v]()
            except (PeerError, OSError, ValueError, KeyError, StopIteration) as e:
                s = f"failed: {' '.join(str(e).split())[:120]}"
            out[v].append(s)
            brief = (
                s if isinstance(s, str) else f"{s.ops_s:,.0f} ops/s, {fmt_num(s.cpu_us, 1)} us/op"
            )
            print(f"  [{tag} rep {rep + 1}] {v}: {brief}", flush=True)
    return out


def ok_samples(xs: list[Sample | str]) -> list[Sample]:
    return [x for x in xs if isinstance(x, Sample)]


def _med(xs: list[Sample | str], attr: str, digits: int = 1) -> str:
    vals = [getattr(x, attr) for x in ok_samples(xs) if getattr(x, attr) is not None]
    return fmt_num(median(vals), digits) if vals else "-"


def _per_rep(xs: list[Sample | str], attr: str) -> list[float]:
    return [getattr(x, attr) if isinstance(x, Sample) else 0.0 for x in xs]


def print_samples(title: str, res: Samples) -> None:
    rows = []
    for name, xs in res.items():
        ok = ok_samples(xs)
        if not ok:
            rows.append([name, str(xs[0])[:70], "", "", "", "", "", "", ""])
            continue
        lo, hi = spread([x.ops_s for x in ok])
        rows.append([
            name, f"{median([x.ops_s for x in ok]):,.0f} ({lo:,.0f}-{hi:,.0f})",
            _med(xs, "cpu_us"), _med(xs, "server_us"), _med(xs, "client_cores", 2),
            _med(xs, "server_cores", 2), _med(xs, "spread_ms", 2), _med(xs, "startup_s", 2),
            str(len(ok)),
        ])  # fmt: skip
    print(f"\n{title}")
    hdr = ["variant", "ops/s median (min-max)", "CPU ms/1k ops", "server ms/1k ops"]
    hdr += ["client cores", "server cores", "spread ms", "start-up s", "reps ok"]
    print_table(hdr, rows, left=1)


def verdict(
    what: str, value: float | None, *, at_most: float = 0, at_least: float = 0, where: str = ""
) -> str:
    """One line: the figure, its target and whether it was met (at_most/at_least 0: none).
    A line with a target and a `where` also goes into SUMMARY."""
    if at_most:
        target, ok = f"<= {at_most:g}", None if value is None else value <= at_most
    elif at_least:
        target, ok = f">= {at_least:g}", None if value is None else value >= at_least
    else:
        return f"  {what}: {fmt_num(value, 2)}"
    mark = "-" if ok is None else ("MET" if ok else "MISSED")
    if where:
        SUMMARY.append([where, what, fmt_num(value, 2), target, mark])
    return f"  {what}: {fmt_num(value, 2)}  (target {target}: {mark})"


def ratio(res: Samples, a: str, b: str, attr: str) -> float | None:
    """Median over reps of res[a].attr / res[b].attr."""
    return paired_ratio(_per_rep(res[a], attr), _per_rep(res[b], attr))
