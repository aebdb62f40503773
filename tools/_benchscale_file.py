"""tools/bench_scale.py's file:// and `processes`-default sections.

file: tools/bench_file.py's drivers and runs (rotated order, census checks after every run,
marginal CPU over a 32-object run), with two sai3bench drivers, `--processes auto` and
`--processes 1`, next to fio: 100 KiB page-cached GET for 5 s and create + delete of 5,000 files.

default: what a user gets from each `processes` default, start-up and all: the bare
`sai3bench run` quickstart (S3 on the embedded mock server, 10 s) and configs/quickstart.yaml
with its target moved into a scratch directory, at `--processes 1` and `--processes auto`.

Owns: its scratch directories under --root. Must never: delete anything outside them.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchscale import REPO, note_spread, stage_spread, verdict
from _benchutil import Scratch, fmt_num, median, paired_ratio, print_table, rotated, run_child
from bench_file import (
    GET_SECONDS,
    Bench,
    FioDriver,
    Layout,
    Sai3Driver,
    Scenario,
    cpu_us_per_obj,
)

KiB = 1024
FILES = 5000
SIZE = 100 * KiB
SAI3 = [sys.executable, "-m", "sai3bench"]
_SEQ = itertools.count(1)  # run names: q1, q2, ...


class ProcsDriver(Sai3Driver):
    """bench_file's sai3bench driver with `--processes P` on every run; notes start spreads."""

    def __init__(self, layout: Layout, processes: str) -> None:
        super().__init__(layout, SAI3)
        self.name = f"sai3 --processes {processes}"
        self.processes = processes

    def _run(self, n: int, size: int, stage: str, flags: list[str]) -> tuple[dict[str, Any], float]:
        st, cpu = super()._run(n, size, stage, [*flags, "--processes", self.processes])
        note_spread(f"file:// {stage}, --processes {self.processes}", stage_spread(st))
        return st, cpu


def ensure_fio() -> bool:
    """True if fio runs here, after trying `apt-get install -y fio`; else say why, loudly."""
    if shutil.which("fio"):
        return True
    print("  fio not found: trying apt-get install -y fio", flush=True)
    try:
        r = subprocess.run(["apt-get", "install", "-y", "fio"], capture_output=True, text=True)
        why = f"apt-get exit {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}"
    except OSError as e:
        why = f"cannot run apt-get: {e}"
    if shutil.which("fio"):
        return True
    print(f"  fio is NOT available ({why}): the fio rows and the GET >= 0.6x fio check are skipped")
    return False


def file_section(reps: int, root: Path, cycle_files: int) -> None:
    """processes auto vs 1 vs fio on file://: 100 KiB GET (page cache) and delete.

    The create + delete cycle has its own file count: 5,000 deletes take 0.1-0.2 s here, a
    window that start-up jitter and other work swamp."""
    print("\n== file://: 100 KiB files, 32 in flight, auto vs 1 vs fio", flush=True)
    has_fio = ensure_fio()
    with Scratch(root, "bench_scale-") as scratch:
        layout = Layout(scratch)
        auto, one = ProcsDriver(layout, "auto"), ProcsDriver(layout, "1")
        fio = FioDriver(layout) if has_fio else None
        bench = Bench(layout, [auto, one, *([fio] if fio else [])], reps)
        print(f"  start-up baselines (32 objects, {reps} reps)", flush=True)
        bench.baselines([SIZE])
        get = Scenario("get", FILES, SIZE, "get")
        cycle = Scenario("cycle", cycle_files, SIZE, "create-delete")
        bench.run(get, fio or one, reps)
        bench.run(cycle, None, reps)
    file_report(bench, get, cycle)


def file_report(bench: Bench, get: Scenario, cycle: Scenario) -> None:
    names = [d.name for d in bench.drivers]
    rows = []
    for sc, op in ((get, "get"), (cycle, "create"), (cycle, "delete")):
        rates = {n: [s.rate for s in bench.samples.get((sc.key, op, n), [])] for n in names}
        for n in names:
            if not rates[n]:
                why = bench.failed.get((sc.key, n)) or bench.failed.get(("base", n), "")
                rows.append([op, n, "not run", "", "", "", why[:60]])
                continue
            vs_fio = paired_ratio(rates[n], rates.get("fio", []))
            vs_one = paired_ratio(rates[n], rates[names[1]])
            rows.append([
                op, n, f"{median(rates[n]):,.0f} ({min(rates[n]):,.0f}-{max(rates[n]):,.0f})",
                fmt_num(cpu_us_per_obj(bench, sc, op, n), 1),
                fmt_num(vs_fio, 2) if n != "fio" else "-",
                fmt_num(vs_one, 2) if n != names[1] else "-", "",
            ])  # fmt: skip
    print(f"\nfile:// 100 KiB, 32 in flight: GET {GET_SECONDS} s over {get.count:,} files (page "
          f"cache), create then delete {cycle.count:,} files")  # fmt: skip
    hdr = ["op", "tool", "files/s median (min-max)", "CPU ms/1k ops", "vs fio", "vs sai3 1"]
    print_table([*hdr, ""], rows)
    if "fio" in names:
        fio = [s.rate for s in bench.samples.get(("get", "get", "fio"), [])]
        for n in names[:2]:
            ours = [s.rate for s in bench.samples.get(("get", "get", n), [])]
            r = paired_ratio(ours, fio) if ours and fio else None
            print(verdict(f"GET {n} / fio", r, at_least=0.6, where="file:// 100 KiB"))


# --- which default ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRun:
    """One whole `sai3bench run` as a user sees it."""

    wall_s: float
    cpu_s: float
    prepare_s: float
    workload_ops_s: float
    cleanup_s: float
    spread_ms: float | None


def user_run(cmd: list[str], results: Path, name: str) -> UserRun:
    r = run_child([*cmd, "--results-dir", str(results), "--tsv-name", name], cwd=REPO, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"exit {r.returncode}: {r.tail(2)}")
    stages = json.loads(next(results.glob(f"sai3-*-{name}/metadata.json")).read_text())["stages"]

    def wall(stage: str) -> float:
        return float(stages.get(stage, {}).get("wall_seconds", 0.0))

    wl = stages["workload"]
    if wl.get("errors"):
        raise RuntimeError(f"{wl['errors']} failed operations")
    return UserRun(r.wall_s, r.cpu_s, wall("prepare"), wl["ops_per_sec"], wall("cleanup"),
                   stage_spread(wl))  # fmt: skip


def default_section(reps: int, root: Path, work: Path) -> None:
    """The quickstarts at --processes 1 and auto: which default serves users best."""
    print("\n== default: quickstart workloads at --processes 1 vs auto (whole runs)", flush=True)
    with Scratch(root, "bench_scale-qs-") as scratch:
        cfg = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
        cfg["target"] = f"file://{scratch.path}/qs/"
        cfg_path = work / "quickstart-file.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        loads = {
            "s3 quickstart (bare `sai3bench run`, embedded mock)": [*SAI3, "run"],
            "file:// configs/quickstart.yaml": [*SAI3, "run", "-c", str(cfg_path)],
        }
        for title, cmd in loads.items():
            default_load(title, cmd, reps, work / "qs")


def default_load(title: str, cmd: list[str], reps: int, results: Path) -> None:
    res: dict[str, list[UserRun]] = {"1": [], "auto": []}
    for rep in range(reps):
        for p in rotated(list(res), rep):
            name = f"q{next(_SEQ)}"
            try:
                u = user_run([*cmd, "--processes", p], results, name)
            except (RuntimeError, OSError, KeyError, StopIteration) as e:
                print(f"  [{title[:14]} rep {rep + 1}] {p}: failed: {str(e)[:120]}", flush=True)
                continue
            res[p].append(u)
            note_spread(
                f"{title.split(' (')[0]}, --processes auto", u.spread_ms if p != "1" else None
            )
            print(f"  [{title[:14]} rep {rep + 1}] --processes {p}: "
                  f"{u.workload_ops_s:,.0f} ops/s, {u.wall_s:.1f} s", flush=True)  # fmt: skip
    rows = []
    for p, xs in res.items():
        if not xs:
            rows.append([p, "failed", "", "", "", ""])
            continue
        rows.append([p, *(fmt_num(median([getattr(x, f) for x in xs]), d) for f, d in (
            ("workload_ops_s", 0), ("prepare_s", 2), ("cleanup_s", 2), ("wall_s", 1),
            ("cpu_s", 1))), ])  # fmt: skip
    print(f"\n{title}")
    hdr = ["processes", "workload ops/s", "prepare s", "cleanup s", "whole run s"]
    hdr.append("CPU s (s3: with the mock)")
    print_table(hdr, rows, left=1)
    one, auto = res["1"], res["auto"]
    n = min(len(one), len(auto))
    if n:
        ops = paired_ratio(
            [x.workload_ops_s for x in auto[:n]], [x.workload_ops_s for x in one[:n]]
        )
        wall = paired_ratio([x.wall_s for x in auto[:n]], [x.wall_s for x in one[:n]])
        print(verdict("workload ops/s, auto / 1", ops))
        print(verdict("whole-run wall time, auto / 1", wall))
