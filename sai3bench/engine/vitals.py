"""Was it the client or the storage? The engine's own vital signs during the workload, and the
verdict drawn from them.

Each engine process samples itself while its workload runs (``VitalsSampler``):

- CPU: the process's CPU time over the wall time (1.0 = one core busy), per process, plus the
  highest one-second share;
- run-queue wait: how long its threads were ready to run but had no CPU (Linux schedstat,
  summed over the threads: the loop's, and file://'s workers), the mark of a client starved by
  other processes;
- event-loop lag: every 100 ms a timer is armed and its lateness recorded in a histogram; a loop
  busy with callbacks (or starved) runs it late;
- file:// (thread workers): the share of samples in which every worker thread was in a batch.

Every process sends its ``Vitals`` with its workload result; the coordinator merges them
(``merge_vitals``: per-process shares side by side, lag histograms exactly) and ``judge`` says
in one line which side bounded the run, with the evidence and what to do.

Rule: the client bounded the run when some engine process was busy or waiting for a CPU at
least CLIENT_BOUND of the time, or waited for a CPU at least STARVED_BOUND of the time (other
processes had its cores, so it could not even be busy), or its loop ran timers LAG_BOUND_NS late
half the time: its ops then waited on the client. Otherwise the workers spent their time
waiting on storage. The lag's median, not its p99, decides: on a loaded host one late wake-up
in a few dozen samples is noise (measured: p99 83 ms with 3% CPU against a 20 ms storage); the
p99 is printed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

import msgspec

from sai3bench.metrics.histogram import Histogram, short_ns

if TYPE_CHECKING:  # only its figures are read
    from sai3bench.metrics.pace_stat import PaceResult

#: Share of one core (running + waiting for a CPU) above which an engine process counts as the
#: bottleneck: Python runs its loop on one core.
CLIENT_BOUND: Final = 0.85
#: Share of the wall time waiting for a CPU above which the client was starved: bound by its
#: host's CPUs, however little it got to run.
STARVED_BOUND: Final = 0.5
#: Median loop lag above which the loop was too busy (or starved) to serve its ops on time.
LAG_BOUND_NS: Final = 10_000_000
#: How often the sampler arms its timer.
SAMPLE_S: Final = 0.1
_TASKS: Final = Path("/proc/self/task")

_T = TypeVar("_T")


class Vitals(msgspec.Struct, frozen=True, kw_only=True):
    """What engine processes measured about themselves during a workload (one per process, or
    merged). Shares are of one core over the stage's wall time."""

    #: Per engine process: CPU time / wall time (all its threads).
    cpu: list[float] = []
    #: Per engine process: time its threads waited for a CPU / wall time (0 where unknown).
    wait: list[float] = []
    #: The highest CPU share of any process over one second.
    cpu_peak: float = 0.0
    #: Histogram.encode() of the loop timer's lateness in ns.
    lag: bytes = b""
    #: Worker threads (file://) over all processes; 0 when ops ran on the loop.
    threads: int = 0
    #: Samples in which every worker thread of the process was in a batch, and samples taken.
    all_busy: int = 0
    samples: int = 0

    def lag_histogram(self) -> Histogram:
        return Histogram.decode(self.lag) if self.lag else Histogram()


def merge_vitals(parts: Sequence[Vitals | None]) -> Vitals | None:
    """Every process's vitals in one: shares side by side, lag histograms merged exactly."""
    got = [p for p in parts if p is not None]
    if not got:
        return None
    lag = Histogram()
    for p in got:
        lag.merge(p.lag_histogram())
    return Vitals(
        cpu=[x for p in got for x in p.cpu],
        wait=[x for p in got for x in p.wait],
        cpu_peak=max(p.cpu_peak for p in got),
        lag=lag.encode(compress=True) if lag.count else b"",
        threads=sum(p.threads for p in got),
        all_busy=sum(p.all_busy for p in got),
        samples=sum(p.samples for p in got),
    )


def _schedstat_wait_ns() -> int:
    """Run-queue wait of this process's threads so far, in ns (0 where schedstat is missing).
    A thread that ended since the last reading takes its wait with it: a lower bound."""
    total = 0
    for stat in _TASKS.glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended, or no schedstat here
    return total


class VitalsSampler:
    """Samples this process while a workload runs; ``run`` on the loop, ``finish`` after.

    ``threads`` is the number of worker threads (0 for loop workers); ``busy_hooks`` then
    wraps the pool's source and on_done so the sampler knows how many are in a batch.
    """

    def __init__(self, threads: int = 0, every_s: float = SAMPLE_S) -> None:
        self.threads = threads
        self.every_s = every_s
        self.busy = 0
        self._lag = Histogram()
        self._all_busy = 0
        self._samples = 0
        self._peak = 0.0
        self._t0 = time.perf_counter()
        self._cpu0 = time.process_time()
        self._wait0 = _schedstat_wait_ns()

    def __repr__(self) -> str:
        return f"<VitalsSampler threads={self.threads} samples={self._samples} busy={self.busy}>"

    def busy_hooks(
        self,
        source: Callable[[int], list[_T]],
        on_done: Callable[[Sequence[_T], int], None],
    ) -> tuple[Callable[[int], list[_T]], Callable[[Sequence[_T], int], None]]:
        """``source``/``on_done`` that also count the threads in a batch (both run under the
        pool's lock: a batch starts when the source gives tasks, ends at on_done)."""

        def counted_source(n: int) -> list[_T]:
            tasks = source(n)
            if tasks:
                self.busy += 1
            return tasks

        def counted_done(tasks: Sequence[_T], ran: int) -> None:
            self.busy -= 1
            on_done(tasks, ran)

        return counted_source, counted_done

    async def run(self) -> None:
        """Until cancelled: a timer every ``every_s``, its lateness recorded; once a second
        the CPU share of the last second."""
        step_ns = int(self.every_s * 1e9)
        per_second = max(1, round(1 / self.every_s))
        last_t, last_cpu = time.perf_counter(), time.process_time()
        while True:
            armed = time.perf_counter_ns()
            await asyncio.sleep(self.every_s)
            self._lag.record(max(time.perf_counter_ns() - armed - step_ns, 0))
            self._samples += 1
            if self.threads and self.busy >= self.threads:
                self._all_busy += 1
            if self._samples % per_second == 0:
                now, cpu = time.perf_counter(), time.process_time()
                self._peak = max(self._peak, (cpu - last_cpu) / max(now - last_t, 1e-9))
                last_t, last_cpu = now, cpu

    def finish(self) -> Vitals:
        """The process's vitals from construction to now."""
        wall = max(time.perf_counter() - self._t0, 1e-9)
        cpu = (time.process_time() - self._cpu0) / wall
        wait = (_schedstat_wait_ns() - self._wait0) / 1e9 / wall
        return Vitals(
            cpu=[cpu],
            wait=[max(wait, 0.0)],
            cpu_peak=max(self._peak, cpu if self._samples < 10 else 0.0),
            lag=self._lag.encode(compress=True) if self._lag.count else b"",
            threads=self.threads,
            all_busy=self._all_busy,
            samples=self._samples,
        )


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """Which side bounded a workload, the line that says so, and the figures behind it."""

    #: "client", "storage" or "rate" (io_rate kept its offered rate: neither side limited it).
    bound: str
    line: str
    evidence: dict[str, float | int | list[float]]


#: Run-queue wait above which the host's cores, not the engine's own work, held it back.
_STARVED: Final = 0.25


def judge(v: Vitals, *, cores: int, pacing: PaceResult | None = None) -> Verdict:
    """The one-line verdict on ``v`` (see the module's rule); ``cores`` usable on this host
    says whether more engine processes would help; ``pacing`` a paced run's figures."""
    demand = [c + w for c, w in zip(v.cpu, v.wait, strict=True)]
    lag = v.lag_histogram()
    p50, p99 = lag.percentiles((0.5, 0.99))
    evidence = _evidence(v, lag)
    said = _said(v, p99)
    if pacing is not None and pacing.kept:
        bound, advice = "rate", f"the offered {pacing.offered_iops:,.0f} ops/s was kept"
    elif (
        max(demand, default=0.0) >= CLIENT_BOUND
        or max(v.wait, default=0.0) >= STARVED_BOUND
        or p50 >= LAG_BOUND_NS
    ):
        bound, advice = "client", _client_advice(v, cores)
    else:
        bound, advice = "storage", "ops waited on storage"
    return Verdict(bound=bound, line=f"{bound}-bound: {said}; {advice}", evidence=evidence)


def _said(v: Vitals, lag_p99: int) -> str:
    n = len(v.cpu)
    mean = sum(v.cpu) / n if n else 0.0
    if n == 1:
        parts = [f"engine at {mean:.0%} CPU"]
    else:
        parts = [f"{n} engines at {mean:.0%} CPU (busiest {max(v.cpu):.0%})"]
    wait = max(v.wait, default=0.0)
    if wait >= 0.05:
        parts.append(f"{wait:.0%} CPU wait")
    parts.append(f"loop lag p99 {short_ns(lag_p99)}")
    if v.threads and v.samples:
        parts.append(f"all worker threads busy {v.all_busy / v.samples:.0%} of the time")
    return ", ".join(parts)


def _client_advice(v: Vitals, cores: int) -> str:
    if max(v.wait, default=0.0) >= _STARVED and max(v.cpu, default=0.0) < CLIENT_BOUND:
        return (
            "the host's cores were busy (other processes, or more threads than cores): "
            "free them, or lower concurrency"
        )
    if len(v.cpu) < cores:
        return f"add --processes (auto: one engine per usable core, {cores} here)"
    return "every core runs an engine: add client hosts (--cluster)"


def _evidence(v: Vitals, lag: Histogram) -> dict[str, float | int | list[float]]:
    p99 = lag.value_at_quantile(0.99)
    return {
        "processes": len(v.cpu),
        "cpu": [round(x, 4) for x in v.cpu],
        "cpu_wait": [round(x, 4) for x in v.wait],
        "cpu_peak": round(v.cpu_peak, 4),
        "loop_lag_p50_ns": lag.value_at_quantile(0.5),
        "loop_lag_p99_ns": p99,
        "loop_lag_max_ns": lag.max_ns,
        "lag_samples": lag.count,
        "worker_threads": v.threads,
        "threads_all_busy": round(v.all_busy / v.samples, 4) if v.threads and v.samples else 0.0,
    }
