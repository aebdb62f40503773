"""What io_rate's pacing costs per op: the worker pool on a null backend, paced and not.

    python tools/bench_pacing.py [--seconds 2] [--reps 5] [--workers 32]

The null backend's GET yields to the loop once and returns (as a network op suspends once), so
what is measured is the engine's own per-op work: pick, pool, batch, record. Modes:

- closed: no io_rate (batches of 4 ops, today's loop);
- closed-batch1: no io_rate, batches of 1 (the part of the pacing cost that is the batch size);
- paced-behind: io_rate at twice the closed rate: every slot is already due, so no worker
  sleeps; the cost is the slot (``Pacer.take``, counting the backlog), the batch of one and
  the response-time record;
- paced-on-time: io_rate at a quarter of the closed rate: every op sleeps until its slot on the
  timerfd waker, so it adds one epoll wake-up per op;
- paced-coarse: the same on the loop's own 1 ms timers (``asyncio.sleep``, the fallback where
  timerfd is missing): cheaper per op, but starts up to a millisecond late.

CPU per op = process CPU time / ops; each mode's median over ``--reps`` rotated repetitions.

--mock: the same modes with a real S3Backend against ``sai3bench mock-server --sink`` in a
child process (1 KiB GETs over loopback HTTP): the pacing cost beside a real op's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sai3bench.backends.base import Backend, OpResult
from sai3bench.backends.s3 import S3Backend
from sai3bench.engine import pool as pool_module
from sai3bench.engine.ops import PlannedOp
from sai3bench.engine.paced import paced_recorder
from sai3bench.engine.pacer import Pacer, schedule
from sai3bench.engine.pool import WorkerPool
from sai3bench.engine.record import Tally, make_recorder
from sai3bench.engine.waker import open_waker
from sai3bench.http.endpoint import endpoint_from_url
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.signers.base import Credential, StaticCredentialProvider

MODES = ("closed", "closed-batch1", "paced-behind", "paced-on-time", "paced-coarse")


class NullBackend:
    """Answers every GET at once, after one yield to the loop."""

    async def get(self, key: str) -> OpResult:
        await asyncio.sleep(0)
        return 1024, 0


BackendMaker = Callable[[], Awaitable[Backend]]


async def null_backend() -> Backend:
    return NullBackend()  # type: ignore[return-value]


def s3_maker(url: str) -> BackendMaker:
    async def make() -> Backend:
        backend = S3Backend(
            "bench",
            endpoint=endpoint_from_url(url),
            region="us-east-1",
            credentials=StaticCredentialProvider(Credential("k", "s")),
        )
        await backend.put("k", memoryview(b"x" * 1024))
        return backend

    return make


@contextlib.contextmanager
def mock_server() -> Iterator[str]:
    """``sai3bench mock-server --sink`` on a free loopback port; its URL."""
    cmd = [sys.executable, "-m", "sai3bench", "mock-server", "--port", "0", "--bucket", "bench"]
    with subprocess.Popen([*cmd, "--sink"], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            yield proc.stdout.readline().split()[-1]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def run_mode(
    mode: str, seconds: float, workers: int, closed_rate: float, make: BackendMaker
) -> tuple[int, float]:
    """(ops, CPU seconds) of one mode for ``seconds``."""
    backend = await make()
    op = PlannedOp(index=0, kind=OpKind.GET, backend=backend, label="get", keys=["k"])
    rng = random.Random(1)
    collector = Collector()
    record = make_recorder(collector, [op], Tally())
    start = time.perf_counter_ns()
    deadline = start + int(seconds * 1e9)
    pacer = None
    if mode.startswith("paced"):
        rate = closed_rate * 2 if mode == "paced-behind" else closed_rate / 4
        pacer = Pacer(schedule(rate, "exponential", 1), rate, start, deadline)
        record = paced_recorder(record, [op], lambda: collector)
    batch = 1 if mode == "closed-batch1" else 4
    pool = WorkerPool(
        [op], workers=workers, executor=None, deadline_ns=deadline, batch_max=batch, pacer=pacer
    )
    coarse = mode == "paced-coarse"
    pool_module.open_waker = (lambda loop: None) if coarse else open_waker  # type: ignore[attr-defined]
    c0 = time.process_time()
    await pool.run(lambda n: [t for _ in range(n) if (t := op.pick(rng))], record)
    cpu = time.process_time() - c0
    if isinstance(backend, S3Backend):
        await backend.close()
    return collector.ops() + collector.error_count(), cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--mock", action="store_true", help="GETs against the mock server")
    a = ap.parse_args()
    with contextlib.ExitStack() as stack:
        make = s3_maker(stack.enter_context(mock_server())) if a.mock else null_backend
        measure(a, make)


def measure(a: argparse.Namespace, make: BackendMaker) -> None:
    ops, cpu = uvloop.run(run_mode("closed", a.seconds, a.workers, 0, make))
    closed_rate = ops / a.seconds
    per_op: dict[str, list[float]] = {m: [] for m in MODES}
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    for rep in range(a.reps):
        for mode in MODES[rep % len(MODES) :] + MODES[: rep % len(MODES)]:
            ops, cpu = uvloop.run(run_mode(mode, a.seconds, a.workers, closed_rate, make))
            per_op[mode].append(cpu / ops * 1e6)
            rates[mode].append(ops / a.seconds)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    what = "1 KiB GET against the mock" if a.mock else "null backend"
    print(f"load average: {load}; {a.workers} workers, uvloop, {what}")
    base = sorted(per_op["closed"])[a.reps // 2]
    print(f"{'mode':<15} {'ops/s':>10} {'CPU us/op':>10} {'vs closed':>10}")
    for mode in MODES:
        us = sorted(per_op[mode])[a.reps // 2]
        rate = sorted(rates[mode])[a.reps // 2]
        print(f"{mode:<15} {rate:>10,.0f} {us:>10.2f} {us - base:>+10.2f}")


if __name__ == "__main__":
    main()
