"""Requests the HTTP pools send a second time, told to whoever runs the op that made them.

A pool resends a request on a fresh connection when its first send provably or probably never
reached the server's application (http/pool.py, http/h2pool.py say when). The op then succeeds
or fails as if it had been sent once, so without a word from below the engine would count a
request the server reset as a clean success: with 5 % of requests reset, ~1,260 resends were
hidden in a run that reported "retries: 0".

The backend interface returns only an op's result, so the word travels beside it: the engine
installs a list per worker (``listen``, one asyncio task each), the pools append the outcome of
each attempt they resend (``note_resend``), and the engine files those under the op that was
running as retries (``Collector.record_retry``). With no listener (util commands, tests of the
pools alone) a resend is only counted by its pool.

Must never: keep a reference to anything of the request, or cost anything when nothing is
resent (a ContextVar lookup happens only on the resend path).
"""

from __future__ import annotations

from contextvars import ContextVar

_listener: ContextVar[list[int] | None] = ContextVar("sai3bench_resends", default=None)


def listen(log: list[int]) -> None:
    """Collect the outcomes of resent attempts into ``log``, for ops awaited in this task from
    now on (asyncio gives each task its own copy of the context)."""
    _listener.set(log)


def note_resend(outcome: int) -> None:
    """A pool sends a request again: tell the listener the outcome of the attempt it drops."""
    log = _listener.get()
    if log is not None:
        log.append(outcome)
