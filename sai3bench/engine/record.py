"""Turn a finished batch into collector entries (runs on the event loop)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def make_recorder(
    collector: Collector,
    ops: Sequence[PlannedOp],
    tally: Tally,
    hook: TaskHook | None = None,
) -> Callable[[Sequence[Task], int, BatchResults], None]:
    """A recorder that files each op's latency or outcome under its op kind.

    Latencies go into histograms only for ops that succeeded within the deadline; failures are
    counted by outcome and LATE ops (finished after the deadline) are tallied apart.
    """
    kinds = [int(op.kind) for op in ops]
    record, record_error, record_ttfb, record_retry = (
        collector.record,
        collector.record_error,
        collector.record_ttfb,
        collector.record_retry,
    )

    def on_batch(tasks: Sequence[Task], ran: int, out: BatchResults) -> None:
        lat, nb, oc, tt = out.latency_ns, out.nbytes, out.outcome, out.ttfb_ns
        for j in range(ran):
            task = tasks[j]
            code = oc[j]
            if code == 0:
                record(kinds[task[0]], nb[j], lat[j])
                if tt[j]:
                    record_ttfb(kinds[task[0]], tt[j])
            elif code & LATE:
                tally.late += 1
            else:
                record_error(kinds[task[0]], code)
            if hook is not None:
                hook(task, code)
        if out.error is not None and tally.first_error is None:
            tally.first_error = out.error
        if out.retry_log:  # (op index in the batch, outcome of the attempt tried again)
            for j, outcome in out.retry_log:
                record_retry(kinds[tasks[j][0]], outcome)
            out.retry_log.clear()

    return on_batch
