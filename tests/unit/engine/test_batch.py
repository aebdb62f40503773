"""engine/batch: the batch executor with a fake blocking backend and a fake clock (no I/O)."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Iterable

import pytest

from sai3bench.engine.batch import (
    LATE,
    BatchResults,
    RetryPolicy,
    exec_batch_async,
    exec_batch_sync,
)
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.metrics.collector import OpKind
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

GET, PUT, LIST, STAT, DELETE = range(5)  # op indices below, in OpKind order


class FakeClock:
    """perf_counter_ns stand-in: time moves only when the fake backend says an op took time."""

    def __init__(self, start: int = 1_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


Step = int | Outcome | tuple[Outcome, str]
HEAD_EARLY_NS = 7


class FakeBackend:
    """Blocking backend that records calls and replays a script of results per key.

    A script step is a return value (int), an Outcome to raise, or (Outcome, detail).
    Each call costs ``cost_ns`` on the fake clock, or the next value of ``costs``. The async
    twins report the response head as arriving ``HEAD_EARLY_NS`` before the call ends.
    """

    root_uri = "fake://"
    executor = None  # BlockingBackend's members, so that PlannedOp sees one

    def resize(self, threads: int) -> None:
        pass

    def key_of(self, uri: str) -> str:
        return uri

    def uri_of(self, key: str) -> str:
        return key

    async def close(self) -> None:
        pass

    def __init__(self, clock: FakeClock, cost_ns: int = 1000) -> None:
        self.clock = clock
        self.cost_ns = cost_ns
        self.costs: deque[int] = deque()
        self.calls: list[tuple[str, str]] = []
        self.script: dict[str, deque[Step]] = {}

    def plan(self, key: str, steps: Iterable[Step]) -> None:
        self.script[key] = deque(steps)

    def _call(self, verb: str, key: str, default: int) -> int:
        self.calls.append((verb, key))
        self.clock.now += self.costs.popleft() if self.costs else self.cost_ns
        steps = self.script.get(key)
        step: Step = steps.popleft() if steps else default
        if isinstance(step, tuple):
            raise OpError(*step)
        if isinstance(step, Outcome):
            raise OpError(step)
        return step

    def get_sync(self, key: str) -> int:
        return self._call("get", key, 111)

    def put_sync(self, key: str, body: memoryview | tuple[memoryview, ...]) -> int:
        n = len(body) if isinstance(body, memoryview) else sum(len(p) for p in body)
        return self._call("put", key, n)

    def head_sync(self, key: str) -> int:
        return self._call("head", key, 777)

    def delete_sync(self, key: str) -> int:
        return self._call("delete", key, 0)

    def list_sync(self, prefix: str, *, recursive: bool = True, sizes: bool = True) -> list[object]:
        self._call("list" if sizes else "list names", prefix, 0)
        return []

    # async twins for exec_batch_async: (bytes, when the response head arrived)
    async def get(self, key: str) -> tuple[int, int]:
        return self.get_sync(key), self.clock.now - HEAD_EARLY_NS

    async def put(self, key: str, body: memoryview | tuple[memoryview, ...]) -> tuple[int, int]:
        return self.put_sync(key, body), self.clock.now - HEAD_EARLY_NS

    async def head(self, key: str) -> tuple[int, int]:
        return self.head_sync(key), self.clock.now - HEAD_EARLY_NS

    async def delete(self, key: str) -> tuple[int, int]:
        return self.delete_sync(key), self.clock.now - HEAD_EARLY_NS

    async def list(self, prefix: str, *, recursive: bool = True) -> list[object]:
        self._call("list", prefix, 0)
        return []


class ZeroData:
    """DataSource stand-in: PUT bodies of zeros."""

    def payload(self, size: int, salt: int, scratch: bytearray) -> memoryview:
        return memoryview(bytes(size))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter_ns", fake)
    return fake


@pytest.fixture
def backend(clock: FakeClock) -> FakeBackend:
    return FakeBackend(clock)


def make_ops(backend: FakeBackend) -> list[PlannedOp]:
    ops = [
        PlannedOp(index=i, kind=kind, backend=backend, label=kind.name)  # type: ignore[arg-type]
        for i, kind in enumerate(OpKind)
    ]
    ops[PUT].data = ZeroData()  # type: ignore[assignment]
    return ops


FAR = 2**62  # a deadline that never passes
#: One task of each kind, in OpKind order.
EVERY_KIND: list[Task] = [
    (GET, "/k/get", 0, 0),
    (PUT, "/k/put", 4321, 9),
    (LIST, "/k/", 0, 0),
    (STAT, "/k/stat", 0, 0),
    (DELETE, "/k/del", 0, 0),
]


def test_every_kind_fills_the_result_arrays(backend: FakeBackend) -> None:
    ops = make_ops(backend)
    backend.costs.extend([100, 200, 300, 400, 500])
    tasks = EVERY_KIND
    out = BatchResults(8)
    assert exec_batch_sync(ops, tasks, out, FAR) == 5
    assert backend.calls == [
        ("get", "/k/get"),
        ("put", "/k/put"),
        ("list names", "/k/"),  # a workload LIST times the listing, not a stat per object
        ("head", "/k/stat"),
        ("delete", "/k/del"),
    ]
    assert list(out.latency_ns[:5]) == [100, 200, 300, 400, 500]
    assert list(out.nbytes[:5]) == [111, 4321, 0, 0, 0]  # STAT moves no bytes
    assert list(out.outcome[:5]) == [0, 0, 0, 0, 0]
    assert out.retries == 0
    assert out.error is None


def test_failures_are_outcomes_and_error_keeps_the_first(backend: FakeBackend) -> None:
    ops = make_ops(backend)
    backend.plan("/a", [(Outcome.PERMISSION, "denied: /a")])
    backend.plan("/b", [Outcome.SERVER_ERROR])
    backend.plan("/c", [(Outcome.NOT_FOUND, "gone: /c")])
    tasks: list[Task] = [(GET, "/ok", 0, 0), (GET, "/a", 0, 0), (STAT, "/b", 0, 0)]
    tasks.append((DELETE, "/c", 0, 0))
    out = BatchResults(4)
    assert exec_batch_sync(ops, tasks, out, FAR) == 4
    assert list(out.outcome) == [0, Outcome.PERMISSION, Outcome.SERVER_ERROR, Outcome.NOT_FOUND]
    assert list(out.nbytes) == [111, 0, 0, 0]
    assert out.error == ("/a", "denied: /a")
    # the results object is reused for the next batch: the first failure stays
    assert exec_batch_sync(ops, [(GET, "/c", 0, 0)], out, FAR) == 1
    assert out.error == ("/a", "denied: /a")


def test_error_without_detail_uses_the_outcome_name(backend: FakeBackend) -> None:
    backend.plan("/b", [Outcome.THROTTLED])
    out = BatchResults(1)
    exec_batch_sync(make_ops(backend), [(GET, "/b", 0, 0)], out, FAR)
    assert out.error == ("/b", "THROTTLED")


def test_deadline_zero_runs_exactly_one_op_and_marks_it_late() -> None:
    """Real clock: a deadline in the past still runs the first op, then stops."""
    backend = FakeBackend(FakeClock())  # its clock is not the executor's here
    out = BatchResults(4)
    tasks: list[Task] = [(GET, f"/k{i}", 0, 0) for i in range(4)]
    assert exec_batch_sync(make_ops(backend), tasks, out, 0) == 1
    assert out.outcome[0] == LATE  # succeeded (0) under the LATE flag
    assert backend.calls == [("get", "/k0")]


def test_deadline_mid_batch(backend: FakeBackend, clock: FakeClock) -> None:
    tasks: list[Task] = [(GET, f"/k{i}", 0, 0) for i in range(10)]
    out = BatchResults(10)
    # ops end at start+1000, +2000, +3000...: the 3rd ends after the deadline
    ran = exec_batch_sync(make_ops(backend), tasks, out, clock.now + 2500)
    assert ran == 3
    assert list(out.outcome[:3]) == [0, 0, LATE]
    assert len(backend.calls) == 3


def test_op_ending_exactly_at_deadline_counts_and_stops(
    backend: FakeBackend, clock: FakeClock
) -> None:
    tasks: list[Task] = [(GET, f"/k{i}", 0, 0) for i in range(10)]
    out = BatchResults(10)
    ran = exec_batch_sync(make_ops(backend), tasks, out, clock.now + 2000)
    assert ran == 2
    assert list(out.outcome[:2]) == [0, 0]


def test_failed_op_after_deadline_keeps_its_outcome_under_the_late_flag(
    backend: FakeBackend, clock: FakeClock
) -> None:
    backend.plan("/k", [Outcome.SERVER_ERROR])
    out = BatchResults(2)
    assert exec_batch_sync(make_ops(backend), [(GET, "/k", 0, 0)], out, clock.now + 10) == 1
    assert out.outcome[0] == Outcome.SERVER_ERROR | LATE


RETRY2 = RetryPolicy(max_retries=2, first_s=0)


def test_retry_then_success_times_only_the_last_attempt(backend: FakeBackend) -> None:
    backend.plan("/k", [Outcome.SERVER_ERROR, Outcome.TIMEOUT, 555])
    backend.costs.extend([5000, 7000, 300])
    out = BatchResults(1)
    assert exec_batch_sync(make_ops(backend), [(GET, "/k", 0, 0)], out, FAR, RETRY2) == 1
    assert backend.calls == [("get", "/k")] * 3
    assert out.retries == 2
    assert out.outcome[0] == 0
    assert out.nbytes[0] == 555
    assert out.latency_ns[0] == 300


def test_retries_exhausted_reports_the_last_outcome(backend: FakeBackend) -> None:
    backend.plan("/k", [Outcome.SERVER_ERROR, Outcome.SERVER_ERROR, Outcome.CONNECTION, 1])
    backend.costs.extend([10, 20, 30])
    out = BatchResults(1)
    exec_batch_sync(make_ops(backend), [(GET, "/k", 0, 0)], out, FAR, RETRY2)
    assert len(backend.calls) == 3  # 1 try + 2 retries, never a 4th
    assert out.retries == 2
    assert out.outcome[0] == Outcome.CONNECTION
    assert out.latency_ns[0] == 30
    assert out.error == ("/k", "CONNECTION")  # the failure the op ended with


@pytest.mark.parametrize(
    "permanent",
    [Outcome.NOT_FOUND, Outcome.PERMISSION, Outcome.CLIENT_ERROR, Outcome.NO_SPACE],
)
def test_permanent_outcomes_are_never_retried(backend: FakeBackend, permanent: Outcome) -> None:
    """retry_on_error retries what transient.py calls transient, nothing else: a 403 or a full
    disk answers the same on every try (before, everything but NOT_FOUND was retried)."""
    backend.plan("/gone", [permanent, 123])
    out = BatchResults(2)
    tasks: list[Task] = [(DELETE, "/gone", 0, 0), (GET, "/ok", 0, 0)]
    assert exec_batch_sync(make_ops(backend), tasks, out, FAR, RETRY2) == 2
    assert backend.calls == [("delete", "/gone"), ("get", "/ok")]
    assert out.retries == 0
    assert list(out.outcome) == [permanent, 0]


def test_no_retries_by_default(backend: FakeBackend) -> None:
    backend.plan("/k", [Outcome.SERVER_ERROR, 1])
    out = BatchResults(1)
    exec_batch_sync(make_ops(backend), [(GET, "/k", 0, 0)], out, FAR)
    assert len(backend.calls) == 1
    assert out.retries == 0
    assert out.outcome[0] == Outcome.SERVER_ERROR


def test_retry_delay_grows_caps_and_jitters() -> None:
    flat = RetryPolicy(max_retries=3, first_s=0.1, max_s=0.3, multiplier=2.0, jitter=0.0)
    rng = random.Random(1)
    assert [flat.delay_s(a, rng) for a in range(4)] == pytest.approx([0.1, 0.2, 0.3, 0.3])
    jit = RetryPolicy(max_retries=3, first_s=0.1, max_s=5.0, multiplier=2.0, jitter=0.25)
    ds = [jit.delay_s(0, rng) for _ in range(500)]
    assert all(0.075 <= d <= 0.125 for d in ds)
    assert max(ds) - min(ds) > 0.02  # jitter actually varies
    assert RetryPolicy(first_s=0).delay_s(5, rng) == 0


def test_async_executor_same_contract(
    run_loop: LoopRunner, backend: FakeBackend, clock: FakeClock
) -> None:
    ops = make_ops(backend)
    backend.plan("/r", [Outcome.SERVER_ERROR, 42])
    backend.plan("/nf", [Outcome.NOT_FOUND])
    backend.costs.extend([900, 40, 50, 60])
    tasks: list[Task] = [(GET, "/r", 0, 0), (PUT, "/p", 10, 1), (GET, "/nf", 0, 0)]
    tasks.append((GET, "/late", 0, 0))
    out = BatchResults(4)
    deadline = clock.now + 900 + 40 + 50 + 60 + 1  # the 4th op (1000 ns) ends after it
    ran = run_loop(exec_batch_async(ops, tasks, out, deadline, RETRY2))
    assert ran == 4
    assert list(out.outcome) == [0, 0, Outcome.NOT_FOUND, LATE]
    assert list(out.nbytes[:3]) == [42, 10, 0]
    assert out.latency_ns[0] == 40
    # the time to first byte came back with each result: of the last attempt, none on failure
    assert list(out.ttfb_ns) == [40 - HEAD_EARLY_NS, 50 - HEAD_EARLY_NS, 0, 1000 - HEAD_EARLY_NS]
    assert out.retries == 1
    assert out.error == ("/nf", "NOT_FOUND")  # /r was retried into success: not a failure


def test_async_every_kind_returns_its_ttfb_but_stat_moves_no_bytes(
    run_loop: LoopRunner, backend: FakeBackend
) -> None:
    ops = make_ops(backend)
    backend.costs.extend([100, 200, 300, 400, 500])
    tasks = EVERY_KIND
    out = BatchResults(8)
    assert run_loop(exec_batch_async(ops, tasks, out, FAR)) == 5
    assert list(out.nbytes[:5]) == [111, 4321, 0, 0, 0]  # the stat's size is not a byte moved
    early = HEAD_EARLY_NS
    assert list(out.ttfb_ns[:5]) == [100 - early, 200 - early, 0, 400 - early, 500 - early]


def test_sync_executor_records_no_ttfb(backend: FakeBackend) -> None:
    out = BatchResults(1)
    exec_batch_sync(make_ops(backend), [(GET, "/k", 0, 0)], out, FAR)
    assert out.ttfb_ns[0] == 0 and out.nbytes[0] == 111


def test_only_blocking_backends_get_a_thread_path(backend: FakeBackend) -> None:
    """PlannedOp checks the BlockingBackend protocol once; the thread executor needs it."""
    assert make_ops(backend)[GET].blocking is backend

    class AsyncOnly:
        root_uri = "fake://"

    op = PlannedOp(index=0, kind=OpKind.GET, backend=AsyncOnly(), label="x")  # type: ignore[arg-type]
    assert op.blocking is None
