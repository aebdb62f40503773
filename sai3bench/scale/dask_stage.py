"""One stage over the hosts of a Dask cluster, supervised from the client (in a thread).

Each host gets one task, pinned to its worker (``workers=[address]``, no other worker allowed,
no retries): Dask never moves a host's shares elsewhere. The supervisor then, every tick,
reads the hosts' messages (console lines, heartbeats, "ready"), publishes the one start instant
once every host still running is ready, forwards a stop request, and watches the scheduler's
worker list: a worker that leaves, or a host silent for HANG_S, is lost. A lost host stops the
others, and its shares come back ``lost`` naming the host, so the coordinator fails the run
and accounts for what they made. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from sai3bench.engine.intervals import EncodedInterval
from sai3bench.engine.progress import Tick, add_ticks, format_progress
from sai3bench.engine.share_jobs import ShareDone, ShareJob
from sai3bench.scale.dask_api import Event, Queue, Variable
from sai3bench.scale.dask_connect import DaskHost
from sai3bench.scale.hostside import HostResult, StageNames, decode_result, host_stage

#: Seconds between the client's start decision and the start instant: time for the Variable to
#: reach every host and for each host to hand Go to its processes.
START_MARGIN_S: Final = 0.1
#: A host that sends nothing (not even its heartbeat, sent each second) for this long is lost.
HANG_S: Final = 10.0
#: A tick this much later than the last one: the supervisor itself was held up (a slow call,
#: no CPU), so the hosts' silence in between is not counted against them.
STALL_S: Final = 2.0
#: Seconds between two looks at the scheduler's worker list.
WORKERS_EVERY_S: Final = 1.0
#: Seconds between two looks at the hosts' messages: quick while the workload's hosts get
#: ready (the start follows the last "ready"), slower after (a finished host ends the wait).
FAST_TICK_S: Final = 0.05
TICK_S: Final = 0.25
RESULT_S: Final = 30.0
#: The scheduler unreachable this long: every host still running is lost. The loop-side
#: watchdog gives the supervisor thread a little longer (its calls may block, not fail).
SCHEDULER_LOST_S: Final = 15.0
WATCHDOG_S: Final = SCHEDULER_LOST_S + 5.0

#: Seconds between two progress lines.
PROGRESS_S: Final = 1.0

Say = Callable[[str, bool], None]


class HostRun:
    """One host's part of the stage: its jobs, its task, and how it ended."""

    def __init__(self, host: DaskHost, jobs: list[ShareJob]) -> None:
        self.host = host
        self.jobs = jobs
        self.future: Any = None
        self.ready = False
        #: Its processes' latest progress, added up on the host.
        self.tick: Tick | None = None
        self.last_heard = time.monotonic()
        self.result: HostResult | None = None
        self.lost: str | None = None

    def __repr__(self) -> str:
        return f"<HostRun {self.host.label} jobs={len(self.jobs)} lost={self.lost}>"

    @property
    def ended(self) -> bool:
        return self.result is not None or self.lost is not None

    def dones(self) -> list[ShareDone]:
        """One ShareDone per job: the host's own, or ``lost`` with the reason."""
        label = self.host.label
        if self.result is not None and self.result.error is None:
            return list(self.result.dones)
        why = self.lost or f"host {label} failed: {self.result.error if self.result else '?'}"
        return [
            ShareDone(index=j.index, host=label, process=k, lost=why)
            for k, j in enumerate(self.jobs)
        ]


class StageRun:
    """Runs ``hosts`` (each with its jobs) as one stage and waits for all of them."""

    def __init__(
        self,
        client: Any,
        hosts: Sequence[HostRun],
        say: Say,
        progress: Callable[[str], None],
        *,
        stop: threading.Event,
        interval: Callable[[EncodedInterval], None] | None = None,
    ) -> None:
        self.client = client
        #: Told each perf-log interval a host streams (from this thread: it must hop).
        self.interval = interval
        self.hosts = [h for h in hosts if h.jobs and h.lost is None]
        self.say = say
        self.progress = progress
        self.stage = self.hosts[0].jobs[0].stage if self.hosts else ""
        self._progress_at = 0.0
        self.names = StageNames.fresh()
        #: Set by the runner (a signal) or by the supervisor (a host lost or failed).
        self.stop_requested = stop
        self.abandoned = threading.Event()
        #: Set when a host's task finishes (a Future callback) or the stage is abandoned.
        self._woken = threading.Event()
        self.start_published = False
        self._stop_sent = False
        self._workers_at = 0.0
        self._scheduler_ok = self._ticked = time.monotonic()

    def __repr__(self) -> str:
        return f"<StageRun hosts={len(self.hosts)} start={self.start_published}>"

    def run(self) -> None:
        """Submit every host's task and supervise until each has a result or is lost."""
        if not self.hosts:
            return
        # Made here, in the supervisor's thread: each is a blocking call to the scheduler.
        self._queue = Queue(self.names.queue, client=self.client)
        self._stop = Event(self.names.stop, client=self.client)
        self._start = Variable(self.names.start, client=self.client)
        self._submit()
        try:
            while not all(h.ended for h in self.hosts) and not self.abandoned.is_set():
                self._tick()
        finally:
            self._drain()
            self._release()
            self.progress("")

    def _submit(self) -> None:
        for h in self.hosts:
            blob = msgspec.msgpack.encode(h.jobs)
            h.future = self.client.submit(
                host_stage,
                blob,
                h.host.label,
                self.names,
                h.host.offset_ms / 1e3,
                key=f"sai3bench-host-{h.host.label}-{uuid.uuid4().hex}",
                workers=[h.host.address],
                allow_other_workers=False,
                pure=False,
                retries=0,
            )
            h.future.add_done_callback(self._wake)

    def _tick(self) -> None:
        if self.stop_requested.is_set() and not self._stop_sent:
            self._stop_sent = self._call(self._stop.set)
        self._pause(FAST_TICK_S if self._barrier_pending() else TICK_S)
        self._drain()
        now = time.monotonic()
        if now - self._ticked > STALL_S:  # this thread was held up: silence meant nothing
            for h in self.hosts:
                h.last_heard = max(h.last_heard, now)
        self._ticked = now
        for h in self.hosts:
            if not h.ended and h.future is not None and h.future.done():
                self._collect(h)
            elif not h.ended and now - h.last_heard > HANG_S:
                self._lose(h, f"host {h.host.label} lost: no word from it for {HANG_S:g}s")
        if now - self._workers_at >= WORKERS_EVERY_S:
            self._workers_at = now
            self._check_workers(now)
        self._maybe_start()
        if now - self._progress_at >= PROGRESS_S:
            self._progress_at = now
            self._show_progress()

    def _show_progress(self) -> None:
        """One line a second for the whole run: every running host's latest tick added up."""
        ticks = [h.tick for h in self.hosts if h.tick is not None and not h.ended]
        if ticks:
            line = format_progress(add_ticks(ticks))
            self.progress(f"{line}  ({len(ticks)} hosts)")

    def _call(self, fn: Callable[[], Any]) -> bool:
        """One scheduler call; False (and the time it last worked kept) if it failed."""
        try:
            fn()
        except Exception:
            return False
        self._scheduler_ok = time.monotonic()
        return True

    def _barrier_pending(self) -> bool:
        return self.stage == "workload" and not self.start_published

    def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less if a host's task finishes or the stage is abandoned (a
        wait on this client alone: no call to the scheduler)."""
        self._woken.wait(seconds)
        self._woken.clear()

    def _wake(self, _future: object = None) -> None:
        self._woken.set()

    def _drain(self) -> None:
        """The hosts' messages, all there are. Never a Queue.get with a timeout: the
        scheduler logs every one that times out as an error."""
        batch: list[Any] = []
        with contextlib.suppress(Exception):
            batch.extend(self._queue.get(batch=True))
            self._scheduler_ok = time.monotonic()
        by_label = {h.host.label: h for h in self.hosts}
        for label, messages in batch:
            h = by_label.get(label)
            if h is None:
                continue
            h.last_heard = time.monotonic()
            for kind, text in messages:
                if kind == "ready":
                    h.ready = True
                elif kind == "tick":
                    h.tick = msgspec.json.decode(text, type=Tick)
                elif kind in ("line", "warn"):
                    self.say(text, kind == "warn")
                elif kind == "interval" and self.interval is not None:
                    self.interval(msgspec.json.decode(text, type=EncodedInterval))

    def _collect(self, h: HostRun) -> None:
        assert h.future is not None
        try:
            h.result = decode_result(h.future.result(timeout=RESULT_S))
        except Exception as exc:  # cancelled, or the worker died as it finished
            self._lose(h, f"host {h.host.label} lost: its task ended with {type(exc).__name__}")
            return
        if h.result.error is not None or any(d.lost for d in h.result.dones):
            self._stop_all()  # the run fails: the other hosts stop too

    def _check_workers(self, now: float) -> None:
        workers: set[str] = set()
        if not self._call(lambda: workers.update(self.client.nthreads())):
            if now - self._scheduler_ok > SCHEDULER_LOST_S:
                for h in self.hosts:
                    if not h.ended:
                        self._lose(
                            h, f"host {h.host.label} lost: the Dask scheduler is unreachable"
                        )
            return
        for h in self.hosts:
            if not h.ended and h.host.address not in workers:
                self._lose(h, f"host {h.host.label} lost: its Dask worker left the cluster")

    def silent_s(self) -> float:
        """Seconds since a call to the scheduler last worked."""
        return time.monotonic() - self._scheduler_ok

    def abandon(self) -> None:
        """From the loop: the thread ends at its next tick."""
        self.abandoned.set()
        self._wake()

    def give_up(self, why: str) -> None:
        """From the loop: the supervisor thread is stuck; every host still running is lost."""
        self.abandon()
        for h in self.hosts:
            if not h.ended:
                h.lost = f"host {h.host.label} lost: {why}"

    def _lose(self, h: HostRun, why: str) -> None:
        h.lost = why
        if h.future is not None:
            with contextlib.suppress(Exception):
                h.future.cancel()
        self._stop_all()

    def _stop_all(self) -> None:
        """The run fails: the other hosts stop too, except in cleanup, where they finish
        deleting their own shares (stopping them would leave those objects too)."""
        if self.stage != "cleanup":
            self.stop_requested.set()

    def _maybe_start(self) -> None:
        """Once every host still running is ready: one start instant, client wall clock."""
        if self.start_published:
            return
        running = [h for h in self.hosts if not h.ended]
        if running and all(h.ready for h in running):
            start = time.time() + START_MARGIN_S
            self.start_published = self._call(lambda: self._start.set(start))

    def _release(self) -> None:
        """Forget the stage's scheduler-side objects (a bounded best effort). The stop Event
        is left set, not cleared: a host that was frozen and comes back then stops at once."""
        for release in (self._stop.set, self._start.delete, self._queue.close):
            with contextlib.suppress(Exception):
                release()
        for h in self.hosts:
            if h.future is not None and not h.ended:
                with contextlib.suppress(Exception):
                    h.future.cancel()


async def supervise(stage: StageRun) -> None:
    """Run ``stage`` in a daemon thread (its Dask calls block) and wait for it. A thread whose
    scheduler calls stopped answering for WATCHDOG_S is given up: its hosts are lost, and a
    daemon thread cannot keep the process from exiting."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()

    def body() -> None:
        try:
            stage.run()
        except Exception as exc:  # a bug: the run fails on its hosts, not with a traceback
            stage.give_up(f"supervising it failed ({type(exc).__name__}: {exc})")
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed
                loop.call_soon_threadsafe(_finish, finished)

    threading.Thread(target=body, name="sai3bench-dask-stage", daemon=True).start()
    try:
        while not finished.done():
            await asyncio.wait([finished], timeout=1.0)
            if not finished.done() and stage.silent_s() > WATCHDOG_S:
                stage.give_up(f"the Dask scheduler did not answer for {WATCHDOG_S:g}s")
                return
    finally:
        stage.abandon()  # cancelled (a stage that did not stop in time): end the thread


def _finish(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
