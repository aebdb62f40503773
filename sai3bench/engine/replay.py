"""``sai3bench replay``: the ops of an op-log again, at their logged start times.

Open loop, upstream's timing model: the first op is time 0 and op *i* is due at
``(start_i - start_0) / speed`` after the replay began; it is started then, whatever the ops
before it are doing (never waited on). How far behind schedule each op started (the dispatcher
was busy, or ``max_in_flight`` ops were already running) is measured and reported: p50, p99,
max. The log is read as a stream (bounded memory); it should be sorted by start
(``sai3bench sort``): an op logged earlier than the one before it is started at once and
counted as out of order.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Final, NamedTuple

from sai3bench.backends.base import Backend
from sai3bench.backends.registry import Backends
from sai3bench.datagen.buffers import DataSource
from sai3bench.metrics.histogram import Histogram
from sai3bench.metrics.oplog_file import OpLogEntry
from sai3bench.outcome import OpError

#: What the op column may say, and what it is replayed as (upstream writes HEAD or STAT).
OPS: Final = {
    "GET": "GET",
    "PUT": "PUT",
    "LIST": "LIST",
    "STAT": "STAT",
    "HEAD": "STAT",
    "DELETE": "DELETE",
}
#: Below this, the dispatcher yields to the loop instead of sleeping: a timer fires up to ~1 ms
#: late, a yield loop does not (it costs CPU only in the last millisecond before an op).
_SPIN_NS: Final = 1_000_000
#: Seconds the ops in flight have to finish once the replay is stopped.
STOP_GRACE: Final = 2.0


class ReplayOp(NamedTuple):
    """One op to send: when (ns after the replay began), what, where, how many bytes."""

    due_ns: int
    op: str
    uri: str
    size: int


def target_uri(target: str, entry: OpLogEntry) -> str:
    """Upstream's ``--target``: the logged file (``bucket/key``) under the target URI."""
    return target.rstrip("/") + "/" + entry.file.lstrip("/")


class Schedule:
    """The op-log as ReplayOps: URIs rewritten, times scaled; counts what it skipped."""

    def __init__(self, rewrite: Callable[[OpLogEntry], str], speed: float) -> None:
        self.rewrite = rewrite
        self.speed = speed
        self.out_of_order = 0
        self.unknown: Counter[str] = Counter()
        self.span_ns = 0

    def __repr__(self) -> str:
        return f"<Schedule speed={self.speed} out_of_order={self.out_of_order}>"

    def ops(self, entries: Iterable[OpLogEntry]) -> Iterator[ReplayOp]:
        first = last = None
        for e in entries:
            op = OPS.get(e.op.upper())
            if op is None:
                self.unknown[e.op] += 1
                continue
            if first is None:
                first = last = e.start_ns
            assert last is not None
            if e.start_ns < last:
                self.out_of_order += 1
            last = max(last, e.start_ns)
            due = int(max(e.start_ns - first, 0) / self.speed)
            self.span_ns = max(self.span_ns, due)
            yield ReplayOp(due, op, self.rewrite(e), e.nbytes)


class ReplayReport:
    """What the replay did: ops and errors by op, lateness and service time."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.late = Histogram()
        self.service = Histogram()
        self.wall_s = 0.0
        #: Ops never sent because the replay was stopped (Ctrl-C, SIGTERM); ops cut short in
        #: flight are in ``errors`` as CANCELLED.
        self.stopped = False

    @property
    def all_failed(self) -> bool:
        """Ops were sent and not one succeeded (a dead or wrong target)."""
        return bool(self.ops) and sum(self.errors.values()) == sum(self.ops.values())

    def __repr__(self) -> str:
        return f"<ReplayReport ops={sum(self.ops.values())} errors={sum(self.errors.values())}>"


class Replayer:
    """Sends a schedule's ops through the run's backends, each at its due time."""

    def __init__(self, backends: Backends, *, max_in_flight: int) -> None:
        self.backends = backends
        self.report = ReplayReport()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._data = DataSource("random", seed=0)
        self._salt = 0

    def __repr__(self) -> str:
        return f"<Replayer {self.report!r}>"

    async def run(self, ops: Iterator[ReplayOp]) -> ReplayReport:
        clock, running = time.perf_counter_ns, set[asyncio.Task[None]]()
        first = next(ops, None)
        if first is None:
            return self.report
        # the first backend opened before the clock starts: its client's set-up is not lateness
        self.backends.for_uri(first.uri)
        t0 = clock()
        try:
            for op in itertools.chain((first,), ops):
                backend = self.backends.for_uri(op.uri)  # a bad URI stops the replay (exit 2)
                due = t0 + op.due_ns
                await _until(due)
                await self._slots.acquire()
                task = asyncio.ensure_future(self._one(op, backend, due))
                running.add(task)
                task.add_done_callback(running.discard)
            if running:
                await asyncio.gather(*running)
        except asyncio.CancelledError:  # stopped (cli/oplog.py cancels on SIGINT/SIGTERM)
            self.report.stopped = True
            await _stop(running)
        self.report.wall_s = (clock() - t0) / 1e9
        return self.report

    async def _one(self, op: ReplayOp, backend: Backend, due: int) -> None:
        t0 = time.perf_counter_ns()
        self.report.late.record(max(t0 - due, 0))
        try:
            await self._send(op, backend, backend.key_of(op.uri))
            self.report.service.record(time.perf_counter_ns() - t0)
        except OpError as exc:
            self.report.errors[(op.op, exc.outcome.name)] += 1
        except asyncio.CancelledError:
            self.report.errors[(op.op, "CANCELLED")] += 1
            raise
        finally:
            self.report.ops[op.op] += 1
            self._slots.release()

    async def _send(self, op: ReplayOp, backend: Backend, key: str) -> None:
        if op.op == "GET":
            await backend.get(key)
        elif op.op == "PUT":
            self._salt += 1
            body = self._data.payload(op.size, self._salt, bytearray()) if op.size else None
            await backend.put(key, body if body is not None else memoryview(b""))
        elif op.op == "STAT":
            await backend.head(key)
        elif op.op == "DELETE":
            await backend.delete(key)
        else:
            await backend.list(key, recursive=True)


async def _stop(running: set[asyncio.Task[None]]) -> None:
    """Ops in flight get ``STOP_GRACE`` seconds to finish, then are cancelled."""
    if not running:
        return
    _, late = await asyncio.wait(set(running), timeout=STOP_GRACE)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)


async def _until(due_ns: int) -> None:
    """Wait until ``perf_counter_ns() >= due_ns``: a timer to within ~1 ms, then yields."""
    left = due_ns - time.perf_counter_ns()
    if left > 2 * _SPIN_NS:
        await asyncio.sleep((left - _SPIN_NS) / 1e9)
    while time.perf_counter_ns() < due_ns:
        await asyncio.sleep(0)
