"""Run a batch of chosen ops and time each one: in a worker thread, or on the loop.

Blocking backends (file://) get one executor hop per *batch*, not per op: a hop costs ~26 us of
loop CPU here (uvloop, measured with a no-op function), more than writing a small file. Each op
is timed around the storage call alone, with ``perf_counter_ns`` in the thread that makes the
call, so neither the hop nor the PUT body generation is inside a latency figure.

Results go into the caller's preallocated arrays; nothing is allocated per op but the ints (and,
for an async backend, the ``OpResult`` tuple that carries the time to first byte back).

The two executors are one shape: the same loop, differing only in ``await``. Everything an op
needs after its storage call (the retry decision, filing its result, the deadline and stop
check) is written once, in ``_retry_after`` and ``_store``.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from array import array
from collections.abc import Awaitable, Sequence
from typing import Final

from sai3bench.backends.base import Backend, OpResult
from sai3bench.engine.dirops import run_dir_async, run_dir_sync
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.transient import RetryPolicy, is_transient
from sai3bench.http import resends, sent
from sai3bench.metrics.collector import OpKind
from sai3bench.outcome import OpError

#: Flag on an outcome code: the op finished after the deadline. Its latency is not counted,
#: but its real outcome is kept below the flag (a late DELETE still deleted its object).
LATE: Final = 0x80
_GET, _PUT, _LIST, _STAT, _DELETE, _MKDIR, _RMDIR = (int(k) for k in OpKind)  # MKDIR, RMDIR last


class BatchResults:
    """Per-worker result arrays, reused for every batch the worker runs."""

    __slots__ = (
        "error",
        "intended_ns",
        "latency_ns",
        "nbytes",
        "outcome",
        "put_sent",
        "resent",
        "retries",
        "retry_log",
        "scratch",
        "sent",
        "start_ns",
        "stop",
        "ttfb_ns",
    )

    def __init__(self, capacity: int) -> None:
        self.latency_ns = array("q", bytes(8 * capacity))
        #: When each op's final attempt started (perf_counter_ns): the op-log's start column.
        self.start_ns = array("q", bytes(8 * capacity))
        self.nbytes = array("q", bytes(8 * capacity))
        #: io_rate: when each op was meant to start (perf_counter_ns, engine/pacer.py); its
        #: response time runs from here. Filled by a paced pool only.
        self.intended_ns = array("q", bytes(8 * capacity))
        self.outcome = array("B", bytes(capacity))
        #: Time to first byte per op (0: the backend has none, e.g. file://).
        self.ttfb_ns = array("q", bytes(8 * capacity))
        self.retries = 0
        #: (index in the batch, outcome of the failed try) of every attempt tried again: the
        #: engine's retries and the HTTP pools' resends. The recorder files and clears it.
        self.retry_log: list[tuple[int, int]] = []
        #: Outcomes of the attempts the HTTP pools resent for the op running now
        #: (http/resends.py); moved into ``retry_log`` when the op ends.
        self.resent: list[int] = []
        #: (index in the batch, perf_counter_ns its request went out) of each PUT that
        #: succeeded: the recorder splits its latency into setup and I/O (upstream v0.8.90).
        #: Appended by the PUT path alone, so no other op pays for the split.
        self.put_sent: list[tuple[int, int]] = []
        #: The HTTP pools' word of when the running PUT's request went out (http/sent.py).
        self.sent = [0]
        #: Set by the pool to stop a running batch before its next op.
        self.stop = False
        #: (key, detail) of the first failure this worker saw, for a one-line error message.
        self.error: tuple[str, str] | None = None
        #: PUT bodies of an async worker: one op at a time, and the body is fully sent before
        #: the response that ends the op arrives, so the next op may overwrite it.
        self.scratch = bytearray()


_NO_RETRY: Final = RetryPolicy()
#: The result of an op that reports no bytes and no time to first byte (LIST).
_NOTHING: Final[OpResult] = (0, 0)


class _ThreadScratch(threading.local):
    """Each worker thread's PUT-body scratch, made on the thread's first use."""

    def __init__(self) -> None:
        self.buf = bytearray()


_local = _ThreadScratch()
_clock = time.perf_counter_ns


def run_one_sync(op: PlannedOp, key: str, size: int, salt: int, out: BatchResults, n: int) -> int:
    """One op (``n`` of the batch) through a blocking backend; returns bytes moved. Raises
    OpError. A PUT that succeeds notes in ``out`` when its write began."""
    kind = op.kind
    b = op.blocking
    assert b is not None  # the pool runs ops in threads only when every backend blocks
    if kind == _GET:
        return b.get_sync(key)
    if kind == _PUT:
        assert op.data is not None
        body = op.data.payload(size, salt, _local.buf)
        began = _clock()
        moved = b.put_sync(key, body)
        out.put_sent.append((n, began))
        return moved
    if kind == _STAT:
        b.head_sync(key)
        return 0
    if kind == _DELETE:
        return b.delete_sync(key)
    if kind >= _MKDIR:
        return run_dir_sync(op, key)
    b.list_sync(key, recursive=True, sizes=False)  # the LIST op times the listing alone
    return 0


def _start_async(
    op: PlannedOp, key: str, size: int, salt: int, out: BatchResults
) -> Awaitable[OpResult]:
    """One op through an async backend, started: the backend's own coroutine where its result
    is the op's as it is, so no coroutine of ours sits between the engine and the request
    (each such layer costs every op: 0.3 us of a ~13 us GET in pure Python here). A PUT's
    send-time slot is cleared here; ``exec_batch_async`` files it once the PUT succeeded."""
    kind = op.kind
    b = op.backend
    if kind == _GET:
        return b.get(key)
    if kind == _PUT:
        assert op.data is not None
        try:
            body = op.data.payload(size, salt, out.scratch)
        except BufferError:  # a view of the last body is still alive somewhere: start afresh
            out.scratch = bytearray()
            body = op.data.payload(size, salt, out.scratch)
        out.sent[0] = 0
        return b.put(key, body)
    if kind == _STAT:
        return _stat(b, key)
    if kind == _DELETE:
        return b.delete(key)
    if kind >= _MKDIR:
        return run_dir_async(op, key)
    return _list(b, key)


async def _stat(b: Backend, key: str) -> OpResult:
    return 0, (await b.head(key))[1]  # a stat moves no bytes; the size is not counted


async def _list(b: Backend, key: str) -> OpResult:
    await b.list(key, recursive=True)
    return _NOTHING


def _retry_after(
    out: BatchResults, n: int, code: int, attempt: int, retry: RetryPolicy, t1: int
) -> float | None:
    """Seconds to wait before retrying failed op ``n``, counted as a retry; None to give up
    (retries used up, or a permanent outcome: transient.py's one table decides)."""
    if attempt >= retry.max_retries or not is_transient(code):
        return None
    out.retries += 1
    out.retry_log.append((n, code))
    return retry.delay_s(attempt, random.Random(t1))


def _store(
    out: BatchResults,
    n: int,
    key: str,
    t0: int,
    t1: int,
    moved: int,
    first: int,
    code: int,
    detail: str,
    deadline_ns: int,
) -> bool:
    """File op ``n``'s final attempt; True when the batch must stop (deadline or ``stop()``).

    ``first`` is when the response head arrived (0: none). An op that ends after the deadline
    is marked LATE; a failure's (key, detail) becomes the worker's first error if it has none.
    """
    out.start_ns[n] = t0
    out.latency_ns[n] = t1 - t0
    out.nbytes[n] = moved
    out.ttfb_ns[n] = first - t0 if first > t0 else 0
    out.outcome[n] = code | LATE if t1 > deadline_ns else code
    if code and out.error is None:
        out.error = (key, detail)
    return t1 >= deadline_ns or out.stop


def exec_batch_sync(
    ops: Sequence[PlannedOp],
    tasks: Sequence[Task],
    out: BatchResults,
    deadline_ns: int,
    retry: RetryPolicy = _NO_RETRY,
) -> int:
    """Run ``tasks`` in order in this thread until done or past ``deadline_ns``.

    Returns how many tasks ran; the rest were not started. With retries on, only the last
    attempt is timed; retries are counted apart.
    """
    clock = time.perf_counter_ns
    out.put_sent.clear()
    n = 0
    for op_i, key, size, salt in tasks:
        op = ops[op_i]
        attempt = 0
        while True:
            t0 = clock()
            try:
                moved, code, detail = run_one_sync(op, key, size, salt, out, n), 0, ""
            except OpError as exc:  # keep the detail, never the exception (see _outcome)
                moved, (code, detail) = 0, _outcome(exc)
            t1 = clock()
            if not code or (wait := _retry_after(out, n, code, attempt, retry, t1)) is None:
                break
            attempt += 1
            time.sleep(wait)
        stop = _store(out, n, key, t0, t1, moved, 0, code, detail, deadline_ns)
        n += 1
        if stop:
            break
    return n


async def exec_batch_async(
    ops: Sequence[PlannedOp],
    tasks: Sequence[Task],
    out: BatchResults,
    deadline_ns: int,
    retry: RetryPolicy = _NO_RETRY,
) -> int:
    """``exec_batch_sync`` for async backends, on the event loop: the same loop, awaited."""
    clock = time.perf_counter_ns
    resends.listen(out.resent)
    sent.listen(out.sent)
    out.put_sent.clear()
    n = 0
    for op_i, key, size, salt in tasks:
        op = ops[op_i]
        attempt = 0
        while True:
            t0 = clock()
            try:
                moved, first = await _start_async(op, key, size, salt, out)
                code, detail = 0, ""
                if op.kind == _PUT and out.sent[0]:  # 0: no request carried a body
                    out.put_sent.append((n, out.sent[0]))
            except OpError as exc:  # keep the detail, never the exception (see _outcome)
                moved, first, (code, detail) = 0, 0, _outcome(exc)
            t1 = clock()
            if not code or (wait := _retry_after(out, n, code, attempt, retry, t1)) is None:
                break
            attempt += 1
            await asyncio.sleep(wait)
        if out.resent:  # the pool sent a request of this op again: a retry each
            out.retry_log.extend([(n, outcome) for outcome in out.resent])
            out.resent.clear()
        stop = _store(out, n, key, t0, t1, moved, first, code, detail, deadline_ns)
        n += 1
        if stop:
            break
    return n


def _outcome(exc: OpError) -> tuple[int, str]:
    """A failure as (outcome code, detail). The exception itself is not kept: its traceback
    would keep the PUT body's view of the scratch buffer alive, and the next payload() could
    not reuse it."""
    return int(exc.outcome), exc.detail or exc.outcome.name
