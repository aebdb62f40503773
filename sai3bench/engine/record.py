"""Turn a finished batch into collector entries (runs on the event loop)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sai3bench.engine.batch import LATE, BatchResults
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.metrics.collector import Collector

#: Extra per-task hook: (task, outcome code) for every task that ran.
TaskHook = Callable[[Task, int], None]


class Tally:
    """What a stage did beyond the histograms: late ops and the first failure seen."""

    __slots__ = ("first_error", "late")

    def __init__(self) -> None:
        self.late = 0
        self.first_error: tuple[str, str] | None = None

    def __repr__(self) -> str:
        return f"<Tally late={self.late} first_error={self.first_error}>"


class _Fixed:
    """A collector that is always current: a stage recorded without intervals."""

    __slots__ = ("current",)

    def __init__(self, collector: Collector) -> None:
        self.current = collector


class _Current(Protocol):
    @property
    def current(self) -> Collector: ...


def make_recorder(
    collector: Collector | _Current,
    ops: Sequence[PlannedOp],
    tally: Tally,
    hook: TaskHook | None = None,
    *,
    keep_retry_log: bool = False,
    tell_ok: Sequence[bool] | None = None,
) -> Callable[[Sequence[Task], int, BatchResults], None]:
    """A recorder that files each op's latency or outcome under its op kind.

    Latencies go into histograms only for ops that succeeded within the deadline; failures are
    counted by outcome and LATE ops (finished after the deadline) are tallied apart.

    ``collector`` may be an ``Intervals`` (metrics/intervals.py): its ``current`` collector is
    read once per batch, so swapping it costs the hot path one attribute read per batch. The
    batch's retry log is cleared once filed, unless ``keep_retry_log`` (a second recorder of
    the same batch runs after this one).

    ``tell_ok``, read per op index at each success: False when ``hook`` has nothing to do for
    that op's success (the workload's GETs once one has worked), so the call is skipped (0.2 us
    an op); failures always reach the hook. None: every op reaches it.
    """
    source = _Fixed(collector) if isinstance(collector, Collector) else collector
    kinds = [int(op.kind) for op in ops]

    def on_batch(tasks: Sequence[Task], ran: int, out: BatchResults) -> None:
        c = source.current
        record, record_error, record_ttfb = c.record, c.record_error, c.record_ttfb
        lat, nb, oc, tt = out.latency_ns, out.nbytes, out.outcome, out.ttfb_ns
        for j in range(ran):
            task = tasks[j]
            code = oc[j]
            if code == 0:
                record(kinds[task[0]], nb[j], lat[j])
                if tt[j]:
                    record_ttfb(kinds[task[0]], tt[j])
                if hook is not None and (tell_ok is None or tell_ok[task[0]]):
                    hook(task, code)
                continue
            if code & LATE:
                tally.late += 1
            else:
                record_error(kinds[task[0]], code)
            if hook is not None:
                hook(task, code)
        if out.put_sent:
            _split_puts(c, out)
        if out.error is not None and tally.first_error is None:
            tally.first_error = out.error
        if out.retry_log:  # (op index in the batch, outcome of the attempt tried again)
            for j, outcome in out.retry_log:
                c.record_retry(kinds[tasks[j][0]], outcome)
            if not keep_retry_log:
                out.retry_log.clear()

    return on_batch


def _split_puts(c: Collector, out: BatchResults) -> None:
    """The PUT latency split of a batch's successful PUTs: setup is their start to the request
    out, I/O the request out to done (their latency less the setup)."""
    start, lat, oc = out.start_ns, out.latency_ns, out.outcome
    setup, io = [], []
    for j, sent_ns in out.put_sent:
        if oc[j] == 0:
            s = sent_ns - start[j]
            setup.append(s)
            io.append(lat[j] - s)
    if setup:  # every PUT of the batch late or failed: no empty histograms
        c.record_put_split(setup, io)
