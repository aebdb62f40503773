"""Ctrl-C and SIGTERM during a run: stop the stage at its next op, keep what it did, clean up.

Why not KeyboardInterrupt: it lands at any bytecode (between a PUT and its record, inside a
worker thread's batch, in the middle of a keep-alive exchange), so what prepare created is no
longer known and cleanup can neither remove it nor finish. Instead the run takes the signals
itself and sets a run-wide stop flag that every WorkerPool checks between ops:

- first signal: the running stage stops (pools at their next op, within about a second) and
  returns its partial results; cleanup of what prepare made runs if the config asks for it;
  the process then exits 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
- second signal: cleanup is skipped, or the running cleanup is stopped; the run says how many
  prepared objects it left, and where.

Nothing waits forever on the way out: a stage gets ``STAGE_GRACE`` seconds after the signal,
then it is cancelled; cleanup after a signal gets ``CLEANUP_BOUND`` seconds in all.

Pools find the run's Interrupt through a ContextVar set by ``Interrupt.attach`` (tasks inherit
it), so prepare, cleanup, the workload and task lists need no extra parameter to honour it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, Final, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The signals a run handles: Ctrl-C and the polite kill (systemd, docker stop, timeout(1)).
SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
#: Seconds a stage has, after the first signal, to hand back its partial results.
STAGE_GRACE: Final = 3.0
#: Seconds cleanup may take in all once the run was interrupted (a third of a typical
#: ``docker stop`` / systemd stop timeout is long gone by then; the user is waiting).
CLEANUP_BOUND: Final = 60.0
#: Seconds a cleanup stopped by the second signal has to finish its requests in flight.
CLEANUP_STOP_GRACE: Final = 1.0


class Stoppable(Protocol):
    """A WorkerPool, as far as an interrupt is concerned."""

    def stop(self) -> None: ...


class Say(Protocol):
    def warn(self, line: str) -> None: ...


class StageAbandoned(Exception):
    """A stage did not return within STAGE_GRACE after the signal and was cancelled."""


_active: ContextVar[Interrupt | None] = ContextVar("sai3bench_interrupt", default=None)


class Interrupt:
    """The signals one run received, and what they stopped. One per ``sai3bench run``."""

    def __init__(self, out: Say | None = None) -> None:
        self.out = out
        #: The first signal's number, None while uninterrupted.
        self.signum: int | None = None
        self.count = 0
        #: The stage that was running when the first signal came (None: between stages).
        self.stage: str | None = None
        #: The stage running now (set by the runner).
        self.current: str | None = None
        #: What became of cleanup after the signal: "done", "skipped", "stopped", "timed out".
        self.cleanup: str | None = None
        #: Prepared objects left in the store after a cut-short cleanup, and under which URIs.
        self.objects_left: int | None = None
        self.left_exact = True
        self.left_where: list[str] = []
        self._pools: set[Stoppable] = set()
        #: Pools stop now: after the first signal, except in the cleanup it leads to.
        self._halt = False
        self._in_cleanup = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fired: asyncio.Event | None = None
        self._cleanup_task: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        return f"<Interrupt signal={self.signum} count={self.count} stage={self.stage}>"

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def halting(self) -> bool:
        """Pools stop now: after the first signal (except in the cleanup it leads to, which
        goes on), and after the second."""
        return self._halt

    @property
    def skip_cleanup(self) -> bool:
        """A second signal came: the user wants out now, objects left or not."""
        return self.count >= 2

    @property
    def exit_code(self) -> int:
        """The shell's convention for death by a signal: 128 + its number."""
        return 128 + (self.signum or 0)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def marker(self) -> dict[str, Any]:
        """metadata.json's ``interrupted`` block."""
        mark: dict[str, Any] = {"signal": self.signal_name, "stage": self.stage}
        mark["signals_received"] = self.count
        mark["cleanup"] = self.cleanup
        if self.objects_left is not None:
            mark["objects_left"] = self.objects_left
            mark["objects_left_exact"] = self.left_exact
            mark["left_under"] = self.left_where
        return mark

    # -- receiving signals --------------------------------------------------------------------

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Outside the event loop (loading, starting the mock, saving results): a signal is
        only recorded, so the results being written are not cut short. Restored on exit."""
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread may set handlers; signals stay the caller's
            return
        saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
        for sig in SIGNALS:
            signal.signal(sig, self._sync_handler)
        try:
            yield
        finally:
            for sig, old in saved.items():
                signal.signal(sig, old)

    def _sync_handler(self, signum: int, frame: object) -> None:
        self.on_signal(signum)

    @contextlib.contextmanager
    def attach(self, loop: asyncio.AbstractEventLoop, *, signals: bool = True) -> Iterator[None]:
        """While the engine runs: pools started in this context honour the interrupt, and
        with ``signals`` SIGINT and SIGTERM arrive on ``loop``."""
        self._loop = loop
        self._fired = asyncio.Event()
        if self.requested:
            self._fired.set()
        installed = []
        for sig in SIGNALS if signals else ():
            previous = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, self.on_signal, sig)
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                continue
            installed.append((sig, previous))
        token = _active.set(self)
        try:
            yield
        finally:
            _active.reset(token)
            for sig, previous in installed:
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous)  # remove_signal_handler set the default one
            self._loop = self._fired = None

    def on_signal(self, signum: int) -> None:
        """First signal: stop the stage. Second: stop cleanup too. Later ones: nothing more."""
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            self.signum, self.stage = signum, self.current
            if self._in_cleanup:  # cleanup is what the signal asks for: let it finish
                self._say(f"{name}: finishing cleanup first (again to skip it)")
            else:
                what = f"the {self.current} stage" if self.current else "the run"
                self._say(
                    f"{name}: stopping {what}; partial results are kept (again to skip cleanup)"
                )
                self._halt = True
                self._stop_pools()
            if self._fired is not None:
                self._fired.set()
        elif self.count == 2:
            self._say(f"{name} again: skipping cleanup")
            self._halt = True
            self._stop_pools()
            task, loop = self._cleanup_task, self._loop
            if task is not None and loop is not None:
                loop.call_later(CLEANUP_STOP_GRACE, task.cancel)

    def _say(self, line: str) -> None:
        if self.out is not None:
            self.out.warn(line)

    def _stop_pools(self) -> None:
        for pool in list(self._pools):
            pool.stop()

    # -- what stages call ---------------------------------------------------------------------

    @contextlib.contextmanager
    def watching(self, pool: Stoppable) -> Iterator[None]:
        """Register a running pool; one started after the signal stops at once."""
        self._pools.add(pool)
        if self._halt:
            pool.stop()
        try:
            yield
        finally:
            self._pools.discard(pool)

    async def bounded(
        self, stage: str, coro: Coroutine[Any, Any, T], *, grace: float = STAGE_GRACE
    ) -> T:
        """Run one stage. After the first signal it has ``grace`` seconds to return its
        partial results (its pools stop at their next op); then it is cancelled. Child
        processes get STAGE_GRACE themselves, so their coordinator waits a little longer."""
        self.current = stage
        task = asyncio.ensure_future(coro)
        try:
            if not await self._finished_before_signal(task):
                done, _ = await asyncio.wait({task}, timeout=grace)
                if not done:
                    task.cancel()
                    await asyncio.wait({task}, timeout=1.0)
                    raise StageAbandoned(
                        f"the {stage} stage did not stop within {grace:g}s; "
                        "its requests in flight were abandoned"
                    )
            return task.result()
        finally:
            if not task.done():
                task.cancel()
            self.current = None

    async def _finished_before_signal(self, task: asyncio.Future[Any]) -> bool:
        fired = self._fired
        if fired is None:
            await task
            return True
        waiter = asyncio.ensure_future(fired.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        return task in done

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep`` that a signal ends early (post_prepare_delay)."""
        fired = self._fired
        if fired is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fired.wait(), seconds)

    async def cleanup_stage(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """Run the cleanup a run ends with. A first signal lets it finish (that is what the
        signal asks for) within CLEANUP_BOUND; a second stops it. None when it was skipped or
        cancelled, so its result is unknown (``self.cleanup`` says which)."""
        if self.skip_cleanup:
            coro.close()
            self.cleanup = "skipped"
            return None
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        self._cleanup_task, self._in_cleanup, self._halt = task, True, False
        self.current = "cleanup"
        try:
            if self.requested or not await self._finished_before_signal(task):
                done, _ = await asyncio.wait({task}, timeout=CLEANUP_BOUND)
                if not done:
                    self._say(f"cleanup did not finish within {CLEANUP_BOUND:g}s; stopping it")
                    self._halt = True
                    self._stop_pools()
                    task.cancel()
                    await asyncio.wait({task}, timeout=CLEANUP_STOP_GRACE)
                    self.cleanup = "timed out"
                    return None
            if task.cancelled():
                self.cleanup = "stopped"
                return None
            result = task.result()
            if self.requested:
                self.cleanup = "stopped" if self.skip_cleanup else "done"
            return result
        finally:
            if not task.done():
                task.cancel()
            self._cleanup_task, self._in_cleanup = None, False
            self.current = None


def abandoned(what: str) -> None:
    """Say that a stopped pool left ops in flight (their results are not counted)."""
    stop = _active.get()
    if stop is not None:
        stop._say(f"{what}: abandoned, their results are not counted")
    else:
        log.warning("%s: abandoned", what)


def active() -> Interrupt | None:
    """The running run's Interrupt (None outside ``sai3bench run``: util commands, tests)."""
    return _active.get()


@contextlib.contextmanager
def watching(pool: Stoppable) -> Iterator[None]:
    """Let the active Interrupt, if any, stop ``pool``."""
    interrupt = _active.get()
    if interrupt is None:
        yield
        return
    with interrupt.watching(pool):
        yield
