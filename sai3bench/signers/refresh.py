"""The renewal policy every expiring credential shares (AWS STS/SSO, Google tokens, Azure tokens).

A renewal starts ``margin`` seconds before expiry, runs the source's blocking fetch in a worker
thread, and at most one runs at a time. After a failure, or when the source hands back
something that expires no later than before, the next try waits ``retry_interval`` seconds
instead of starting a thread every tick. A failure is an error only once the old credential
has expired; until then the old one keeps signing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sai3bench.errors import CredentialError, one_line

_T = TypeVar("_T")


class Renewal:
    """When to renew, and the renewing itself; the provider keeps the credential."""

    __slots__ = ("_busy", "_hint", "_what", "margin", "retry_at", "retry_interval")

    def __init__(
        self, what: str, hint: str, *, margin: float = 300.0, retry_interval: float = 10.0
    ) -> None:
        #: How the error names it: "AWS credentials", "the Google token", ...
        self._what = what
        self._hint = hint
        self.margin = margin
        self.retry_interval = retry_interval
        self.retry_at = 0.0
        self._busy = False

    def due(self, expires_at: float | None, now: float) -> bool:
        """True within ``margin`` of ``expires_at``, unless a retry is waiting for its time."""
        if expires_at is None:
            return False
        return now >= expires_at - self.margin and now >= self.retry_at

    async def renew(
        self,
        now: float,
        expires_at: float | None,
        fetch: Callable[[], _T],
        expiry_of: Callable[[_T], float | None],
    ) -> _T | None:
        """The new credential from ``fetch`` (run in a thread), or None when nothing was due,
        another renewal is running, or it failed while the old one is still valid.

        Raises:
            CredentialError: the old credential has expired and the fetch failed.
        """
        if self._busy or not self.due(expires_at, now):
            return None
        self._busy = True
        try:
            fresh = await asyncio.to_thread(fetch)
        except Exception as exc:  # sources raise anything: STS, SSO, HTTP, azure-identity errors
            self.retry_at = now + self.retry_interval
            if expires_at is not None and now >= expires_at:
                raise CredentialError(
                    f"{self._what} expired and could not be refreshed: {one_line(exc)}",
                    hint=self._hint,
                ) from None
            return None
        finally:
            self._busy = False
        if self.due(expiry_of(fresh), now):  # no later expiry came back: wait before asking again
            self.retry_at = now + self.retry_interval
        return fresh
