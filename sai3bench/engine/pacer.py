"""Open-loop rate control (``io_rate``): when each op is meant to start, whatever the workers do.

Why open loop: a closed loop waits for an op to end before it starts the next, so a slow storage
system is offered less load exactly when it is slow, and the waits it caused never show up in a
latency figure (coordinated omission). Here the start instants are fixed in advance from a
seeded schedule; a free worker takes the next one, sleeps until it if early and starts at once
if late. Each op then has a *service* time (its own start to done, the closed loop's latency)
and a *response* time (its intended start to done: what a user at that rate waits, queueing
included).

``schedule`` is pure: the same (rate, distribution, seed, phase) gives the same instants.
- ``deterministic``: one start every 1/rate s, from ``phase_s``; shares of a multi-process run
  are phase-offset (plan/share.py) so their union is one evenly spaced stream.
- ``exponential``: Poisson arrivals. A plain Poisson stream misses its rate by ±1/sqrt(n) over
  n ops (±4 % over 3 s at 200/s), so each block of ``n = rate x 1 s`` ops (100 to 100,000) is a
  Poisson process *given its count*: n exponential gaps scaled to sum to the block's length
  exactly. The gaps are then Beta(1, n-1) x block, exponential to within 1/n, and the offered
  rate is exact block by block. Independent shares sum to the same kind of stream.
- ``uniform``: gaps uniform in [0, 2/rate] (vdbench's meaning), scaled per block likewise.

``Pacer`` hands the instants out in order and keeps the books: slots started, and the backlog
(slots past due, not yet started) at its largest. Not thread-safe: the pool calls it on the loop
or under its lock.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import deque
from collections.abc import Iterator, MutableSequence, Sequence
from typing import Final

#: Ops per block of an exponential or uniform schedule: at least this many so the per-block
#: scaling keeps the gaps close to their distribution; at most the larger so a block's gaps
#: (generated at once) stay small in memory.
BLOCK_MIN: Final = 100
BLOCK_MAX: Final = 100_000
#: Slots a behind-schedule pacer generates ahead to count its backlog exactly; beyond it the
#: backlog is extrapolated at the rate (a client millions of ops behind needs no exact figure).
LOOKAHEAD_MAX: Final = 100_000


def schedule(iops: float, distribution: str, seed: int, phase_s: float = 0.0) -> Iterator[int]:
    """Intended start instants, ns after the origin, non-decreasing, for ``iops`` ops/s."""
    if iops <= 0:
        raise ValueError(f"rate must be > 0, got {iops}")
    if distribution == "deterministic":
        return _deterministic(iops, phase_s)
    if distribution not in ("exponential", "uniform"):
        raise ValueError(f"unknown distribution {distribution!r}")
    return _blocks(iops, distribution == "exponential", random.Random(seed))


def _deterministic(iops: float, phase_s: float) -> Iterator[int]:
    period, phase = 1e9 / iops, phase_s * 1e9
    i = 0
    while True:
        yield round(phase + i * period)
        i += 1


def _blocks(iops: float, exponential: bool, rng: random.Random) -> Iterator[int]:
    n = min(max(round(iops), BLOCK_MIN), BLOCK_MAX)
    block_ns = n * 1e9 / iops
    draw, log = rng.random, math.log
    start = 0.0
    while True:
        gaps = [-log(1.0 - draw()) for _ in range(n)] if exponential else [draw() for _ in range(n)]
        scale = block_ns / sum(gaps)
        instants = [round(start + t * scale) for t in itertools.accumulate(gaps[:-1])]
        start += block_ns  # the block's last slot: exactly its end, so no rounding drift
        instants.append(round(start))
        yield from instants


class Pacer:
    """The schedule of one share in absolute ``perf_counter_ns`` instants, handed out in order.

    ``take(now)`` returns the next slot's instant; the caller sleeps until it if early. The
    backlog is measured at each take (when it is largest: it grows between takes and shrinks by
    one at each) and at the end (``close``).
    """

    __slots__ = ("_ahead", "_next", "deadline_ns", "iops", "max_backlog", "origin_ns", "started")

    def __init__(self, instants: Iterator[int], iops: float, origin_ns: int, deadline_ns: int):
        self._next = instants.__next__
        self._ahead: deque[int] = deque()
        self.iops = iops
        self.origin_ns = origin_ns
        self.deadline_ns = deadline_ns
        #: Ops started (the pool adds each batch's ``ran``): the achieved rate's numerator.
        self.started = 0
        self.max_backlog = 0

    def __repr__(self) -> str:
        return f"<Pacer {self.iops:g}/s started={self.started} max_backlog={self.max_backlog}>"

    def take(self, now: int) -> int:
        """The next slot's instant (absolute ns); counts the backlog when it is past due."""
        ahead = self._ahead
        due = ahead.popleft() if ahead else self.origin_ns + self._next()
        if due <= now:
            backlog = 1 + self._due_by(now)
            if backlog > self.max_backlog:
                self.max_backlog = backlog
        return due

    def take_due(self, now: int, limit: int, into: MutableSequence[int], at: int) -> int:
        """Up to ``limit`` further slots already due by ``now``, written to ``into[at:]``;
        returns how many. A worker behind schedule runs them back to back (every worker is
        busy then anyway), so the per-batch costs are shared as in the closed loop."""
        ahead, n = self._ahead, 0
        while n < limit:
            if not ahead:
                ahead.append(self.origin_ns + self._next())
            if ahead[0] > now:
                break
            into[at + n] = ahead.popleft()
            n += 1
        return n

    def give_back(self, instants: Sequence[int]) -> None:
        """Slots taken but not used (the op mix had fewer tasks): next in line again."""
        self._ahead.extendleft(reversed(instants))

    def close(self, end_ns: int) -> int:
        """The backlog at ``end_ns`` (slots due by then and never started); kept in the max."""
        backlog = self._due_by(end_ns)
        self.max_backlog = max(self.max_backlog, backlog)
        return backlog

    def _due_by(self, now: int) -> int:
        """Slots not yet taken that are due by ``now`` (generated ahead and kept for later)."""
        ahead, origin = self._ahead, self.origin_ns
        while (not ahead or ahead[-1] <= now) and len(ahead) < LOOKAHEAD_MAX:
            ahead.append(origin + self._next())
        if ahead[-1] <= now:  # too far behind to count one by one: extrapolate at the rate
            return len(ahead) + int((now - ahead[-1]) * self.iops / 1e9)
        return len(ahead) - 1 if len(ahead) == 1 or ahead[-2] <= now else _count_le(ahead, now)

    def achieved(self, window_s: float) -> float:
        """Ops started per second over the window."""
        return self.started / window_s if window_s > 0 else 0.0


def _count_le(ahead: deque[int], now: int) -> int:
    """Entries <= ``now`` in the sorted deque (the last one is known to be later)."""
    n = 0
    for t in ahead:
        if t > now:
            break
        n += 1
    return n
