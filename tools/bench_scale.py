"""Scale-out benchmark: sai3bench at 1 and 2 engine processes (`--processes`) on this host.

    python tools/bench_scale.py [--reps 3] [--duration 5] [--sections cpu,latency,file,default,dask]

Sections (each repetition runs its variants back to back in a rotated order; tables show
medians, min-max over repetitions, and ratios as medians of per-repetition ratios):
  cpu      client CPU per op, 1 KiB GET at 32 in flight, --processes 1 vs 2, against a private
           nginx on tmpfs and against the bundled mock server (--sink). Target: CPU per op at 2
           processes within 10 % of 1 process (no coordination cost per op). Controls: 1
           process at half the load, and two independent 1-process runs at once (what two
           busy processes cost each other on this box, with no coordinator).
  latency  ops/s at --processes 1 vs 2 against the mock with --latency 2ms at 256 in flight,
           where one process is client-bound. Target: >= 1.6x.
  file     file:// 100 KiB page-cached GET (5 s over 5,000 files) and create + delete of 10,000
           files: processes auto vs 1 vs fio (tools/bench_file.py's drivers). Target: GET >= 0.6x
           fio.
  default  which `processes` default serves users best: the bare `sai3bench run` quickstart
           (S3 on the embedded mock, 10 s) and configs/quickstart.yaml on file://, 1 vs auto.
  dask     2 Dask workers (--cluster, 1 process each) vs the same 2 processes run locally;
           runs only if sai3bench.scale.cluster and `distributed` are importable.
Start spread (last minus first process's first op, from metadata.json's per-process sections)
is gathered from every multi-process run. Target: <= 5 ms locally, <= 20 ms over Dask.

Client CPU is the whole run's process tree (coordinator and engine children: RUSAGE_CHILDREN
of the sai3bench command), marginal over a 0.2 s run of the same command, so interpreter
start-up and the share hand-out cancel: (CPU - CPU_0.2s) / (ops - ops_0.2s). Server CPU is the
server's own (nginx master and workers, or the mock) from /proc over the same runs. "cores"
columns are CPU seconds per wall second in the steady state: client + server near 2.0 means
this 2-core box is saturated, and no process count can go faster. "start-up s" is the wall
time of the 0.2 s run beyond 0.2 s: interpreter start, share hand-out, child spawn, merge.

Owns: its scratch directories (under /dev/shm and --root), the nginx, mock and Dask processes
it starts (stopped by PID at exit, also on Ctrl-C). Must never: send traffic anywhere but
127.0.0.1, or delete anything outside its scratch directories.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchdialects import mock_process, prepare_objects
from _benchscale import (
    REPO,
    SPREADS,
    SUMMARY,
    Sample,
    Samples,
    ScaleRunner,
    measure,
    note_spread,
    ok_samples,
    print_samples,
    ratio,
    verdict,
)
from _benchutil import Scratch, base_env_lines, fmt_num, load_avg, median, print_table
from bench_http import CONC, CREDS, LOADS, Nginx, free_port, sai_config
from bench_http import prepare as prepare_nginx

from sai3bench.plan.cores import usable_cores

GET_1K = LOADS[0]  # 1 KiB GET over 1,000 prepared objects
LAT_CONC = 256
SECTIONS = ("cpu", "latency", "file", "default", "dask")


# --- sections -----------------------------------------------------------------------------


def cpu_section(reps: int, seconds: float, shm: Scratch, work: Path) -> None:
    """Client CPU per op at 1 and 2 processes, nginx and mock, 1 KiB GET at 32 in flight."""
    print("\n== cpu: client CPU per op, 1 KiB GET, 32 in flight, --processes 1 vs 2", flush=True)
    nginx = Nginx(shm.path / "srv")
    os.chmod(shm.path, 0o755)  # nginx workers run as nobody and must traverse it
    prepare_nginx(nginx.root)
    try:
        nginx.start()
        assert nginx.proc is not None
        env = {**CREDS, "AWS_ENDPOINT_URL": nginx.url}
        cpu_target("nginx", ScaleRunner(work / "nginx", env, nginx.proc.pid), reps, seconds)
    finally:
        nginx.stop()
    with mock_process(REPO) as (url, pid):
        env = {**CREDS, "AWS_ENDPOINT_URL": url}
        prepare_objects(REPO, work, "s3://bucket/bench/", env, GET_1K.prefix, GET_1K.size, 1000)
        cpu_target("mock --sink", ScaleRunner(work / "mock", env, pid), reps, seconds)


def cpu_target(server: str, runner: ScaleRunner, reps: int, seconds: float) -> None:
    res = compare(runner, CONC, reps, seconds, server)
    print_samples(f"{server}: 1 KiB GET, {CONC} in flight", res)
    verdicts(res, CONC, ops_target=0, where=f"{server}, c={CONC}")


def latency_section(reps: int, seconds: float, work: Path) -> None:
    """Ops/s at 1 vs 2 processes when the server answers after 2 ms, 256 in flight."""
    print(f"\n== latency: mock --latency 2ms, 1 KiB GET, {LAT_CONC} in flight", flush=True)
    with mock_process(REPO, "--latency", "2ms") as (url, pid):
        env = {**CREDS, "AWS_ENDPOINT_URL": url}
        prepare_objects(REPO, work, "s3://bucket/bench/", env, GET_1K.prefix, GET_1K.size, 1000)
        res = compare(ScaleRunner(work / "latency", env, pid), LAT_CONC, reps, seconds, "mock 2ms")
    ceiling = LAT_CONC / 0.002
    print_samples(f"mock --latency 2ms: 1 KiB GET, {LAT_CONC} in flight "
                  f"(Little's law ceiling {ceiling:,.0f} ops/s)", res)  # fmt: skip
    verdicts(res, LAT_CONC, ops_target=1.6, where=f"mock 2ms, c={LAT_CONC}")


def compare(runner: ScaleRunner, conc: int, reps: int, seconds: float, tag: str) -> Samples:
    """--processes 1 and 2 at `conc` in flight, and two controls: 1 process at conc/2 (the load
    each of the two carries: smaller event-loop batches) and two independent 1-process runs at
    conc/2 at once (the same two loads with no coordinator: what two busy processes cost on
    this box, from shared cores, caches and the scheduler). 2 proc vs the latter is the cost
    of the multi-process path itself."""

    def cfg(c: int) -> Callable[[float], dict[str, Any]]:
        return lambda s: sai_config(GET_1K, s, c)

    half, pair = f"1 proc, c={conc // 2}", f"2 x 1 proc, c={conc // 2} each"
    variants: dict[str, Callable[[], Sample]] = {
        "1 proc": lambda: runner.sample(cfg(conc), seconds, "1"),
        "2 proc": lambda: runner.sample(cfg(conc), seconds, "2"),
        half: lambda: runner.sample(cfg(conc // 2), seconds, "1"),
        pair: lambda: runner.sample(cfg(conc // 2), seconds, "1", copies=2),
    }
    res = measure(variants, reps, tag)
    for x in ok_samples(res["2 proc"]):
        note_spread(f"{tag}, c={conc}", x.spread_ms)
    return res


def verdicts(res: Samples, conc: int, ops_target: float, where: str) -> None:
    """The target lines, and the most this box could give for this load at 2 processes."""
    r = ratio(res, "2 proc", "1 proc", "cpu_us")
    print(verdict("client CPU per op, 2 proc / 1 proc", r, at_most=1.1, where=where))
    r = ratio(res, "2 proc", f"1 proc, c={conc // 2}", "cpu_us")
    print(verdict(f"client CPU per op, 2 proc / 1 proc at c={conc // 2} (same load each)", r))
    r = ratio(res, "2 proc", f"2 x 1 proc, c={conc // 2} each", "cpu_us")
    what = "client CPU per op, 2 proc / 2 independent 1-proc runs at once"
    print(verdict(what, r, at_most=1.1, where=where))
    r = ratio(res, "2 proc", "1 proc", "ops_s")
    print(verdict("ops/s, 2 proc / 1 proc", r, at_least=ops_target, where=where))
    two, one = ok_samples(res["2 proc"]), ok_samples(res["1 proc"])
    if two and one:
        us = median([x.cpu_us or 0.0 for x in two]) + median([x.server_us for x in two])
        cap = usable_cores() / us * 1e6
        best = cap / median([x.ops_s for x in one])
        print(
            f"  this box's ceiling: {usable_cores()} cores / ({us:.1f} us client + server per op)"
            f" = {cap:,.0f} ops/s, {best:.2f}x the 1-proc rate (if nothing else ran)"
        )


def print_spreads() -> None:
    print("\n== start spread: last minus first process's first op (metadata.json)")
    rows = []
    for source, xs in SPREADS.items():
        rows.append([source, str(len(xs)), fmt_num(median(xs), 2), fmt_num(max(xs), 2)])
    if not rows:
        print("  no multi-process run reported per-process first ops")
        return
    print_table(["runs", "n", "median ms", "max ms"], rows, left=1)
    for where, limit in (("local", 5), ("dask", 20)):
        xs = [x for s, v in SPREADS.items() if ("dask" in s) == (where == "dask") for x in v]
        if xs:
            print(
                verdict(
                    f"worst start spread, ms (n={len(xs)})", max(xs), at_most=limit, where=where
                )
            )


LIMITS = """
What a 2-core box can and cannot show:
- can: whether the multi-process path costs CPU per op. "2 proc / 1 proc" also holds what two
  busy processes cost each other on 2 cores shared with the server (cache, scheduler): the
  control "2 x 1 proc" carries that same cost with no coordinator, so "2 proc / 2 independent
  1-proc runs at once" near 1.0 means no per-op coordination cost. Also: start spread,
  start-up seconds, file:// against fio, split and merge on real runs.
- cannot: throughput scaling. Client and server share the same 2 cores ("client cores" +
  "server cores" near 2.0, less what other work takes, is saturation): a second client
  process takes CPU from the server. "this box's ceiling" is 2 cores over client + server
  CPU per op; where it is below 1.6x the 1-proc rate, the 1.6x target cannot be shown here.
  With the server elsewhere and N cores, expect ops/s = N x one process's ops/s at one core,
  bounded by the NIC and the server, as long as CPU per op stays flat (the cpu rows).
"""


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with Scratch(Path("/dev/shm"), "sai3-bench-scale-") as shm:
        work = shm.path / "work"
        work.mkdir()
        print("\n".join(base_env_lines(Path(a.root))))
        print(f"sai3bench       processes auto = {usable_cores()} here")
        print(f"runs            {a.reps} reps x {a.duration:g} s, rotated; {','.join(a.sections)}")
        try:
            run_sections(a, shm, work)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
    print_spreads()
    if SUMMARY:
        print("\n== summary: every target checked (medians of per-repetition ratios)")
        print_table(["where", "figure", "value", "target", ""], SUMMARY)
    print(LIMITS)
    print(f"load average at the end: {load_avg()}")
    return 0


def run_sections(a: argparse.Namespace, shm: Scratch, work: Path) -> None:
    from _benchscale_file import default_section, file_section

    if "cpu" in a.sections:
        cpu_section(a.reps, a.duration, shm, work)
    if "latency" in a.sections:
        latency_section(a.reps, a.duration, work)
    if "file" in a.sections:
        file_section(a.reps, Path(a.root), a.cycle_files)
    if "default" in a.sections:
        default_section(a.reps, Path(a.root), work)
    if "dask" in a.sections:
        dask_section(a.reps, a.duration, work)


def dask_section(reps: int, seconds: float, work: Path) -> None:
    """2 Dask workers (1 engine process each) vs --processes 2 on this host, same mock load."""
    print("\n== dask: --cluster with 2 workers x 1 process vs --processes 2 locally", flush=True)
    missing = [m for m in ("distributed", "sai3bench.scale.cluster") if not find_spec(m)]
    if missing:
        print(f"  skipped: {', '.join(missing)} not importable (no --cluster to measure)")
        return
    with mock_process(REPO) as (url, pid):
        env = {**CREDS, "AWS_ENDPOINT_URL": url}
        prepare_objects(REPO, work, "s3://bucket/bench/", env, GET_1K.prefix, GET_1K.size, 1000)
        with dask_cluster(work / "dask", env, workers=2) as address:
            runner = ScaleRunner(work / "dask-runs", env, pid)

            def cfg(s: float) -> dict[str, Any]:
                return sai_config(GET_1K, s, CONC)

            variants = {
                "local 2 proc": lambda: runner.sample(cfg, seconds, "2"),
                "dask 2 x 1": lambda: runner.sample(cfg, seconds, "1", "--cluster", address),
            }
            res = measure(variants, reps, "dask")
    for x in ok_samples(res["dask 2 x 1"]):
        note_spread("dask on loopback, c=32", x.spread_ms)
    # the engines run under the workers, so this command's CPU is the coordinator's alone
    res["dask 2 x 1"] = [x if isinstance(x, str) else replace(x, cpu_us=None, client_cores=None)
                         for x in res["dask 2 x 1"]]  # fmt: skip
    print_samples("mock --sink: 1 KiB GET, 32 in flight (dask: no client CPU figure)", res)
    r = ratio(res, "dask 2 x 1", "local 2 proc", "ops_s")
    print(verdict("ops/s, dask / local", r, at_least=0.95, where="dask, c=32"))


@contextlib.contextmanager
def dask_cluster(logs: Path, env: dict[str, str], workers: int) -> Iterator[str]:
    """`dask scheduler` and `workers` x `dask worker --nworkers 1 --nthreads 1` on 127.0.0.1,
    each in its own session with `env` added; yields the scheduler address. Workers are
    stopped before the scheduler, each by its PID."""
    from distributed import Client

    logs.mkdir(parents=True, exist_ok=True)
    address = f"tcp://127.0.0.1:{free_port()}"
    common = ["--no-dashboard"]
    procs = [spawn(["dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                    *common], logs / "scheduler.log", env)]  # fmt: skip
    try:
        for k in range(workers):
            cmd = ["dask", "worker", address, "--nworkers", "1", "--nthreads", "1", *common]
            procs.append(spawn([*cmd, "--name", f"w{k}"], logs / f"worker{k}.log", env))
        with Client(address, timeout=30) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def spawn(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "wb") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO,
                                env={**os.environ, **env}, start_new_session=True)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--duration", type=float, default=5.0, help="s per measured run (default 5)")
    ap.add_argument("--root", default="/tmp", help="parent of the file:// scratch dir")
    ap.add_argument("--cycle-files", type=int, default=10_000, help="file:// create+delete count")
    ap.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma list of " + ", ".join(SECTIONS)
    )
    a = ap.parse_args(argv)
    a.sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    if unknown := set(a.sections) - set(SECTIONS):
        ap.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {SECTIONS}")
    return a


if __name__ == "__main__":
    sys.exit(main())
