"""What runs on a Dask worker: one host's shares of one stage, as local engine processes.

A distributed run submits one ``host_stage`` task per worker. The task starts the host's engine
child processes with ``LocalProcessRunner`` (the same supervision as ``processes: N`` on one
host) and talks to the client only through three scheduler-side objects named per stage
(StageNames): a Queue the host sends its console lines, a heartbeat and "ready" into; a Variable
with the one start instant (client wall-clock seconds); an Event that asks every host to stop.
Nothing per op crosses a host boundary.

The task never raises: Dask logs a failed task together with its arguments, and a job may carry
forwarded credentials, so every error comes back as text in a HostResult instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import msgspec

import sai3bench
from sai3bench.engine.intervals import EncodedInterval, IntervalPart
from sai3bench.engine.progress import Tick
from sai3bench.engine.share_jobs import ShareDone, ShareJob
from sai3bench.metrics.collector import Collector
from sai3bench.plan.cores import resolve_processes, usable_cores
from sai3bench.scale.dask_api import Event, Queue, Variable, get_client
from sai3bench.scale.local import LocalProcessRunner

#: Seconds between the host's link ticks (lines and progress flushed). A stop request ends
#: the tick at once: the link long-polls the stop Event.
TICK_S: Final = 0.5
#: A host sends at least this often (a heartbeat when it has nothing to say).
BEAT_S: Final = 1.0
#: Longest wait for the client's start instant once this host is ready.
START_WAIT_S: Final = 120.0

#: What a host sends: (kind, text); kind is "line", "warn", "ready", "beat", "tick" (a
#: progress Tick as JSON) or "interval" (a closed perf-log interval, an EncodedInterval as JSON).
Message = tuple[str, str]


class StageNames(msgspec.Struct, frozen=True):
    """The scheduler-side objects of one stage, by name (unique per stage)."""

    queue: str
    start: str
    stop: str

    @classmethod
    def fresh(cls) -> StageNames:
        token = f"sai3bench-{uuid.uuid4().hex}"
        return cls(queue=f"{token}-msgs", start=f"{token}-start", stop=f"{token}-stop")


class HostResult(msgspec.Struct, frozen=True):
    """One host task's answer: a ShareDone per job, or why the host could not run them."""

    dones: list[ShareDone] = msgspec.field(default_factory=list)
    error: str | None = None


def host_processes(setting: int | Literal["auto"] | None) -> tuple[int, str]:
    """(engine processes this worker's host runs, its sai3bench version): ``auto`` means the
    cores usable on the worker, not on the client."""
    return resolve_processes(setting, cores=usable_cores(), default=1), sai3bench.__version__


def wall_clock() -> float:
    """The worker's wall clock (seconds), for the client's offset measurement."""
    return time.time()


class HostLink(threading.Thread):
    """The engine's Output on a worker, and the thread that carries it to the client: lines
    and heartbeats go into the stage's Queue every tick; a set stop Event calls ``on_stop``."""

    def __init__(self, client: Any, names: StageNames, label: str, prefix: str) -> None:
        super().__init__(name=f"sai3bench-link-{label}", daemon=True)
        self.client = client
        self.names = names
        self.label = label
        self.prefix = prefix
        self.on_stop: Callable[[], None] = lambda: None
        self._pending: list[Message] = []
        self._tick: Tick | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._queue = Queue(names.queue, client=client)

    def __repr__(self) -> str:
        return f"<HostLink {self.label} pending={len(self._pending)}>"

    def say(self, line: str = "") -> None:
        self._add("line", line)

    def warn(self, line: str) -> None:
        self._add("warn", line)

    def progress(self, line: str) -> None:
        """Lines are not sent: the host's summed tick is (progress_tick)."""

    def progress_tick(self, tick: Tick) -> None:
        """The host's processes' latest ticks, added up: the client adds the hosts'."""
        with self._lock:
            self._tick = tick

    def interval(self, part: IntervalPart, collector: Collector) -> None:
        """A closed perf-log interval of one of this host's shares, on to the client."""
        text = msgspec.json.encode(EncodedInterval(part, collector.encode())).decode()
        with self._lock:
            self._pending.append(("interval", text))

    def _add(self, kind: str, line: str) -> None:
        with self._lock:
            self._pending.append((kind, self.prefix + line))

    def send(self, messages: Sequence[Message]) -> None:
        with contextlib.suppress(Exception):  # the scheduler is gone: the client notices
            self._queue.put((self.label, list(messages)))

    def run(self) -> None:
        stop = Event(self.names.stop, client=self.client)
        stopped = False
        last_sent = 0.0
        while not self._closed.is_set():
            if not stopped:
                with contextlib.suppress(Exception):
                    stopped = bool(stop.wait(TICK_S))
                    if stopped:
                        self.on_stop()
            else:
                self._closed.wait(TICK_S)
            last_sent = self._flush(last_sent)
        self._flush(0.0)

    def _flush(self, last_sent: float) -> float:
        with self._lock:
            batch, self._pending = self._pending, []
            if self._tick is not None:
                batch.append(("tick", msgspec.json.encode(self._tick).decode()))
                self._tick = None
        now = time.monotonic()
        if batch or now - last_sent >= BEAT_S:
            self.send(batch or [("beat", "")])
            return now
        return last_sent

    def wait_start(self, offset_s: float) -> float | None:
        """Tell the client this host is ready; return the start instant as this host's
        CLOCK_MONOTONIC seconds (None if the client gave none within START_WAIT_S)."""
        self.send([("ready", "")])
        try:
            start = float(Variable(self.names.start, client=self.client).get(timeout=START_WAIT_S))
        except Exception:
            return None
        return time.monotonic() + (start + offset_s - time.time())

    def close(self) -> None:
        """Stop the thread after a last flush, and release this host's handle on the Queue."""
        self._closed.set()
        if self.is_alive():
            self.join(timeout=5.0)
        with contextlib.suppress(Exception):
            self._queue.close()


async def _run_host(
    jobs: list[ShareJob], label: str, link: HostLink, offset_s: float
) -> list[ShareDone]:
    loop = asyncio.get_running_loop()
    runner: LocalProcessRunner

    async def barrier() -> float:
        start = await asyncio.to_thread(link.wait_start, offset_s)
        if start is None:  # no start from the client: stop rather than run alone
            runner.stop()
            return time.monotonic()
        return start

    runner = LocalProcessRunner(
        len(jobs), link, host=label, barrier=barrier, intervals=link, keep_intervals=True
    )

    def stop_soon() -> None:
        loop.call_soon_threadsafe(runner.stop)

    link.on_stop = stop_soon
    return await runner.run(jobs)


def host_stage(jobs_blob: bytes, label: str, names: StageNames, offset_s: float) -> bytes:
    """The Dask task of one host for one stage: msgpack list of ShareJobs in, HostResult out.

    ``offset_s`` is this worker's clock minus the client's, measured at connect."""
    try:
        jobs = msgspec.msgpack.decode(jobs_blob, type=list[ShareJob])
        link = HostLink(get_client(), names, label, f"[{label}] " if len(jobs) == 1 else "")
        link.start()
        try:
            dones = asyncio.run(_run_host(jobs, label, link, offset_s))
        finally:
            link.close()
        return msgspec.msgpack.encode(HostResult(dones=dones))
    except Exception as exc:  # never raise: see the module docstring
        return msgspec.msgpack.encode(HostResult(error=f"{type(exc).__name__}: {exc}"))


def decode_result(blob: bytes) -> HostResult:
    return msgspec.msgpack.decode(blob, type=HostResult)
