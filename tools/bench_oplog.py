"""What ``run --op-log`` costs per op, on vs off: during the stage (the chained recorder on the
loop or under the pool lock, plus the spool thread) and at the stage's end (rows formatted and
compressed, off the clock).

    python tools/bench_oplog.py [--ops 2000000] [--batch 4]

The same batches go through a no-op recorder (off), then through the op-log's chained one (on,
its spool thread running as in a run). In-stage wall: the extra wall time per op of the
recording loop, i.e. what the workers wait (GIL hand-offs to the spool thread included).
In-stage CPU: the extra process CPU per op (all threads). At stage end: ``close()`` per op.
Batch 4 is an async worker's batch, 32 a thread worker's. Best of 3. Writes a temporary file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from array import array
from collections.abc import Sequence
from pathlib import Path

from sai3bench.backends.file import FileBackend
from sai3bench.engine.batch import BatchResults
from sai3bench.engine.oplog import OpLogSink, Recorder
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.metrics.collector import OpKind
from sai3bench.metrics.oplog_file import FrameWriter


def _noop(tasks: Sequence[Task], ran: int, out: BatchResults) -> None:
    return None


def _batch(n: int) -> tuple[list[Task], BatchResults]:
    tasks = [(k % 2, f"/bench/data/prepared-{k:08d}.dat", 1024, k) for k in range(n)]
    out = BatchResults(n)
    t = time.perf_counter_ns()
    out.start_ns[:] = array("q", [t + 30_000 * k for k in range(n)])
    out.latency_ns[:] = array("q", [25_000 + k for k in range(n)])
    out.ttfb_ns[:] = array("q", [20_000] * n)
    out.nbytes[:] = array("q", [1024] * n)
    return tasks, out


def _loop(record: Recorder, batches: int, tasks: list[Task], out: BatchResults) -> float:
    """Seconds of wall time for ``batches`` calls."""
    n = len(tasks)
    t0 = time.perf_counter()
    for _ in range(batches):
        record(tasks, n, out)
    return time.perf_counter() - t0


def measure(ops: int, batch: int) -> dict[str, float]:
    tasks, out = _batch(batch)
    batches = ops // batch
    planned = [
        PlannedOp(index=0, kind=OpKind.GET, backend=FileBackend(), label="get"),
        PlannedOp(index=1, kind=OpKind.PUT, backend=FileBackend(), label="put"),
    ]
    base = min(_loop(_noop, batches, tasks, out) for _ in range(3))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.tsv.zst"
        for _ in range(3):
            sink = OpLogSink(FrameWriter(path, fresh=True), first_idx=0, thread_base=0)
            cpu0 = time.process_time()
            during = _loop(sink.chain(_noop, planned), batches, tasks, out)
            cpu1 = time.process_time()
            sink.close()
            runs.append((during, cpu1 - cpu0, time.process_time() - cpu1))
        size = path.stat().st_size
    during, cpu, after = min(runs)
    n = batches * batch
    return {
        "hot_us": (during - base) / n * 1e6,
        "cpu_us": (cpu - base) / n * 1e6,
        "after_us": after / n * 1e6,
        "bytes_per_op": size / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, action="append")
    args = ap.parse_args()
    print("batch  in-stage wall us/op  in-stage CPU us/op  at stage end us/op  file bytes/op")
    for batch in args.batch or [4, 32]:
        r = measure(args.ops, batch)
        print(
            f"{batch:5d}  {r['hot_us']:19.3f}  {r['cpu_us']:18.3f}  {r['after_us']:18.3f}"
            f"  {r['bytes_per_op']:13.1f}"
        )


if __name__ == "__main__":
    main()
