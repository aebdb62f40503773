"""``run --op-log FILE``: every op of every stage into upstream's op-log (metrics/oplog_file.py).

The hot path pays one msgpack encode per *batch*, appended to a bytearray (``encode_into``):
the tasks and the batch's start/latency/first-byte/bytes/outcome arrays, ~0.2 us per op. Nothing
GC-tracked is kept: holding the batches' task lists instead cost ~0.9 us per op more in cyclic
GC (they outlived gen0), measured. Every ``FLUSH_ROWS`` ops the buffer goes to a spool thread
that writes it to a hidden spool file beside the op-log. When the stage ends the spool becomes
TSV rows (ISO times from one (time_ns, perf_counter_ns) pair taken when the stage opened the
log) and zstd frames, off the clock: formatting costs ~2.5 us per op of Python, and done during
the stage it would take the GIL from the loop for milliseconds at a time. The hand-off queue
holds ``QUEUED_CHUNKS`` chunks: if the spool falls behind, the workers wait for it (bounded
memory, never dropped rows). A process killed outright (SIGKILL) leaves its stage's rows in the
spool, not in the op-log. Cost: tools/bench_oplog.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from array import array
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, BinaryIO, Final

import msgspec

from sai3bench.engine.batch import LATE, BatchResults
from sai3bench.engine.context import Output
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.options import RunOptions
from sai3bench.errors import UsageError
from sai3bench.metrics.oplog_file import FrameWriter, IsoFormatter, next_idx
from sai3bench.outcome import Outcome

Recorder = Callable[[Sequence[Task], int, BatchResults], None]
#: Ops per chunk handed to the writer thread (one zstd frame each).
FLUSH_ROWS: Final = 16_384
QUEUED_CHUNKS: Final = 4
#: ``thread`` column of a multi-process run: share index x this + worker number.
THREADS_PER_SHARE: Final = 100_000
_OUTCOME_NAMES: Final = {int(o): o.name for o in Outcome}

#: (ops' metadata index, worker id, tasks, ran, start, latency, ttfb, bytes, outcome)
_Batch = tuple[int, int, Sequence[Task], int, Any, Any, Any, Any, Any]
_active: ContextVar[OpLogSink | None] = ContextVar("sai3bench_oplog", default=None)


def worker_path(path: str, index: int, count: int) -> Path:
    """The file share ``index`` of ``count`` writes: ``path`` itself when it is the only one."""
    p = Path(path)
    if count == 1:
        return p
    name = p.name
    for ext in (".tsv.zst", ".zst", ".tsv"):
        if name.endswith(ext):
            return p.with_name(f"{name[: -len(ext)]}-worker-{index}{ext}")
    return p.with_name(f"{name}-worker-{index}")


def endpoint_and_prefix(root_uri: str) -> tuple[str, str]:
    """A backend's root URI split as the op-log's columns: ``s3://bucket/`` -> (``s3://``,
    ``bucket/``); an endpoint in the URI stays in the endpoint column (``s3://host:9000/``)."""
    scheme, sep, rest = root_uri.partition("://")
    if not sep:
        return "", root_uri
    head, _, tail = rest.partition("/")
    if ":" in head:
        return f"{scheme}://{head}/", tail
    return f"{scheme}://", rest


class OpLogSink:
    """One engine process's op-log for one stage. Its recorders run on the loop or under the
    worker pool's lock, one at a time; the spool thread writes chunks; ``close`` formats."""

    def __init__(self, writer: FrameWriter, *, first_idx: int, thread_base: int) -> None:
        self._writer = writer
        self._spool = _Spool(writer.path.with_name(f".{writer.path.name}.{os.getpid()}.spool"))
        self._idx = first_idx
        self._thread_base = thread_base
        self._client = os.environ.get("SAI3_CLIENT_ID") or "standalone"
        self._offset = time.time_ns() - time.perf_counter_ns()
        self._metas: list[list[tuple[str, str, str]]] = []
        self._workers: dict[int, int] = {}
        self._enc = msgspec.msgpack.Encoder()
        self._buf = bytearray()
        self._batches = 0
        self._rows = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUED_CHUNKS)
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._drain, name="sai3bench-oplog", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<OpLogSink {self._writer.path} idx={self._idx} pending={self._rows}>"

    @classmethod
    def open(cls, path: Path, *, since_ns: int, thread_base: int) -> OpLogSink:
        """The sink for ``path``: a new file when it is absent or older than the run (written
        before ``since_ns``), else appended to, its idx continuing."""
        try:
            fresh = not path.exists() or path.stat().st_mtime_ns < since_ns
            first = 0 if fresh else next_idx(path)
            writer = FrameWriter(path, fresh=fresh)
        except OSError as exc:
            raise UsageError(
                f"op-log: cannot write {path}: {exc.strerror}",
                hint="point --op-log at a writable directory",
            ) from None
        return cls(writer, first_idx=first, thread_base=thread_base)

    def chain(self, record: Recorder, ops: Sequence[PlannedOp]) -> Recorder:
        """``record``, then this op-log's per-batch append."""
        meta = len(self._metas)
        self._metas.append([_op_columns(op) for op in ops])
        flush_rows, encode, buf = FLUSH_ROWS, self._enc.encode_into, self._buf

        def on_batch(tasks: Sequence[Task], ran: int, out: BatchResults) -> None:
            record(tasks, ran, out)
            if ran:
                row = (
                    meta,
                    id(out),
                    tasks if len(tasks) == ran else tasks[:ran],
                    ran,
                    out.start_ns[:ran].tobytes(),
                    out.latency_ns[:ran].tobytes(),
                    out.ttfb_ns[:ran].tobytes(),
                    out.nbytes[:ran].tobytes(),
                    out.outcome[:ran].tobytes(),
                )
                encode(row, buf, -1)  # appended: the buffer is cleared, never replaced
                self._batches += 1
                self._rows += ran
                if self._rows >= flush_rows:
                    self._hand_off()

        return on_batch

    def _hand_off(self) -> None:
        self._queue.put(self._chunk())

    def _chunk(self) -> bytes:
        """The batches encoded since the last chunk, as one msgpack array; the buffer reset."""
        chunk = b"\xdd" + self._batches.to_bytes(4, "big") + self._buf
        self._buf.clear()
        self._batches = self._rows = 0
        return chunk

    def close(self) -> str | None:
        """Stop the spool thread, turn the spool and what is left into rows, close the file;
        the failure, if writing failed. Blocking: call it in a thread."""
        self._queue.put(None)
        self._thread.join()
        try:
            if self.failure is None:
                for chunk in self._spool.chunks():
                    self._writer.write(self._format(_batches(chunk)))
                self._writer.write(self._format(_batches(self._chunk())))
                self._writer.mark_next_idx(self._idx)
        except OSError as exc:
            self.failure = f"cannot write {self._writer.path}: {exc.strerror}"
        finally:
            self._spool.remove()
            self._writer.close()
        return self.failure

    def _drain(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self.failure is not None:
                continue  # keep taking chunks so the workers never wait on a dead spool
            try:
                self._spool.put(chunk)
            except OSError as exc:
                self.failure = f"cannot write {self._spool.path}: {exc.strerror}"

    def _format(self, chunk: list[_Batch]) -> str:
        """Rows of one chunk; idx continues from the chunk before."""
        iso, offset, client, names = IsoFormatter(), self._offset, self._client, _OUTCOME_NAMES
        lines: list[str] = []
        idx = self._idx
        for meta, worker, tasks, ran, st, lat, tt, nb, oc in chunk:
            cols, thread = self._metas[meta], self._thread_no(worker)
            for j in range(ran):
                task = tasks[j]
                op, endpoint, prefix = cols[task[0]]
                start, took = st[j] + offset, lat[j]
                end = iso(start + took)
                first = iso(start + tt[j]) if tt[j] else end
                code = oc[j] & ~LATE
                err = names.get(code, str(code)) if code else ""
                lines.append(
                    f"{idx}\t{thread}\t{op}\t{client}\t1\t{nb[j]}\t{endpoint}\t{prefix}{task[1]}"
                    f"\t{err}\t{iso(start)}\t{first}\t{end}\t{took}\n"
                )
                idx += 1
        self._idx = idx
        return "".join(lines)

    def _thread_no(self, worker: int) -> int:
        """A small number per worker (its BatchResults' id), offset by the share."""
        n = self._workers.get(worker)
        if n is None:
            n = self._workers[worker] = len(self._workers)
        return self._thread_base + n


class _Spool:
    """A stage's chunks on disk until it ends: length-prefixed msgpack arrays."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"<_Spool {self.path}>"

    def put(self, chunk: bytes) -> None:
        if self._file is None:
            self._file = self.path.open("w+b")
        self._file.write(len(chunk).to_bytes(4, "little") + chunk)

    def chunks(self) -> Iterator[bytes]:
        """The chunks written, in order (one in memory at a time)."""
        if self._file is None:
            return
        f = self._file
        f.flush()
        f.seek(0)
        while head := f.read(4):
            yield f.read(int.from_bytes(head, "little"))

    def remove(self) -> None:
        if self._file is not None:
            self._file.close()
            self.path.unlink(missing_ok=True)


def _batches(chunk: bytes) -> list[_Batch]:
    """A chunk decoded: the arrays rebuilt from their bytes (int64 x 4, then uint8 outcomes)."""
    return [
        (m, w, t, r, *(array("q", b) for b in (st, lat, tt, nb)), array("B", oc))
        for m, w, t, r, st, lat, tt, nb, oc in msgspec.msgpack.decode(chunk)
    ]


def _op_columns(op: PlannedOp) -> tuple[str, str, str]:
    """(op, endpoint, file prefix) of a planned op: the file column is prefix + key."""
    endpoint, prefix = endpoint_and_prefix(op.backend.uri_of(""))
    return op.kind.name, endpoint, prefix


def chained(record: Recorder, ops: Sequence[PlannedOp]) -> Recorder:
    """``record`` with the op-log's append after it when this stage writes an op-log."""
    sink = _active.get()
    return record if sink is None else sink.chain(record, ops)


@contextlib.asynccontextmanager
async def recording(
    options: RunOptions, index: int, count: int, out: Output
) -> AsyncIterator[OpLogSink | None]:
    """The op-log of one share of one stage, open while the stage runs (``--op-log``)."""
    if options.op_log is None:
        yield None
        return
    path = worker_path(options.op_log, index, count)
    base = index * THREADS_PER_SHARE if count > 1 else 0
    sink = await asyncio.to_thread(
        OpLogSink.open, path, since_ns=options.op_log_since_ns, thread_base=base
    )
    token = _active.set(sink)
    try:
        yield sink
    finally:
        _active.reset(token)
        failure = await asyncio.to_thread(sink.close)
        if failure is not None:
            out.warn(f"op-log: {failure}; the file holds the rows written before")
