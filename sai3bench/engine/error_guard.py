"""error_handling's guard over the workload: when errors pause the run, and when they end it.

Pure: it is told the time (``now``, seconds on a monotonic clock) and what finished; it never reads
a clock, sleeps or prints. The workload asks ``backoff_until`` before it takes more work and
prints the ``Backoff`` that ``note_*`` returns, so the run never pauses silently.

Upstream's absolute defaults (pause 5 s at 5 errors/s; abort at 100 errors) fire at any real
throughput: with 5 % 503s at ~4,700 ops/s a run makes ~235 errors/s, so it paused 5 s after every
fraction of a second and did 47.8 ops/s. A server that refuses a few requests is a result to
measure, not a reason to idle or stop. So each rule is relative unless the config sets it:

- **Pause.** ``error_rate_threshold`` set: as upstream, as soon as the current window holds
  ``error_rate_threshold * error_rate_window`` errors. Not set: when a window of
  ``error_rate_window`` ends in which at least ``RATIO`` of the finished ops failed (and at least
  ``MIN_ERRORS`` did: one failure of two ops is noise).
- **Abort.** ``max_total_errors`` set: at that many failed ops, as upstream. Not set: once
  ``ABORT_MIN_ERRORS`` ops failed and they are at least ``RATIO`` of all ops that finished.
"""

from __future__ import annotations

from typing import Final, NamedTuple

#: Relative rules: the share of finished ops that must have failed.
RATIO: Final = 0.5
#: Relative pause: a window with fewer errors never pauses.
MIN_ERRORS: Final = 5
#: Relative abort: fewer failed ops never abort (upstream's default max_total_errors).
ABORT_MIN_ERRORS: Final = 100


class Backoff(NamedTuple):
    """One pause: how long (seconds), and why, for the line the run prints."""

    pause_s: float
    reason: str

    def line(self) -> str:
        return f"backing off {self.pause_s:g}s: {self.reason}"


class ErrorGuard:
    """Counts finished ops and errors per window; decides pauses and the abort."""

    __slots__ = (
        "backoff_until",
        "max_errors",
        "ops",
        "pause_s",
        "rate_per_s",
        "total",
        "window_errors",
        "window_ops",
        "window_s",
        "window_start",
    )

    def __init__(
        self,
        *,
        window_s: float,
        pause_s: float,
        rate_per_s: float | None = None,
        max_errors: int | None = None,
        now: float = 0.0,
    ) -> None:
        self.window_s = window_s
        self.pause_s = pause_s
        #: Errors per second that pause the run (absolute rule); None: the relative rule.
        self.rate_per_s = rate_per_s
        #: Failed ops that abort the run (absolute rule); None: the relative rule.
        self.max_errors = max_errors
        self.total = 0  # failed ops
        self.ops = 0  # finished ops, failed or not
        self.window_start = now
        self.window_errors = 0
        self.window_ops = 0
        #: No work is taken before this time (seconds, the caller's monotonic clock).
        self.backoff_until = 0.0

    def __repr__(self) -> str:
        rule = "ratio" if self.rate_per_s is None else f"{self.rate_per_s:g}/s"
        return (
            f"<ErrorGuard pause at {rule} per {self.window_s:g}s, "
            f"{self.total}/{self.ops} failed, window {self.window_errors}/{self.window_ops}>"
        )

    def abort_reason(self) -> str | None:
        """Why the run must stop now, or None to go on."""
        if self.max_errors is not None:
            if self.total < self.max_errors:
                return None
            return (
                f"{self.total:,} errors reached error_handling.max_total_errors "
                f"({self.max_errors:,})"
            )
        ops = max(self.ops, self.total)
        if self.total < ABORT_MIN_ERRORS or self.total < RATIO * ops:
            return None
        return f"{self.total:,} of {ops:,} ops failed ({self.total / ops:.0%} >= {RATIO:.0%})"

    def note_error(self, now: float) -> Backoff | None:
        """Count one failed op; under the absolute rule this may start a pause at once."""
        self.total += 1
        if now < self.window_start:  # in flight when a pause began: not the next window's
            return None
        if self.rate_per_s is None:
            self.window_errors += 1
            return None
        if now - self.window_start >= self.window_s:
            self.window_start, self.window_errors, self.window_ops = now, 0, 0
        self.window_errors += 1
        if self.window_errors / self.window_s < self.rate_per_s:
            return None
        return self._pause(
            now,
            f"{self.window_errors:,} errors within {self.window_s:g}s "
            f"(error_rate_threshold: {self.rate_per_s:g}/s)",
        )

    def note_ops(self, finished: int, now: float) -> Backoff | None:
        """Count ``finished`` ops, failed or not (their errors noted first). Under the relative
        rule a window that has run its length is judged here, and a new one begins."""
        self.ops += finished
        if now < self.window_start:
            return None
        self.window_ops += finished
        if self.rate_per_s is not None or now - self.window_start < self.window_s:
            return None
        errors, ops = self.window_errors, max(self.window_ops, self.window_errors)
        elapsed = now - self.window_start
        self.window_start, self.window_errors, self.window_ops = now, 0, 0
        if errors < MIN_ERRORS or errors < RATIO * ops:
            return None
        return self._pause(
            now,
            f"{errors:,} of {ops:,} ops failed in the last {elapsed:.1f}s "
            f"({errors / ops:.0%}; pausing at {RATIO:.0%})",
        )

    def _pause(self, now: float, reason: str) -> Backoff:
        self.backoff_until = now + self.pause_s
        # The next window starts when the pause ends; ops finishing during it are stragglers.
        self.window_start, self.window_errors, self.window_ops = self.backoff_until, 0, 0
        return Backoff(self.pause_s, reason)
