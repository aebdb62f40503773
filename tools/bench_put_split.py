"""What the PUT latency split adds per PUT, in client CPU (process_time, min of 9 repeats).

    python tools/bench_put_split.py

Three parts, each timed apart against the same code without it:
- the recorder's pass over a batch of 32 successful PUTs (engine/record.py ``_split_puts``: two
  lists, two ``Histogram.record_many``), per PUT;
- the PUT path's bookkeeping in engine/batch.py (clear the slot, read it, append (n, sent));
- ``http/sent.mark()`` in the pool (a ContextVar read and ``perf_counter_ns``).
Other ops pay none of these; they pass the batch index ``n`` as one more argument (~8 ns).
"""

from __future__ import annotations

import random
import time
import timeit
from collections.abc import Callable

from sai3bench.backends.base import Backend
from sai3bench.engine.batch import BatchResults
from sai3bench.engine.ops import PlannedOp
from sai3bench.engine.record import Tally, make_recorder
from sai3bench.http import sent
from sai3bench.metrics.collector import Collector, OpKind

BATCH = 32


def best_ns(f: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(f, number=number, repeat=9, timer=time.process_time)) / number * 1e9


def recorder_ns() -> float:
    ops = [PlannedOp(index=0, kind=OpKind.PUT, backend=Backend.__new__(Backend), label="put")]  # type: ignore[type-abstract]
    tasks = [(0, f"k{j}", 1024, j) for j in range(BATCH)]
    out = BatchResults(BATCH)
    rng = random.Random(1)
    for j in range(BATCH):
        out.start_ns[j], out.latency_ns[j], out.nbytes[j] = (
            10**7 + j,
            rng.randint(10**6, 5 * 10**6),
            1024,
        )
    pairs = [(j, 10**7 + j + rng.randint(10_000, 90_000)) for j in range(BATCH)]
    record = make_recorder(Collector(), ops, Tally())

    def split() -> None:
        out.put_sent[:] = pairs
        record(tasks, BATCH, out)

    def plain() -> None:
        out.put_sent.clear()
        record(tasks, BATCH, out)

    return (best_ns(split, 3000) - best_ns(plain, 3000)) / BATCH


def path_ns() -> float:
    slot: list[int] = [0]
    sent.listen(slot)
    put_sent: list[tuple[int, int]] = []

    def with_split() -> None:
        slot[0] = 0
        sent.mark()
        if slot[0]:
            put_sent.append((3, slot[0]))
        put_sent.clear()

    return best_ns(with_split, 200_000) - best_ns(put_sent.clear, 200_000)


def main() -> None:
    rec, path = recorder_ns(), path_ns()
    print(f"recorder pass: {rec:,.0f} ns per PUT (batches of {BATCH})")
    print(f"PUT path + sent.mark(): {path:,.0f} ns per PUT")
    print(f"total: {rec + path:,.0f} ns per PUT")


if __name__ == "__main__":
    main()
