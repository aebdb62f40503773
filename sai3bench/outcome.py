"""Why an op failed: the outcome codes every layer shares, and the exception that carries one.

A bottom module: http/, datagen/, backends/, engine/ and report/ all speak in these terms, so they
live below all of them and import nothing of this package.
"""

from __future__ import annotations

import enum
from typing import Any, Final


class Outcome(enum.IntEnum):
    """Why an op failed. Stable numbers: they appear in results files."""

    OK = 0
    NOT_FOUND = 1
    PERMISSION = 2
    THROTTLED = 3
    CLIENT_ERROR = 4  # other 4xx, or a local EINVAL-like refusal
    SERVER_ERROR = 5  # 5xx
    TIMEOUT = 6
    CONNECTION = 7  # reset, refused, closed mid-response
    PROTOCOL = 8  # malformed response
    NO_SPACE = 9
    OTHER = 10


#: Statuses that mean "slow down", whatever the method and whether or not an error code came
#: with them: 429, and 503 (S3 SlowDown, GCS backendError, Azure ServerBusy). A HEAD reply has
#: no body to carry a code, so the status alone must decide, the same way for every method.
THROTTLED_STATUSES: Final = frozenset({429, 503})


def status_outcome(status: int) -> Outcome:
    """The outcome an HTTP status implies when no error code decides: 2xx OK, 404 NOT_FOUND,
    401/403 PERMISSION, 408 TIMEOUT, 429/503 THROTTLED, other 5xx SERVER_ERROR, other 3xx/4xx
    CLIENT_ERROR, anything else PROTOCOL. One table for s3, gs and az, for every method."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 404:
        return Outcome.NOT_FOUND
    if status in (401, 403):
        return Outcome.PERMISSION
    if status == 408:
        return Outcome.TIMEOUT
    if status in THROTTLED_STATUSES:
        return Outcome.THROTTLED
    if 500 <= status < 600:
        return Outcome.SERVER_ERROR
    if 300 <= status < 500:
        return Outcome.CLIENT_ERROR
    return Outcome.PROTOCOL


class OpError(Exception):
    """A single op failed. Carries the outcome class and a short detail for logs.

    ``hint`` is what to do about it, when the layer that saw the failure knows better than
    the outcome's generic advice (a refused certificate is not an endpoint that is down).
    ``permanent`` says that sending the same request again must give the same answer even
    though its outcome class is usually transient: a certificate the client does not trust, a
    TLS handshake with a plain-HTTP port, a peer that does not speak HTTP. Retrying those only
    delays the one line that tells the user what to fix.
    """

    def __init__(
        self,
        outcome: Outcome,
        detail: str = "",
        hint: str | None = None,
        *,
        permanent: bool = False,
    ) -> None:
        super().__init__(detail or outcome.name)
        self.outcome = outcome
        self.detail = detail
        self.hint = hint
        self.permanent = permanent

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's default pickling passes only args; engine processes exchange these.
        return (type(self), (self.outcome, self.detail, self.hint), {"permanent": self.permanent})


class MalformedResponse(OpError):
    """A 2xx body that is not the document the request expects (Outcome.PROTOCOL): most often
    a server that speaks HTTP but not this storage API. Each dialect subclasses it."""

    def __init__(self, detail: str) -> None:
        super().__init__(Outcome.PROTOCOL, detail)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.detail,), {"permanent": self.permanent})
