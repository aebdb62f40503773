"""An engine child process: ``python -m sai3bench.scale.child RESULT_FD``.

It reads frames from stdin (its job, then perhaps Go and Stop) and writes frames to RESULT_FD
(Ready, console lines, a heartbeat a second, its Result). It has its own uvloop loop, backends,
connection pools, data pools and credential refresh: nothing is shared with other processes.

Signals: SIGINT is ignored (the child runs in its own session, and the coordinator forwards a
stop as a frame, exactly once); the child dies with its parent (PR_SET_PDEATHSIG), and an EOF on
stdin (the coordinator went away) stops its stage.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import traceback

import uvloop

from sai3bench.engine.context import RunContext
from sai3bench.engine.interrupt import Interrupt, StageAbandoned
from sai3bench.engine.intervals import EncodedInterval, IntervalPart
from sai3bench.engine.progress import Tick
from sai3bench.engine.runner import open_backends, refreshing
from sai3bench.engine.share_jobs import Failure, ShareDone, ShareJob
from sai3bench.engine.share_run import run_share
from sai3bench.metrics.collector import Collector
from sai3bench.scale import wire
from sai3bench.scale.lifeline import die_with_parent

#: Seconds between heartbeats; the coordinator calls a child hung after several missed.
BEAT_S = 1.0


class ChildOutput:
    """The engine's Output, sent to the coordinator as frames."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, msg: wire.FromChild) -> None:
        data = wire.frame(msg)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def say(self, line: str = "") -> None:
        self.send(wire.Line(line))

    def warn(self, line: str) -> None:
        self.send(wire.Line(line, warn=True))

    def progress(self, line: str) -> None:
        """Free-text lines stay here: only ticks (numbers) add up across processes."""

    def progress_tick(self, tick: Tick) -> None:
        self.send(wire.Progress(tick))

    def interval(self, part: IntervalPart, collector: Collector) -> None:
        """A closed perf-log interval, to be merged with the other shares' by the coordinator."""
        self.send(wire.Interval(EncodedInterval(part, collector.encode())))


class _Control:
    """What arrives on stdin after the job: Go (the start instant) and Stop."""

    def __init__(self, out: ChildOutput, interrupt: Interrupt) -> None:
        self.out = out
        self.interrupt = interrupt
        self.job: asyncio.Future[ShareJob] = asyncio.get_running_loop().create_future()
        self.go: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.reader = wire.FrameReader()

    def on_readable(self) -> None:
        try:
            data = os.read(0, 1 << 16)
        except BlockingIOError:
            return
        if not data:  # the coordinator is gone: stop, and let PDEATHSIG do the rest
            asyncio.get_running_loop().remove_reader(0)
            self.interrupt.on_signal(signal.SIGTERM)
            return
        for body in self.reader.feed(data):
            msg = wire.to_child(body)
            if isinstance(msg, wire.Job) and not self.job.done():
                self.job.set_result(msg.job)
            elif isinstance(msg, wire.Go) and not self.go.done():
                self.go.set_result(msg.start)
            elif isinstance(msg, wire.Stop):
                self.interrupt.on_signal(msg.signum)
                if not self.go.done():  # stopped before the start: start now, stop at once
                    self.go.set_result(time.monotonic())

    async def ready(self) -> float:
        self.out.send(wire.Ready())
        return await self.go


async def _beat(out: ChildOutput) -> None:
    while True:
        out.send(wire.Beat())
        await asyncio.sleep(BEAT_S)


async def _serve(result_fd: int) -> None:
    out = ChildOutput(result_fd)
    interrupt = Interrupt()
    control = _Control(out, interrupt)
    loop = asyncio.get_running_loop()
    os.set_blocking(0, False)
    loop.add_reader(0, control.on_readable)
    beat = asyncio.create_task(_beat(out))
    try:
        job = await control.job
        os.environ.update(job.env)  # forwarded credentials: this process's memory only
        backends = open_backends(job.config, job.options, out)
        ctx = RunContext(backends=backends, concurrency=job.concurrency, out=out, seed=job.seed)
        if job.config.perf_log.enabled:
            ctx.intervals = out
        async with refreshing(backends):
            with interrupt.attach(loop, signals=False):
                try:
                    done = await interrupt.bounded(job.stage, run_share(ctx, job, control.ready))
                except StageAbandoned as exc:
                    done = ShareDone(
                        index=job.index, failure=Failure("RunFailed", str(exc)), interrupted=True
                    )
        out.send(wire.Result(done))
    finally:
        beat.cancel()


def main() -> int:
    die_with_parent(signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    result_fd = int(sys.argv[1])
    os.dup2(2, 1)  # a stray print must not land in the frame stream
    try:
        uvloop.run(_serve(result_fd))
    except Exception:  # a bug: the coordinator shows the last lines of stderr
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
