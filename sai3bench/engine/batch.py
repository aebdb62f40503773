"""Run a batch of chosen ops and time each one: in a worker thread, or on the loop.

Blocking backends (file://) get one executor hop per *batch*, not per op: a hop costs ~26 us of
loop CPU here (uvloop, measured with a no-op function), more than writing a small file. Each op
is timed around the storage call alone, with ``perf_counter_ns`` in the thread that makes the
call, so neither the hop nor the PUT body generation is inside a latency figure.

Results go into the caller's preallocated arrays; nothing is allocated per op but the ints.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from array import array
from collections.abc import Sequence
from typing import Final

from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.transient import RetryPolicy
from sai3bench.metrics.collector import OpKind
from sai3bench.outcome import OpError, Outcome

#: Flag on an outcome code: the op finished after the deadline. Its latency is not counted,
#: but its real outcome is kept below the flag (a late DELETE still deleted its object).
LATE: Final = 0x80
_GET, _PUT, _LIST, _STAT, _DELETE = (int(k) for k in OpKind)


class BatchResults:
    """Per-worker result arrays, reused for every batch the worker runs."""

    __slots__ = (
        "error",
        "latency_ns",
        "nbytes",
        "outcome",
        "retries",
        "scratch",
        "stop",
        "ttfb_ns",
    )

    def __init__(self, capacity: int) -> None:
        self.latency_ns = array("q", bytes(8 * capacity))
        self.nbytes = array("q", bytes(8 * capacity))
        self.outcome = array("B", bytes(capacity))
        #: Time to first byte per op (0: the backend has none, e.g. file://).
        self.ttfb_ns = array("q", bytes(8 * capacity))
        self.retries = 0
        #: Set by the pool to stop a running batch before its next op.
        self.stop = False
        #: (key, detail) of the first failure this worker saw, for a one-line error message.
        self.error: tuple[str, str] | None = None
        #: PUT bodies of an async worker: one op at a time, and the body is fully sent before
        #: the response that ends the op arrives, so the next op may overwrite it.
        self.scratch = bytearray()


_NO_RETRY: Final = RetryPolicy()
_local = threading.local()


def _scratch() -> bytearray:
    buf: bytearray | None = getattr(_local, "scratch", None)
    if buf is None:
        buf = _local.scratch = bytearray()
    return buf


def run_one_sync(op: PlannedOp, key: str, size: int, salt: int) -> int:
    """One op through a blocking backend; returns bytes moved. Raises OpError."""
    kind = op.kind
    b = op.backend
    if kind == _GET:
        return b.get_sync(key)  # type: ignore[attr-defined, no-any-return]
    if kind == _PUT:
        assert op.data is not None
        body = op.data.payload(size, salt, _scratch())
        return b.put_sync(key, body)  # type: ignore[attr-defined, no-any-return]
    if kind == _STAT:
        b.head_sync(key)  # type: ignore[attr-defined]
        return 0
    if kind == _DELETE:
        return b.delete_sync(key)  # type: ignore[attr-defined, no-any-return]
    b.list_sync(key, recursive=True)  # type: ignore[attr-defined]
    return 0


def _retry_after(code: int, attempt: int, retry: RetryPolicy, t1: int) -> float | None:
    """Seconds to wait before retrying a failed op, or None to give up (or on success)."""
    if code == 0 or code == Outcome.NOT_FOUND or attempt >= retry.max_retries:
        return None
    return retry.delay_s(attempt, random.Random(t1))


def _store(out: BatchResults, n: int, elapsed_ns: int, moved: int, code: int, late: bool) -> None:
    out.latency_ns[n] = elapsed_ns
    out.nbytes[n] = moved
    out.outcome[n] = code | LATE if late else code


def exec_batch_sync(
    ops: Sequence[PlannedOp],
    tasks: Sequence[Task],
    out: BatchResults,
    deadline_ns: int,
    retry: RetryPolicy = _NO_RETRY,
) -> int:
    """Run ``tasks`` in order in this thread until done or past ``deadline_ns``.

    Returns how many tasks ran; the rest were not started. An op that ends after the deadline is
    marked LATE. With retries on, only the last attempt is timed; retries are counted apart.
    """
    clock = time.perf_counter_ns
    n = 0
    for op_i, key, size, salt in tasks:
        op = ops[op_i]
        attempt = 0
        # Keep the detail string, never the exception: its traceback would keep the PUT body's
        # view of the scratch buffer alive, and the next payload() could not reuse it.
        detail = ""
        while True:
            t0 = clock()
            try:
                moved, code = run_one_sync(op, key, size, salt), 0
            except OpError as exc:
                moved, code, detail = 0, int(exc.outcome), exc.detail or exc.outcome.name
            t1 = clock()
            wait = _retry_after(code, attempt, retry, t1)
            if wait is None:
                break
            attempt += 1
            out.retries += 1
            time.sleep(wait)
        if code and out.error is None:  # only the final attempt's failure counts
            out.error = (key, detail)
        _store(out, n, t1 - t0, moved, code, t1 > deadline_ns)
        n += 1
        if t1 >= deadline_ns or out.stop:
            break
    return n


async def exec_batch_async(
    ops: Sequence[PlannedOp],
    tasks: Sequence[Task],
    out: BatchResults,
    deadline_ns: int,
    retry: RetryPolicy = _NO_RETRY,
) -> int:
    """The same contract as ``exec_batch_sync`` for async backends, on the event loop."""
    clock = time.perf_counter_ns
    n = 0
    for op_i, key, size, salt in tasks:
        op = ops[op_i]
        attempt = 0
        # Keep the detail string, never the exception: its traceback would keep the PUT body's
        # view of the scratch buffer alive, and the next payload() could not reuse it.
        detail = ""
        first = 0
        while True:
            t0 = clock()
            try:
                moved, code = await _run_one_async(op, key, size, salt, out), 0
                # Set by the backend on its way back; no other task ran since (no await).
                first = getattr(op.backend, "last_ttfb_ns", 0)
            except OpError as exc:
                moved, code, detail = 0, int(exc.outcome), exc.detail or exc.outcome.name
            t1 = clock()
            wait = _retry_after(code, attempt, retry, t1)
            if wait is None:
                break
            attempt += 1
            out.retries += 1
            await asyncio.sleep(wait)
        if code and out.error is None:  # only the final attempt's failure counts
            out.error = (key, detail)
        _store(out, n, t1 - t0, moved, code, t1 > deadline_ns)
        out.ttfb_ns[n] = first - t0 if code == 0 and first > t0 else 0
        n += 1
        if t1 >= deadline_ns or out.stop:
            break
    return n


async def _run_one_async(op: PlannedOp, key: str, size: int, salt: int, out: BatchResults) -> int:
    kind = op.kind
    b = op.backend
    if kind == _GET:
        return await b.get(key)
    if kind == _PUT:
        assert op.data is not None
        try:
            body = op.data.payload(size, salt, out.scratch)
        except BufferError:  # a view of the last body is still alive somewhere: start afresh
            out.scratch = bytearray()
            body = op.data.payload(size, salt, out.scratch)
        return await b.put(key, body)
    if kind == _STAT:
        await b.head(key)
        return 0
    if kind == _DELETE:
        return await b.delete(key)
    await b.list(key, recursive=True)
    return 0
