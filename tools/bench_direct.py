"""direct:// benchmark: sai3bench's O_DIRECT backend against fio ``direct=1`` on the same disk,
with file:// (the page cache) beside it for context.

    python tools/bench_direct.py [--root /tmp] [--reps 3] [--threads 8] [--seconds 5]

Scenarios, each with the same thread count for both tools (default 8):
  r4k   GET of 4 KiB files, random file each op, over 4,096 prepared files (16 MiB)
  r1m   GET of 1 MiB files, random file each op, over 256 prepared files (256 MiB)
  w1m   create 2,048 files of 1 MiB (prepare; fio: create_on_open), a fresh directory each rep

The fair peer is fio ``ioengine=psync, direct=1, numjobs=N, thread=1``: one synchronous I/O
in flight per thread, exactly what a sai3bench worker thread does (libaio with an iodepth
would keep several I/Os per thread in flight, a different load). ``openfiles=1`` makes every
fio I/O an open + pread/pwrite + close of one file, as an object GET/PUT is; reads pick a
random file (``file_service_type=random``) over files fio laid out before its timing. fio
rates are total_ios / the longest job's runtime (fio's own clock); sai3bench's come from its
results (metadata.json stages.*.ops_per_sec). Both read files of the same count and size, each
tool its own copy (made outside the timing).

Client CPU per op: sai3bench's is marginal, (CPU of the run - CPU of a 1 s run) / (ops - ops
of that run), so interpreter start-up cancels (for w1m: a 16-file prepare is the baseline);
fio's is its whole process CPU / ops (its start-up is milliseconds). Medians of --reps runs;
the ratio is the median of per-repetition sai3bench/fio ratios (tools run back to back, order
rotated each repetition).

Also printed (in process): the per-op costs this backend adds, timed with timeit: the copy of
a DataSource body into the aligned buffer, one posix_fadvise, pread through ctypes vs preadv.

Owns: its scratch directory (a fresh directory under --root, removed at exit and on Ctrl-C).
Must never: delete anything outside that directory.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import sys
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import (
    MiB,
    Scratch,
    base_env_lines,
    fmt_num,
    median,
    paired_ratio,
    print_table,
    rotated,
    run_child,
    version_of,
)

REPO = Path(__file__).resolve().parent.parent
KiB = 1024


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    size: int
    files: int
    kind: str  # "read" or "write"


SCENARIOS = (
    Scenario("r4k", 4 * KiB, 4096, "read"),
    Scenario("r1m", MiB, 256, "read"),
    Scenario("w1m", MiB, 2048, "write"),
)


@dataclass(frozen=True, slots=True)
class Sample:
    ops: int
    rate: float  # ops/s
    cpu_us: float | None  # client CPU per op


class Bench:
    def __init__(self, scratch: Scratch, threads: int, seconds: float) -> None:
        self.scratch, self.threads, self.seconds = scratch, threads, seconds
        self.work = scratch.path / "work"
        self.work.mkdir()
        self.seq = 0

    # -- sai3bench ---------------------------------------------------------------------------

    def _sai3(
        self, cfg: dict[str, Any], stage: str, flags: list[str]
    ) -> tuple[dict[str, Any], float]:
        self.seq += 1
        name, results = f"bd{self.seq}", self.work / "results"
        path = self.work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        cmd = [sys.executable, "-m", "sai3bench", "run", "--config", str(path), "-q"]
        run = run_child([*cmd, "--results-dir", str(results), "--tsv-name", name, *flags], cwd=REPO)
        if run.returncode != 0:
            raise RuntimeError(f"sai3bench exit {run.returncode}:\n{run.tail()}")
        (out,) = results.glob(f"sai3-*-{name}")
        stages = json.loads((out / "metadata.json").read_text())["stages"]
        self.scratch.wipe(out)
        return stages[stage], run.cpu_s

    def _sai3_cfg(
        self, scheme: str, data: Path, sc: Scenario, count: int, secs: float
    ) -> dict[str, Any]:
        obj = {"base_uri": f"{scheme}://{data}/", "count": count, "min_size": sc.size}
        obj["max_size"] = sc.size
        return {
            "duration": f"{secs}s",
            "concurrency": self.threads,
            "processes": 1,
            "prepare": {"ensure_objects": [obj]},
            "workload": [{"op": "get", "path": f"{scheme}://{data}/prepared-*", "weight": 1}],
        }

    def sai3(self, scheme: str, sc: Scenario) -> Sample:
        data = self.scratch.path / f"{scheme}-{sc.key}"
        if sc.kind == "write":
            self.scratch.wipe(data)
            base, base_cpu = self._sai3(
                self._sai3_cfg(scheme, data, sc, 16, 1), "prepare", ["--prepare-only"]
            )
            self.scratch.wipe(data)
            st, cpu = self._sai3(
                self._sai3_cfg(scheme, data, sc, sc.files, 1), "prepare", ["--prepare-only"]
            )
            self.scratch.wipe(data)
            ops, base_ops = st["objects_created"], base["objects_created"]
            return Sample(ops, st["ops_per_sec"], _marginal(cpu, ops, base_cpu, base_ops))
        flags = ["--skip-prepare", "--no-cleanup"]
        if not data.exists():  # the read set, made once outside the timing
            self._sai3(self._sai3_cfg(scheme, data, sc, sc.files, 1), "prepare", ["--prepare-only"])
        base, base_cpu = self._sai3(
            self._sai3_cfg(scheme, data, sc, sc.files, 1), "workload", flags
        )
        st, cpu = self._sai3(
            self._sai3_cfg(scheme, data, sc, sc.files, self.seconds), "workload", flags
        )
        return Sample(
            st["ops"], st["ops_per_sec"], _marginal(cpu, st["ops"], base_cpu, base["ops"])
        )

    # -- fio -----------------------------------------------------------------------------------

    def fio(self, sc: Scenario) -> Sample:
        data = self.scratch.path / f"fio-{sc.key}"
        per_job = -(-sc.files // self.threads)
        lines = [
            "[global]",
            f"directory={data}",
            "thread=1",
            "ioengine=psync",
            "direct=1",
            f"bs={sc.size}",
            f"filesize={sc.size}",
            "openfiles=1",
            f"numjobs={self.threads}",
            f"nrfiles={per_job}",
        ]
        if sc.kind == "read":
            lines += ["rw=read", "file_service_type=random", "time_based=1"]
            lines += [f"runtime={self.seconds}", "[r]"]
        else:
            self.scratch.wipe(data)
            lines += [
                "rw=write",
                "create_on_open=1",
                "fallocate=none",
                "file_service_type=sequential",
            ]
            lines += ["[w]"]
        data.mkdir(exist_ok=True)
        job, out = self.work / f"{sc.key}.fio", self.work / "fio.json"
        job.write_text("\n".join(lines) + "\n")
        run = run_child(["fio", "--output-format=json", f"--output={out}", str(job)])
        if run.returncode != 0:
            raise RuntimeError(f"fio exit {run.returncode}:\n{run.tail()}")
        jobs = json.loads(out.read_text())["jobs"]
        ddir = "read" if sc.kind == "read" else "write"
        ops = sum(j[ddir]["total_ios"] for j in jobs)
        secs = max(j[ddir]["runtime"] for j in jobs) / 1e3
        if sc.kind == "write":
            self.scratch.wipe(data)
        return Sample(ops, ops / secs, run.cpu_s / ops * 1e6)


def _marginal(cpu: float, ops: int, base_cpu: float, base_ops: int) -> float | None:
    return (cpu - base_cpu) / (ops - base_ops) * 1e6 if ops > base_ops else None


# -- micro costs (in process) ------------------------------------------------------------------


def micro(scratch: Path) -> list[list[str]]:
    """Per-op costs the direct:// path adds, in microseconds (min of 7 timeit repeats)."""
    from sai3bench.backends.aligned import AlignedBuffers, pread_into
    from sai3bench.datagen.buffers import DataSource

    buf = AlignedBuffers()
    source = DataSource("random", seed=1)
    rows = []
    for size in (4 * KiB, MiB):
        body = source.payload(size, 1, bytearray(size))

        def copy(body: memoryview = body, size: int = size) -> None:  # type: ignore[assignment]
            buf.view[:size] = body

        rows.append([f"copy body -> aligned buffer, {size // KiB} KiB", _us(copy)])
    path = scratch / "micro.dat"
    path.write_bytes(os.urandom(4 * KiB))
    fd = os.open(path, os.O_RDONLY)
    try:
        rows.append(["posix_fadvise(fd, 0, 0, RANDOM)", _us(lambda: os.posix_fadvise(fd, 0, 0, 1))])
        views = [memoryview(mmap.mmap(-1, 4 * KiB))]
        rows.append(["os.preadv 4 KiB (page cache)", _us(lambda: os.preadv(fd, views, 0))])
        rows.append(
            [
                "pread via ctypes 4 KiB (page cache)",
                _us(lambda: pread_into(fd, buf.addr, 4 * KiB, 0)),
            ]
        )
    finally:
        os.close(fd)
    return rows


def _us(fn: Any) -> str:
    n = 2000
    return f"{min(timeit.repeat(fn, number=n, repeat=7)) / n * 1e6:.2f}"


# -- main ----------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("/tmp"))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    with Scratch(args.root, "bench-direct-") as scratch:
        bench = Bench(scratch, args.threads, args.seconds)
        print("\n".join(base_env_lines(scratch.path)))
        print(f"fio             {version_of(['fio', '--version'])}")
        print(f"threads         {args.threads} (fio: psync, direct=1, numjobs={args.threads})\n")
        results: dict[tuple[str, str], list[Sample]] = {}
        for rep in range(args.reps):
            for sc in SCENARIOS:
                runs = {
                    "direct": lambda sc=sc: bench.sai3("direct", sc),
                    "fio": lambda sc=sc: bench.fio(sc),
                }
                runs["file"] = lambda sc=sc: bench.sai3("file", sc)
                for tool in rotated(list(runs), rep):
                    results.setdefault((sc.key, tool), []).append(runs[tool]())
        _report(results, args.reps)
        print("\nPer-op costs of the direct:// path (us, in process):")
        print_table(["what", "us"], micro(scratch.path), left=1)
    return 0


def _report(results: dict[tuple[str, str], list[Sample]], reps: int) -> None:
    rows = []
    for sc in SCENARIOS:
        fio = results[(sc.key, "fio")]
        for tool in ("direct", "fio", "file"):
            samples = results[(sc.key, tool)]
            rate = median([s.rate for s in samples])
            cpus = [s.cpu_us for s in samples if s.cpu_us is not None]
            ratio = paired_ratio([s.rate for s in samples], [s.rate for s in fio])
            label = {
                "direct": "sai3bench direct://",
                "fio": "fio direct=1",
                "file": "sai3bench file://",
            }
            rows.append(
                [
                    sc.key,
                    label[tool],
                    fmt_num(rate),
                    fmt_num(rate * sc.size / MiB, 1),
                    "-" if tool == "fio" else f"{ratio:.2f}" if ratio else "-",
                    fmt_num(median(cpus), 1) if cpus else "-",
                ]
            )
    print(f"Medians of {reps} runs; ratio = median of per-rep (tool / fio direct=1) ops/s:")
    print_table(["scen", "tool", "ops/s", "MiB/s", "x fio", "CPU us/op"], rows)


if __name__ == "__main__":
    raise SystemExit(main())
