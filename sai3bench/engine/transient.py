"""Which failures are worth another try, how long to wait before it, and a retry loop for one
request the engine makes on its own behalf (a LIST, a DeleteObjects batch).

Rule: the one definition of "transient" lives here. Prepare, cleanup, glob resolution and the
workload's ``retry_on_error`` all ask ``is_transient``; nothing else keeps a list of outcomes.

Transient (the same request may well succeed in a moment):
    THROTTLED     503 SlowDown / 429: the server asks us to slow down. Real S3 sends it
                  routinely under prepare load.
    SERVER_ERROR  other 5xx (InternalError, 502/504 from a load balancer).
    TIMEOUT       no complete response in time, or a connect that timed out.
    CONNECTION    reset, refused, closed mid-response: a truncated reply lands here.
    PROTOCOL      a malformed reply (a garbled or cut-short XML body from a proxy). A server
                  that *always* answers garbage still fails, once the retries run out.
Permanent (asking again gives the same answer, so fail at once with a hint that fits):
    PERMISSION    401/403: credentials or policy.
    NOT_FOUND     404: a missing bucket, container or directory (or an object already gone).
    CLIENT_ERROR  400 and other 4xx: the request itself is wrong.
    NO_SPACE      ENOSPC: nothing will free space by waiting.
    OTHER         unknown: not retried, so an unexpected error is seen, not hidden.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from sai3bench.backends.base import Backend, ObjectInfo
from sai3bench.outcome import OpError, Outcome

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_OUTCOMES: Final = frozenset(
    {
        Outcome.THROTTLED,
        Outcome.SERVER_ERROR,
        Outcome.TIMEOUT,
        Outcome.CONNECTION,
        Outcome.PROTOCOL,
    }
)


def is_transient(outcome: int) -> bool:
    """True when the same request may succeed if sent again after a pause (see the module doc).

    Takes an int so outcome codes from result arrays need no conversion; a LATE flag or an
    unknown number is not transient.
    """
    return outcome in TRANSIENT_OUTCOMES


class RetryPolicy:
    """A jittered exponential backoff schedule; ``max_retries == 0`` disables retries.

    Attempt ``n`` (0-based) waits ``min(max_s, first_s * multiplier**n)`` seconds, spread by
    +-``jitter`` of itself so that many workers throttled together do not return together.
    """

    __slots__ = ("first_s", "jitter", "max_retries", "max_s", "multiplier")

    def __init__(
        self,
        max_retries: int = 0,
        first_s: float = 0.1,
        max_s: float = 5.0,
        multiplier: float = 2.0,
        jitter: float = 0.25,
    ) -> None:
        self.max_retries = max_retries
        self.first_s = first_s
        self.max_s = max_s
        self.multiplier = multiplier
        self.jitter = jitter

    def __repr__(self) -> str:
        return (
            f"<RetryPolicy {self.max_retries} retries, {self.first_s:g}s x{self.multiplier:g} "
            f"up to {self.max_s:g}s, jitter {self.jitter:g}>"
        )

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        base = min(self.max_s, self.first_s * self.multiplier**attempt)
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0)))


#: The engine's own requests (prepare PUTs, cleanup deletes, the LISTs behind prepare and globs):
#: 8 retries wait 0.1 + 0.2 + ... + 3.2 + 5 + 5 = 16.3 s in all (8.2 to 24.5 s with the jitter). At
#: a 5 % fault rate an object then fails with odds of 0.05**9, about 2e-12; a server that is down
#: for good is reported after those pauses plus its failed passes (retry_rounds probes once a
#: pass got no success), not retried forever.
STAGE_RETRY: Final = RetryPolicy(max_retries=8, first_s=0.1, max_s=5.0, multiplier=2.0, jitter=0.5)

#: Told before each retry: (the failure, the retry number starting at 1, seconds to wait).
RetryHook = Callable[[OpError, int, float], None]


async def retry_transient(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy = STAGE_RETRY,
    on_retry: RetryHook | None = None,
    rng: random.Random | None = None,
) -> T:
    """Await ``call()``; on a transient OpError wait per ``policy`` and call it again.

    A permanent OpError (by outcome, or flagged ``permanent`` by the layer that saw it: an
    untrusted certificate), or the last transient one once the retries run out, propagates
    unchanged, so the caller's one-line message names the real outcome.
    """
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return await call()
        except OpError as exc:
            if exc.permanent or not is_transient(exc.outcome) or attempt >= policy.max_retries:
                raise
            wait = policy.delay_s(attempt, rng)
            attempt += 1
            if on_retry is not None:
                on_retry(exc, attempt, wait)
        await asyncio.sleep(wait)


async def list_with_retry(backend: Backend, prefix: str, *, recursive: bool) -> list[ObjectInfo]:
    """``backend.list`` retried on transient outcomes, each retry logged as a warning.

    The LISTs behind prepare's skip-existing, glob resolution and ``--cleanup-only`` run once,
    before anything else: without this, one 503 among them aborted the whole run. A failed page
    restarts the listing from its first page (the backends page internally).
    """

    def on_retry(exc: OpError, attempt: int, wait: float) -> None:
        log.warning(
            "LIST %s failed (%s: %s); retry %d of %d in %.1fs",
            backend.uri_of(prefix),
            exc.outcome.name,
            exc.detail or exc.outcome.name,
            attempt,
            STAGE_RETRY.max_retries,
            wait,
        )

    return await retry_transient(
        lambda: backend.list(prefix, recursive=recursive), on_retry=on_retry
    )
