"""file:// benchmark: sai3bench against fio and s3dlio doing the same work on the same disk.

    python tools/bench_file.py [--root DIR] [--reps 3] [--quick]

Scenarios (32 in flight everywhere, all objects in one directory, DIR/data/):
  a  create 1,000 x 100 KiB, then delete them
  b  create 5,000 x 100 KiB, then delete them
  c  create 20,000 x 1 MiB (--quick: 5,000), then delete them; 2 reps by default, because
     each run writes 20 GiB and takes 30-60 s here (--large-reps)
  d  GET for 5 s over 5,000 x 100 KiB objects (made once by fio, outside the timing)

--quick also makes --reps default to 1 (about 2 minutes instead of about 8).

Each repetition runs the three tools back to back in a rotated order, because create speed
on this VM drifts 3-5x for minutes after mass deletes (see _benchutil.rotated). Tables show
medians, the min-max over repetitions, and sai3bench/peer as the median of per-repetition
ratios. Client CPU per object is marginal: (CPU of an N-object run - CPU of a 32-object run)
/ (N - 32), so process start-up and import costs cancel; for GET it is (CPU - CPU of a
32-object create) / ops.

Owns: its scratch directory (a fresh directory under --root, removed at exit and on Ctrl-C).
Must never: delete anything outside that directory.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import (
    ChildRun,
    MiB,
    Scratch,
    base_env_lines,
    cpu_self,
    fio_sections,
    fio_window,
    fmt_num,
    load_avg,
    median,
    paired_ratio,
    print_table,
    rotated,
    run_child,
    spread,
    version_of,
)

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
GET_SECONDS = 5
BASE_COUNT = 32  # objects in the start-up baseline run: one per worker
KiB = 1024
TOOLS = ("sai3bench", "fio", "s3dlio")


class DriverError(RuntimeError):
    """A tool run failed or did other work than asked (wrong object count)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    count: int
    size: int
    kind: str  # "create-delete" or "get"

    @property
    def title(self) -> str:
        size = f"{self.size // MiB} MiB" if self.size >= MiB else f"{self.size // KiB} KiB"
        what = "create, then delete" if self.kind == "create-delete" else f"GET {GET_SECONDS} s"
        return f"({self.key}) {self.count:,} x {size}: {what}"


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run: ops done, seconds, the rate the tool reports, client CPU seconds."""

    ops: int
    seconds: float
    rate: float
    cpu_s: float


class Driver(Protocol):
    name: str
    methods: ClassVar[dict[str, str]]

    def create(self, n: int, size: int) -> Sample: ...
    def delete(self, n: int, size: int) -> Sample: ...
    def get(self, n: int, size: int) -> Sample: ...


@dataclass
class Layout:
    """Where everything lives inside the scratch directory."""

    scratch: Scratch
    data: Path = field(init=False)
    work: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data = self.scratch.path / "data"
        self.work = self.scratch.path / "work"
        self.work.mkdir()

    def fresh_data(self) -> None:
        """An empty data directory, new for every create, so no tool inherits a grown one."""
        self.scratch.wipe(self.data)
        self.data.mkdir()

    def census(self) -> tuple[int, int]:
        """(files, bytes) now in the data directory."""
        if not self.data.exists():
            return 0, 0
        sizes = [e.stat().st_size for e in os.scandir(self.data) if e.is_file()]
        return len(sizes), sum(sizes)


def child(cmd: list[str], cwd: Path | None = None) -> ChildRun:
    """run_child, with a missing or unrunnable program reported as a DriverError."""
    try:
        return run_child(cmd, cwd=cwd)
    except OSError as e:
        raise DriverError(f"cannot run {cmd[0]}: {e}") from e


# --- sai3bench: the CLI, one subprocess per stage -------------------------------------------


class Sai3Driver:
    name = "sai3bench"
    methods: ClassVar[dict[str, str]] = {
        "create": "run --prepare-only; rate = metadata stages.prepare.ops_per_sec",
        "delete": "run --cleanup-only; rate = stages.cleanup.ops_per_sec",
        "get": "run --skip-prepare --no-cleanup, op get data/*; rate = stages.workload",
    }

    def __init__(self, layout: Layout, cmd: list[str]) -> None:
        self.layout, self.cmd, self.seq = layout, cmd, 0

    def _config(self, n: int, size: int) -> Path:
        root = self.layout.scratch.path
        obj = {"base_uri": f"file://{root}/data/", "count": n}
        obj |= {"min_size": size, "max_size": size, "fill": "random"}
        cfg = {
            "duration": f"{GET_SECONDS}s",
            "concurrency": CONCURRENCY,
            "target": f"file://{root}/",
            "prepare": {"ensure_objects": [obj], "cleanup": True},
            "workload": [{"op": "get", "path": "data/*", "weight": 100}],
        }
        path = self.layout.work / f"sai3-{n}-{size}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    def _run(self, n: int, size: int, stage: str, flags: list[str]) -> tuple[dict[str, Any], float]:
        self.seq += 1
        name, results = f"bf{self.seq}-{stage}", self.layout.work / "results"
        cfg = ["run", "--config", str(self._config(n, size)), "--results-dir", str(results)]
        run = child([*self.cmd, *cfg, "--tsv-name", name, *flags], cwd=REPO)
        if run.returncode != 0:
            raise DriverError(f"sai3bench exit {run.returncode}:\n{run.tail()}")
        dirs = sorted(results.glob(f"sai3-*-{name}"))
        if len(dirs) != 1:
            raise DriverError(f"expected one results dir sai3-*-{name}, found {len(dirs)}")
        stages = json.loads((dirs[0] / "metadata.json").read_text())["stages"]
        self.layout.scratch.wipe(dirs[0])
        if stage not in stages:
            raise DriverError(f"metadata.json has no stages.{stage}: {sorted(stages)}")
        return stages[stage], run.cpu_s

    def create(self, n: int, size: int) -> Sample:
        st, cpu = self._run(n, size, "prepare", ["--prepare-only"])
        if st["objects_existed"] or st["objects_created"] != n:
            raise DriverError(f"stages.prepare says {st}, expected {n} created, 0 existed")
        return Sample(st["objects_created"], st["wall_seconds"], st["ops_per_sec"], cpu)

    def delete(self, n: int, size: int) -> Sample:
        st, cpu = self._run(n, size, "cleanup", ["--cleanup-only"])
        if st["objects_deleted"] != n:
            raise DriverError(f"stages.cleanup says {st}, expected {n} deleted")
        return Sample(st["objects_deleted"], st["wall_seconds"], st["ops_per_sec"], cpu)

    def get(self, n: int, size: int) -> Sample:
        st, cpu = self._run(n, size, "workload", ["--skip-prepare", "--no-cleanup"])
        if st["ops"] <= 0:
            raise DriverError(f"stages.workload says {st}: no GET done")
        return Sample(st["ops"], st["wall_seconds"], st["ops_per_sec"], cpu)


# --- fio: one job file per run; files named $jobname.$jobnum.$filenum ------------------------

FIO_MODES = {
    "create": ["ioengine=psync", "rw=write", "create_on_open=1", "fallocate=none"],
    "delete": ["ioengine=filedelete", "rw=read"],
    "get": ["ioengine=psync", "rw=read", "invalidate=0", "time_based=1", f"runtime={GET_SECONDS}"],
}


def fio_jobfile(data: Path, n: int, size: int, mode: str) -> str:
    """The job file text: one pass over n files of `size` bytes, one I/O of `size` per file.

    openfiles=1 with file_service_type=sequential makes each I/O an open + write/read + close
    (checked with strace -c), which is what an object PUT/GET on file:// is.
    """
    common = [f"directory={data}", "filename_format=$jobname.$jobnum.$filenum", "thread=1"]
    common += [f"bs={size}", f"filesize={size}", "openfiles=1", "file_service_type=sequential"]
    lines = ["[global]", *common, *FIO_MODES[mode]]
    for name, numjobs, nrfiles in fio_sections(n, CONCURRENCY):
        lines += [f"[{name}]", f"numjobs={numjobs}", f"nrfiles={nrfiles}"]
    return "\n".join(lines) + "\n"


class FioDriver:
    name = "fio"
    methods: ClassVar[dict[str, str]] = {
        "create": "psync write, create_on_open, 32 threads x (nrfiles, 1 I/O of S per file)",
        "delete": "ioengine=filedelete (unlink per file), 32 threads",
        "get": "psync read, time_based 5 s, open+read(S)+close per I/O, invalidate=0, 32 thr.",
    }

    def __init__(self, layout: Layout, binary: str = "fio") -> None:
        self.layout, self.binary = layout, binary

    def _run(self, n: int, size: int, mode: str) -> tuple[dict[str, Any], Path, float]:
        work = self.layout.work
        job, out, lat = work / f"{mode}.fio", work / "fio.json", work / "lat"
        job.write_text(fio_jobfile(self.layout.data, n, size, mode))
        cmd = [self.binary, "--output-format=json", f"--output={out}", str(job)]
        if mode != "get":  # per-I/O log for the window; 5 s of GETs would log ~100k lines
            cmd += [f"--write_lat_log={lat}", "--log_unix_epoch=1", "--per_job_logs=0"]
        run = child(cmd)
        if run.returncode != 0:
            raise DriverError(f"fio exit {run.returncode}:\n{run.tail()}")
        return json.loads(out.read_text()), work / "lat_clat.log", run.cpu_s

    def _timed(self, n: int, size: int, mode: str, ddir: str) -> Sample:
        res, log, cpu = self._run(n, size, mode)
        ops = sum(j[ddir]["total_ios"] for j in res["jobs"])
        if ops != n:
            raise DriverError(f"fio {mode} did {ops} I/Os, expected {n}")
        secs = fio_window(log)
        self.layout.scratch.wipe(log)
        return Sample(ops, secs, ops / secs, cpu)

    def create(self, n: int, size: int) -> Sample:
        return self._timed(n, size, "create", "write")

    def delete(self, n: int, size: int) -> Sample:
        return self._timed(n, size, "delete", "read")

    def get(self, n: int, size: int) -> Sample:
        res, _, cpu = self._run(n, size, "get")
        ops = sum(j["read"]["total_ios"] for j in res["jobs"])
        secs = max(j["read"]["runtime"] for j in res["jobs"]) / 1e3
        return Sample(ops, secs, sum(j["read"]["iops"] for j in res["jobs"]), cpu)


# --- s3dlio: in process; CPU is this process's RUSAGE_SELF delta -----------------------------


class S3dlioDriver:
    name = "s3dlio"
    methods: ClassVar[dict[str, str]] = {
        "create": "put(prefix, n, size=S, max_in_flight=32, object_type='random')",
        "delete": "delete(prefix, recursive=True): lists, then its own concurrency (not settable)",
        "get": "get_many(1024 URIs, max_in_flight=32) in a loop for 5 s (get_many_stats: s3 only)",
    }
    BATCH = 1024

    def __init__(self, layout: Layout) -> None:
        import s3dlio

        self.s3, self.layout = s3dlio, layout
        self.prefix = f"file://{layout.data}/"

    def _timed(self, fn: Callable[[], int]) -> Sample:
        cpu0, t0 = cpu_self(), time.perf_counter()
        ops = fn()
        secs, cpu = time.perf_counter() - t0, cpu_self() - cpu0
        return Sample(ops, secs, ops / secs, cpu)

    def create(self, n: int, size: int) -> Sample:
        def put() -> int:
            self.s3.put(
                self.prefix, n, template="obj-{}.dat", max_in_flight=CONCURRENCY,
                size=size, object_type="random",
            )  # fmt: skip
            return n

        return self._timed(put)

    def delete(self, n: int, size: int) -> Sample:
        def rm() -> int:
            self.s3.delete(self.prefix, recursive=True)
            return n

        return self._timed(rm)

    def get(self, n: int, size: int) -> Sample:
        uris = sorted(self.prefix + e.name for e in os.scandir(self.layout.data))
        batches = [uris[i : i + self.BATCH] for i in range(0, len(uris), self.BATCH)]
        first = self.s3.get_many(batches[0][:4], max_in_flight=CONCURRENCY)
        if any(len(body) != size for _, body in first):
            raise DriverError("s3dlio get_many returned objects of the wrong size")

        def loop() -> int:
            ops, i, deadline = 0, 0, time.perf_counter() + GET_SECONDS
            while time.perf_counter() < deadline:
                ops += len(self.s3.get_many(batches[i % len(batches)], max_in_flight=CONCURRENCY))
                i += 1
            return ops

        return self._timed(loop)


# --- the runs -------------------------------------------------------------------------------


class Bench:
    """Runs scenarios over a set of drivers and keeps every sample.

    A driver that fails (non-zero exit, wrong object count) is dropped for the rest of the
    scenario and its samples there are discarded, so the per-repetition pairs that the
    ratios use always come from the same repetition.
    """

    def __init__(self, layout: Layout, drivers: list[Driver], reps: int) -> None:
        self.layout, self.drivers, self.reps = layout, drivers, reps
        self.samples: dict[tuple[str, str, str], list[Sample]] = {}
        self.base: dict[tuple[str, str, int], float] = {}
        self.failed: dict[tuple[str, str], str] = {}  # (scenario, tool) -> reason

    def cycle(self, d: Driver, n: int, size: int) -> tuple[Sample, Sample]:
        """Create n objects, check them, delete them, check none is left (both timed)."""
        self.layout.fresh_data()
        made = d.create(n, size)
        if (got := self.layout.census()) != (n, n * size):
            raise DriverError(f"after create: {got[0]} files, {got[1]} bytes; expected {n}")
        gone = d.delete(n, size)
        if left := self.layout.census()[0]:
            raise DriverError(f"{left} files left after delete")
        self.layout.scratch.wipe(self.layout.data)
        return made, gone

    def _fail(self, key: str, d: Driver, err: DriverError) -> None:
        self.failed[(key, d.name)] = " ".join(str(err).split())[:100]
        for op in ("create", "delete", "get"):
            self.samples.pop((key, op, d.name), None)
        print(f"  ! {d.name} failed in ({key}): {err}", flush=True)
        self.layout.scratch.wipe(self.layout.data)

    def _keep(self, key: str, op: str, d: Driver, s: Sample, tag: str) -> None:
        self.samples.setdefault((key, op, d.name), []).append(s)
        print(
            f"  [{tag}] {d.name:9} {op:6} {s.ops:>7,} in {s.seconds:7.3f} s "
            f"= {s.rate:>9,.0f}/s  client CPU {s.cpu_s:6.2f} s",
            flush=True,
        )

    def baselines(self, sizes: list[int]) -> None:
        """CPU of 32-object runs per (tool, op, size): the start-up cost to subtract."""
        acc: dict[tuple[str, str, int], list[float]] = {}
        for size in sizes:
            for rep in range(self.reps):
                for d in rotated(self.drivers, rep):
                    if ("base", d.name) in self.failed:
                        continue
                    try:
                        made, gone = self.cycle(d, BASE_COUNT, size)
                    except DriverError as e:
                        self._fail("base", d, e)
                        continue
                    acc.setdefault((d.name, "create", size), []).append(made.cpu_s)
                    acc.setdefault((d.name, "delete", size), []).append(gone.cpu_s)
        self.base = {k: median(v) for k, v in acc.items()}

    def run(self, sc: Scenario, prepare: Driver | None, reps: int) -> None:
        """All repetitions of one scenario, tools in rotated order each time."""
        if sc.kind == "get":
            self._lay_out(sc, prepare)
        for rep in range(reps):
            for d in rotated(self.drivers, rep):
                if (sc.key, d.name) in self.failed or ("base", d.name) in self.failed:
                    continue
                try:
                    self._one(sc, d, f"{sc.key} {rep + 1}/{reps}")
                except DriverError as e:
                    self._fail(sc.key, d, e)
                    if sc.kind == "get":
                        self._lay_out(sc, prepare)
        self.layout.scratch.wipe(self.layout.data)

    def _lay_out(self, sc: Scenario, prepare: Driver | None) -> None:
        """The GET data set, made outside the timing (by fio, so its read job finds it)."""
        if prepare is None:
            raise DriverError("the GET scenario needs fio to lay out the files")
        self.layout.fresh_data()
        prepare.create(sc.count, sc.size)
        if self.layout.census() != (sc.count, sc.count * sc.size):
            raise DriverError(f"laying out {sc.count} files for GET failed")

    def _one(self, sc: Scenario, d: Driver, tag: str) -> None:
        if sc.kind == "create-delete":
            made, gone = self.cycle(d, sc.count, sc.size)
            self._keep(sc.key, "create", d, made, tag)
            self._keep(sc.key, "delete", d, gone, tag)
            return
        s = d.get(sc.count, sc.size)
        if self.layout.census() != (sc.count, sc.count * sc.size):
            raise DriverError("the GET run changed the data set")
        self._keep(sc.key, "get", d, s, tag)


# --- the report -----------------------------------------------------------------------------


def cpu_us_per_obj(b: Bench, sc: Scenario, op: str, tool: str) -> float | None:
    """Median marginal client CPU per object, in microseconds (see the module docstring)."""
    xs = b.samples.get((sc.key, op, tool), [])
    base_key = (tool, "create", 100 * KiB) if op == "get" else (tool, op, sc.size)
    if not xs or base_key not in b.base:
        return None
    base = b.base[base_key]
    if op == "get":
        return median([(s.cpu_s - base) / s.ops * 1e6 for s in xs if s.ops])
    return median([(s.cpu_s - base) / (sc.count - BASE_COUNT) * 1e6 for s in xs])


def report(b: Bench, sc: Scenario) -> None:
    ops = ["create", "delete"] if sc.kind == "create-delete" else ["get"]
    rows = []
    for op in ops:
        ours = [s.rate for s in b.samples.get((sc.key, op, "sai3bench"), [])]
        for d in b.drivers:
            xs = [s.rate for s in b.samples.get((sc.key, op, d.name), [])]
            if not xs:
                why = b.failed.get((sc.key, d.name)) or b.failed.get(("base", d.name), "")
                rows.append([op, d.name, "not run", "", "", "", "", why])
                continue
            lo, hi = spread(xs)
            mib = "-" if op == "delete" else fmt_num(median(xs) * sc.size / MiB, 1)
            ratio = paired_ratio(ours, xs) if ours and d.name != "sai3bench" else None
            cpu = cpu_us_per_obj(b, sc, op, d.name)
            rows.append(
                [op, d.name, fmt_num(median(xs)), f"{lo:,.0f}-{hi:,.0f}", mib,
                 fmt_num(cpu, 1), fmt_num(ratio, 2), f"n={len(xs)}"]
            )  # fmt: skip
    print(f"\n{sc.title}")
    heads = ["op", "tool", "obj/s med", "min-max", "MiB/s", "CPU-us/obj", "sai3/peer", ""]
    print_table(heads, rows)


def print_methods(drivers: list[Driver]) -> None:
    print("\nwhat each tool does (32 in flight, one directory, files of exactly S bytes):")
    for d in drivers:
        for op, text in d.methods.items():
            print(f"  {d.name:9} {op:6} {text}")
    print(
        "  CPU-us/obj: marginal client CPU (user+sys, all threads) over a 32-object run;"
        " GET: (CPU - 32-object create CPU) / ops.\n"
        "  sai3/peer: median of per-repetition ratios of obj/s (runs of a repetition are"
        " back to back)."
    )


# --- setup ----------------------------------------------------------------------------------


def sai3_status(cmd: list[str]) -> str | None:
    """None if `cmd run --help` works, else the reason it does not."""
    run = run_child([*cmd, "run", "--help"], cwd=REPO, timeout=60)
    return None if run.returncode == 0 else (run.tail(1) or f"exit {run.returncode}")


def print_env(scratch: Path, fio: str, sai3_cmd: list[str], sai3_err: str | None) -> None:
    print("environment")
    for line in base_env_lines(scratch):
        print(f"  {line}")
    try:
        s3v = importlib.metadata.version("s3dlio")
    except importlib.metadata.PackageNotFoundError:
        s3v = "not installed"
    print(f"  fio             {version_of([fio, '--version'])} ({shutil.which(fio)})")
    print(f"  s3dlio          {s3v}")
    state = "works" if sai3_err is None else f"NOT AVAILABLE: {sai3_err}"
    print(f"  sai3bench       {shlex.join(sai3_cmd)} (CLI {state})")
    print(f"  concurrency     {CONCURRENCY} for every tool")


def scenarios(large: int) -> list[Scenario]:
    return [
        Scenario("a", 1000, 100 * KiB, "create-delete"),
        Scenario("b", 5000, 100 * KiB, "create-delete"),
        Scenario("c", large, MiB, "create-delete"),
        Scenario("d", 5000, 100 * KiB, "get"),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="/tmp", help="parent of the scratch dir (a real disk)")
    p.add_argument("--reps", type=int, help="repetitions per scenario (default 3, --quick 1)")
    p.add_argument("--quick", action="store_true", help="(c) with 5,000 objects, 1 repetition")
    p.add_argument("--large-count", type=int, help="objects in (c) (default 20,000)")
    p.add_argument("--large-reps", type=int, help="repetitions of (c) (default min(reps, 2))")
    p.add_argument("--scenarios", default="abcd", help="subset of abcd to run")
    p.add_argument("--tools", default=",".join(TOOLS), help="subset of " + ",".join(TOOLS))
    p.add_argument("--sai3-cmd", default=f"{shlex.quote(sys.executable)} -m sai3bench")
    p.add_argument("--fio", default="/usr/bin/fio")
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.large_count = args.large_count or (5000 if args.quick else 20000)
    # 20,000 x 1 MiB takes 30-60 s per tool and run here (20 GiB each, `discard` mount):
    # 3 reps of it alone would take ~7 of the ~8 minutes the default run may use.
    args.large_reps = args.large_reps or min(args.reps, 2)
    return args


def make_drivers(args: argparse.Namespace, layout: Layout, sai3_ok: bool) -> list[Driver]:
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    made: dict[str, Callable[[], Driver]] = {
        "sai3bench": lambda: Sai3Driver(layout, shlex.split(args.sai3_cmd)),
        "fio": lambda: FioDriver(layout, args.fio),
        "s3dlio": lambda: S3dlioDriver(layout),
    }
    return [made[t]() for t in TOOLS if t in wanted and (t != "sai3bench" or sai3_ok)]


def check_space(root: Path, scs: list[Scenario]) -> None:
    need = max(s.count * s.size for s in scs) * 1.2 + 256 * MiB
    free = shutil.disk_usage(root).free
    if free < need:
        sys.exit(f"error: {root} has {free / 2**30:.1f} GiB free, needs {need / 2**30:.1f} GiB")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scs = [s for s in scenarios(args.large_count) if s.key in args.scenarios]
    root, t0 = Path(args.root), time.perf_counter()
    check_space(root, scs)
    with Scratch(root, "bench_file-") as scratch:
        try:
            layout = Layout(scratch)
            sai3_err = sai3_status(shlex.split(args.sai3_cmd))
            print_env(scratch.path, args.fio, shlex.split(args.sai3_cmd), sai3_err)
            drivers = make_drivers(args, layout, sai3_err is None)
            print_methods(drivers)
            bench = Bench(layout, drivers, args.reps)
            print(f"\nstart-up baselines ({BASE_COUNT} objects, {args.reps} reps)", flush=True)
            bench.baselines(
                sorted({s.size for s in scs if s.kind == "create-delete"} | {100 * KiB})
            )
            fio = next((d for d in drivers if d.name == "fio"), None) or FioDriver(layout, args.fio)
            for sc in scs:
                reps = args.large_reps if sc.key == "c" else args.reps
                print(f"\n{sc.title}: {reps} reps, rotated", flush=True)
                try:
                    bench.run(sc, fio, reps)
                except DriverError as e:
                    print(f"  ! scenario ({sc.key}) skipped: {e}", flush=True)
                report(bench, sc)
        except KeyboardInterrupt:
            print(f"\ninterrupted: removing {scratch.path}", file=sys.stderr)
            return 130
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average now {load_avg()}")
    print(f"scratch {scratch.path} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
