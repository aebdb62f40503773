"""``processes: N`` on one host: one engine child process per share, supervised.

Each stage starts its children afresh (``python -m sai3bench.scale.child``), hands each its
share, and collects one ShareDone per child. The workload's children all report Ready (share
planned, pools built) before the runner's barrier picks one start instant for all of them.

Failure is loud and bounded: a child that exits without a result, or sends no heartbeat for
HANG_S seconds, is killed and comes back ``lost`` (with its last stderr line); the others are
asked to stop, so the run ends within seconds. Children run in their own session, so a Ctrl-C
at the terminal reaches only the coordinator, which forwards one Stop to each child.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import msgspec

from sai3bench.engine.context import Output
from sai3bench.engine.interrupt import STAGE_GRACE
from sai3bench.engine.intervals import EncodedInterval, IntervalSink
from sai3bench.engine.progress import ProgressSink, Tick, add_ticks, format_progress
from sai3bench.engine.share_jobs import ShareDone, ShareJob
from sai3bench.scale import wire

#: Seconds without a heartbeat after which a child counts as hung and is killed.
HANG_S: Final = 5.0
#: Seconds between the last Ready and the start instant: time to deliver Go to every child.
START_MARGIN_S: Final = 0.02
#: Lines of a child's stderr kept for the message when it dies.
_TAIL = 20

#: Told once every child of this host is ready; returns the start instant (CLOCK_MONOTONIC s).
HostBarrier = Callable[[], Awaitable[float]]


async def local_start() -> float:
    return time.monotonic() + START_MARGIN_S


class _Child:
    """One engine child process: its pipes, the frames it sent, and how it ended."""

    def __init__(self, job: ShareJob, label: str) -> None:
        self.job = job
        self.label = label
        self.proc: asyncio.subprocess.Process | None = None
        self.result_r = -1
        self.done: ShareDone | None = None
        self.ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.last_beat = time.monotonic()
        self.stderr: deque[str] = deque(maxlen=_TAIL)
        self.lost: str | None = None
        self.tick: Tick | None = None
        #: Closed perf-log intervals kept for the result when the runner has no live sink.
        self.intervals: list[EncodedInterval] = []

    def __repr__(self) -> str:
        return f"<_Child {self.label} done={self.done is not None} lost={self.lost}>"

    def send(self, msg: wire.ToChild) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            proc.stdin.write(wire.frame(msg))

    def last_error(self) -> str:
        lines = [x for x in self.stderr if x.strip()]
        return lines[-1].strip() if lines else "no output"

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


class LocalProcessRunner:
    """Runs each stage's shares in ``processes`` child processes of this host."""

    def __init__(
        self,
        processes: int,
        out: Output,
        *,
        host: str = "local",
        barrier: HostBarrier = local_start,
        show_progress: bool = True,
        intervals: IntervalSink | None = None,
        keep_intervals: bool = False,
    ) -> None:
        self.shares = processes
        self.out = out
        self.host = host
        self.barrier = barrier
        self.show_progress = show_progress
        #: Where the children's closed intervals go as they come (the coordinator's merger,
        #: or a Dask host's link to the client); without one, or with ``keep_intervals`` (a
        #: Dask host: a streamed one may be late), they also travel in each share's result.
        self.intervals = intervals
        self.keep_intervals = keep_intervals or intervals is None
        #: Children get STAGE_GRACE after a Stop; the coordinator waits a little longer.
        self.grace = STAGE_GRACE + 3.0
        self.clock_offsets_ms: dict[str, float] = {}
        self._children: list[_Child] = []
        self._stop_signum: int | None = None

    def __repr__(self) -> str:
        return f"<LocalProcessRunner {self.shares} processes on {self.host}>"

    def stop(self, signum: int = signal.SIGINT) -> None:
        self._stop_signum = signum
        for child in self._children:
            child.send(wire.Stop(signum))

    async def run(self, jobs: Sequence[ShareJob]) -> list[ShareDone]:
        children = [_Child(job, f"{self.host} process {k}") for k, job in enumerate(jobs)]
        self._children = children
        try:
            await asyncio.gather(*(self._spawn(c) for c in children))
            if self._stop_signum is not None:
                self.stop(self._stop_signum)
            watchers = [asyncio.create_task(self._watch(c)) for c in children]
            starter = asyncio.create_task(self._start_together(children))
            hang = asyncio.create_task(self._hang_guard(children))
            try:
                await asyncio.gather(*watchers)
            finally:
                starter.cancel()
                hang.cancel()
            return [self._done(k, c) for k, c in enumerate(children)]
        finally:
            for c in children:
                c.kill()
            await asyncio.gather(*(self._reap(c) for c in children))
            self._children = []
            # A stop belongs to the stage it was sent in: a share lost in the workload stops the
            # workload's other shares, never the cleanup that follows (it used to: the cleanup
            # children got the Stop at once and left objects behind, reported as deleted).
            self._stop_signum = None
            if self.show_progress:
                self.out.progress("")

    def _done(self, process: int, c: _Child) -> ShareDone:
        if c.done is not None:
            return msgspec.structs.replace(
                c.done, host=self.host, process=process, intervals=c.intervals
            )
        return ShareDone(index=c.job.index, host=self.host, process=process, lost=c.lost)

    async def _spawn(self, c: _Child) -> None:
        r, w = os.pipe()
        try:
            c.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sai3bench.scale.child",
                str(w),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(w,),
                start_new_session=True,
            )
        finally:
            os.close(w)
        c.result_r = r
        c.send(wire.Job(c.job))

    async def _watch(self, c: _Child) -> None:
        """Read the child's frames until it ends; a child gone without a Result is lost."""
        assert c.proc is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(c.result_r, "rb", 0)
        )
        errs = asyncio.create_task(self._stderr(c))
        frames = wire.FrameReader()
        try:
            while data := await reader.read(1 << 16):
                for body in frames.feed(data):
                    self._on_frame(c, wire.from_child(body))
        finally:
            transport.close()
        code = await c.proc.wait()
        await errs
        if c.done is None and c.lost is None:
            how = f"exit code {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"
            c.lost = f"{c.label} (pid {c.proc.pid}) died ({how}); last: {c.last_error()}"
        c.ended.set()
        if c.lost is not None and c.job.stage != "cleanup":
            # The others stop too: the run is over. Not in cleanup: the others' deletes are
            # what still keeps the store clean (the lost one's indices count as left).
            self.stop(signal.SIGTERM)

    async def _stderr(self, c: _Child) -> None:
        assert c.proc is not None and c.proc.stderr is not None
        while line := await c.proc.stderr.readline():
            c.stderr.append(line.decode("utf-8", "replace"))

    def _on_frame(self, c: _Child, msg: wire.FromChild) -> None:
        c.last_beat = time.monotonic()
        if isinstance(msg, wire.Result):
            c.done = msg.done
        elif isinstance(msg, wire.Ready):
            c.ready.set()
        elif isinstance(msg, wire.Interval):
            if self.keep_intervals:
                c.intervals.append(msg.interval)
            if self.intervals is not None:
                self.intervals.interval(msg.interval.part, msg.interval.decoded())
        elif isinstance(msg, wire.Line):
            text = f"[{c.label}] {msg.text}" if self.shares > 1 else msg.text
            (self.out.warn if msg.warn else self.out.say)(text)
        elif isinstance(msg, wire.Progress) and self.show_progress:
            c.tick = msg.tick
            if c is self._children[0]:  # one line a second, for every process together
                ticks = [x.tick for x in self._children if x.tick is not None]
                if isinstance(self.out, ProgressSink):  # a Dask host: its client adds hosts up
                    self.out.progress_tick(add_ticks(ticks))
                    return
                line = format_progress(add_ticks(ticks))
                self.out.progress(f"{line}  ({len(ticks)} processes)")

    async def _start_together(self, children: list[_Child]) -> None:
        """Once every child is ready: one start instant, sent to all."""
        await asyncio.gather(*(c.ready.wait() for c in children))
        start = await self.barrier()
        for c in children:
            c.send(wire.Go(start))

    async def _hang_guard(self, children: list[_Child]) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for c in children:
                if not c.ended.is_set() and c.lost is None and now - c.last_beat > HANG_S:
                    pid = c.proc.pid if c.proc is not None else "?"
                    c.lost = (
                        f"{c.label} (pid {pid}) hung: no heartbeat for {HANG_S:g}s; "
                        f"last: {c.last_error()}"
                    )
                    c.kill()

    async def _reap(self, c: _Child) -> None:
        if c.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                await c.proc.wait()
