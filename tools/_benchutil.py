"""Helpers shared by the tools/bench_*.py harnesses.

Owns: small statistics (median, spread, paired ratios), CPU-time measurement of the harness
itself, of child processes, of a running server (by PID) and of the whole machine, a scratch
directory that is removed on exit (also on Ctrl-C and SIGTERM), file-system facts for the
environment header, and plain-text tables.

Must never: delete anything outside the scratch directory it created, or print anything
but what its caller asks for.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

MiB = 1024 * 1024
T = TypeVar("T")


# --- statistics ---------------------------------------------------------------------------


def median(xs: Sequence[float]) -> float:
    """Median of a non-empty sequence (the mean of the middle two for an even count)."""
    return float(statistics.median(xs))


def spread(xs: Sequence[float]) -> tuple[float, float]:
    """(min, max) of a non-empty sequence."""
    return float(min(xs)), float(max(xs))


def rotated(items: Sequence[T], rep: int) -> list[T]:
    """`items` rotated left by `rep`: rep 0 -> a b c, rep 1 -> b c a, rep 2 -> c a b.

    Why: on this VM, file creation speed drifts 3-5x for minutes after mass deletes (the inode
    allocator skips recently freed inodes), so a fixed order would bias whichever method
    always runs first. Rotating spreads the drift over every method.
    """
    k = rep % len(items) if items else 0
    return list(items[k:]) + list(items[:k])


def paired_ratio(ours: Sequence[float], theirs: Sequence[float]) -> float | None:
    """Median over repetitions of ours[i] / theirs[i] (runs of one repetition are adjacent
    in time, so their ratio cancels most of the drift that the absolute numbers carry)."""
    pairs = [a / b for a, b in zip(ours, theirs, strict=False) if b > 0]
    return median(pairs) if pairs else None


# --- CPU time -------------------------------------------------------------------------------


def cpu_self() -> float:
    """User + system CPU seconds of this process so far, all threads included."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> float:
    """User + system CPU seconds of all waited-for children (and their waited-for children)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


TICK = os.sysconf("SC_CLK_TCK")


def box_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat's first line; busy is all
    but idle and iowait (steal counts: the hypervisor took it from us)."""
    with open("/proc/stat", encoding="ascii") as f:
        t = [int(x) for x in f.readline().split()[1:9]]  # user .. steal (guest is in user)
    return sum(t) - t[3] - t[4], sum(t)


#: Reads a server's CPU seconds so far (e.g. tree_cpu of its PID); None: no server is measured
ServerCpu = Callable[[], float] | None


@dataclass(frozen=True, slots=True)
class Metered:
    """What a server and the whole machine spent while one client ran."""

    server_s: float | None  # server CPU seconds; None without a server to read
    box_busy: float  # busy share of all CPUs, whoever used them

    def per_op(self, ops: float) -> float | None:
        """Server CPU seconds per op over `ops`, the ops it served in the window."""
        return None if self.server_s is None else self.server_s / max(ops, 1.0)


def metered(server: ServerCpu, run: Callable[[], T]) -> tuple[T, Metered]:
    """`run()`, and what the server and the machine spent while it ran.

    The harness runs one client at a time, so what the server burns in the window is that
    client's load (and the machine's busy share says whether others took cores meanwhile)."""
    s0, (b0, t0) = (server() if server else 0.0), box_ticks()
    out = run()
    (b1, t1), s1 = box_ticks(), (server() if server else None)
    return out, Metered(None if s1 is None else s1 - s0, (b1 - b0) / max(t1 - t0, 1))


def tree_cpu(pid: int | None) -> float:
    """User + system CPU seconds of `pid` and its direct children (nginx's workers), live.

    Why /proc and not RUSAGE_CHILDREN: a server outlives every client run, so its CPU is read
    while it runs (utime + stime of /proc/<pid>/stat, clock ticks: 10 ms resolution)."""
    if pid is None:
        return 0.0
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(d.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / TICK


@dataclass(frozen=True, slots=True)
class ChildRun:
    """One finished child process: exit status, output, wall and CPU seconds."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float

    def tail(self, lines: int = 6) -> str:
        """Last lines of stderr (else stdout), for error messages."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


def run_child(
    cmd: Sequence[str], *, cwd: str | Path | None = None, timeout: float = 900
) -> ChildRun:
    """Run `cmd` to completion; CPU is the RUSAGE_CHILDREN delta (user + sys, every thread).

    Why RUSAGE_CHILDREN: it counts the whole child (threads and waited-for grandchildren)
    after it exits, with no sampling. The harness must run one child at a time for the
    delta to belong to that child alone.

    On any exception (Ctrl-C, SIGTERM, timeout) the child is killed and *waited for* before
    the exception goes on: subprocess.run waits only 0.25 s after a KeyboardInterrupt, and a
    child still writing files then races the removal of the scratch tree.
    """
    cpu0, t0 = cpu_children(), time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    wall = time.perf_counter() - t0
    return ChildRun(proc.returncode, out, err, wall, cpu_children() - cpu0)


# --- fio ---------------------------------------------------------------------------------


def fio_sections(n: int, workers: int) -> list[tuple[str, int, int]]:
    """Split n files over `workers` fio threads: [(job name, numjobs, nrfiles per job)].

    fio gives every clone of a job the same nrfiles, so n = q*workers + r needs two job
    sections: r threads with q+1 files and the rest with q.
    """
    q, r = divmod(n, workers)
    out = [("a", r, q + 1)] if r else []
    return out + ([("b", workers - r, q)] if q else [])


def fio_window(log: Path) -> float:
    """Seconds from the first I/O start to the last completion, from a per-I/O latency log.

    Why: fio starts its 32 threads one after another, so per-job runtimes do not overlap
    fully and no single runtime field is the wall time of the I/O phase. The log holds
    completion times in epoch ms (log_unix_epoch=1, so +-1 ms) and latencies in ns.
    """
    starts, ends = [], []
    for line in log.read_text().splitlines():
        t_ms, lat_ns = (int(x) for x in line.split(",")[:2])
        starts.append(t_ms - lat_ns / 1e6)
        ends.append(t_ms)
    if not ends:
        raise ValueError(f"empty fio latency log {log}")
    return max(max(ends) - min(starts), 1.0) / 1e3


# --- scratch directory ----------------------------------------------------------------------


class Scratch:
    """A fresh directory under `parent`, removed on exit, Ctrl-C or SIGTERM.

    Every path the harness deletes goes through `wipe()`, which refuses anything that is not
    strictly inside this directory.
    """

    def __init__(self, parent: Path, prefix: str) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent)).resolve()

    def __enter__(self) -> Scratch:
        signal.signal(signal.SIGTERM, _exit_on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in range(5):  # a killed writer may still finish one last syscall
            shutil.rmtree(self.path, ignore_errors=True)
            if not self.path.exists():
                return
            time.sleep(0.2)
        print(f"warning: could not remove {self.path}", file=sys.stderr)

    def __repr__(self) -> str:
        return f"<Scratch {self.path}>"

    def inside(self, p: Path) -> bool:
        """True if `p` is strictly inside the scratch directory."""
        rp = p.resolve()
        return rp != self.path and rp.is_relative_to(self.path)

    def wipe(self, p: Path) -> int:
        """Remove `p` (file or tree) if it exists; return how many files it held."""
        if not self.inside(p):
            raise RuntimeError(f"refusing to delete {p}: outside {self.path}")
        if not p.exists():
            return 0
        if p.is_dir():
            n = sum(len(files) for _, _, files in os.walk(p))
            shutil.rmtree(p)
            return n
        p.unlink()
        return 1


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # SystemExit unwinds through every `finally`/`with`, so the scratch tree is removed.
    sys.exit(128 + signum)


# --- environment ----------------------------------------------------------------------------


def mount_of(path: Path) -> tuple[str, str, str, str]:
    """(mount point, device, fs type, options) of the mount that holds `path`."""
    best = ("/", "?", "?", "")
    rp = str(path.resolve())
    with open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            within = rp == mnt or rp.startswith(mnt.rstrip("/") + "/")
            if within and len(mnt) >= len(best[0]):
                best = (mnt, dev, fstype, opts)
    return best


def version_of(cmd: list[str]) -> str:
    """First output line of a `--version` style command, or why it could not run."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except OSError as e:
        return f"unavailable ({e})"
    text = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return text[0] if out.returncode == 0 and text else f"? (exit {out.returncode})"


def base_env_lines(path: Path) -> list[str]:
    """Machine facts every bench prints first: CPUs, kernel, memory, file system, Python."""
    mnt, dev, fstype, opts = mount_of(path)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [
        f"nproc           {len(os.sched_getaffinity(0))} (os.cpu_count {os.cpu_count()})",
        f"kernel          {platform.release()} {platform.machine()}",
        f"memory          {mem:.1f} GiB",
        f"scratch         {path}",
        f"file system     {fstype} on {dev} at {mnt} ({opts})",
        f"python          {platform.python_implementation()} {platform.python_version()}",
        f"load average    {load_avg()} (other work on this machine skews every figure)",
    ]


def load_avg() -> str:
    """The 1, 5 and 15 minute load averages, as text."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- output ---------------------------------------------------------------------------------


def fmt_num(x: float | None, digits: int = 0) -> str:
    """Thousands-separated number, '-' for None."""
    return "-" if x is None else f"{x:,.{digits}f}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 2) -> None:
    """Print a plain-text table; the first `left` columns are left-aligned, the rest right."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = [
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
