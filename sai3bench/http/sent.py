"""When a request with a body went out, told to whoever runs the op (the PUT latency split).

Upstream v0.8.90 splits a PUT's latency into setup (data, key, signing: the client's part) and
I/O (the request out to the response in: the storage's part, plus the network). The moment
between the two is inside the HTTP pools, and the backend interface returns only an op's
result, so it travels beside it as resends do (http/resends.py): the engine installs a one-slot
list per worker (``listen``: one asyncio task each), clears it before a PUT, and the pools write
``perf_counter_ns`` into it when the first request carrying a body goes out (``mark``); a
multipart upload's later parts leave it alone.

Must never: cost a request without a body anything (GETs, HEADs, DELETEs, LISTs never call
``mark``), or keep a reference to the request.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

_slot: ContextVar[list[int] | None] = ContextVar("sai3bench_sent", default=None)
_clock = time.perf_counter_ns


def listen(slot: list[int]) -> None:
    """Have ``slot[0]`` receive the send time of the first body-carrying request of the ops
    awaited in this task from now on, once the engine has set it to 0."""
    _slot.set(slot)


def mark() -> None:
    """A request with a body is going out now (called by the pools just before the write)."""
    slot = _slot.get()
    if slot is not None and not slot[0]:
        slot[0] = _clock()
