"""The one small interface every backend implements, and the outcome codes it reports.

A backend knows nothing of workloads: it stores and fetches bytes under keys. Keys are the
backend's own names (an absolute path for file://, an object key for s3://); the registry turns
URIs into (backend, key).

Success returns the byte count and allocates nothing else; a failed op raises ``OpError`` with an
``Outcome``. The engine catches it and counts the outcome: a failure is data, never a traceback,
and never mixed into a latency figure.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

#: A PUT body: one view of the data pool, or several for objects larger than one view.
Payload = memoryview | tuple[memoryview, ...]


def payload_length(body: Payload) -> int:
    """Bytes in a PUT body (one view, or several)."""
    return len(body) if isinstance(body, memoryview) else sum(len(b) for b in body)


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


def status_outcome(status: int, throttled: frozenset[int] = frozenset({429})) -> Outcome:
    """The outcome an HTTP status implies when no error code decides: 2xx OK, 404 NOT_FOUND,
    401/403 PERMISSION, 408 TIMEOUT, ``throttled`` statuses THROTTLED, other 5xx SERVER_ERROR,
    other 3xx/4xx CLIENT_ERROR, anything else PROTOCOL. One table for s3, gs and az."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 404:
        return Outcome.NOT_FOUND
    if status in (401, 403):
        return Outcome.PERMISSION
    if status == 408:
        return Outcome.TIMEOUT
    if status in throttled:
        return Outcome.THROTTLED
    if 500 <= status < 600:
        return Outcome.SERVER_ERROR
    if 300 <= status < 500:
        return Outcome.CLIENT_ERROR
    return Outcome.PROTOCOL


class OpError(Exception):
    """A single op failed. Carries the outcome class and a short detail for logs."""

    def __init__(self, outcome: Outcome, detail: str = "") -> None:
        super().__init__(detail or outcome.name)
        self.outcome = outcome
        self.detail = detail

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Exception's default pickling passes only args; engine processes exchange these.
        return (type(self), (self.outcome, self.detail))


class ObjectInfo(msgspec.Struct, frozen=True, gc=False):
    """One listed object: its key (the backend's own name) and size in bytes.

    ``size`` is -1 where the listing does not give it for free (file:// lists names only).
    """

    key: str
    size: int


@runtime_checkable
class Backend(Protocol):
    """Async object store operations. All sizes in bytes."""

    #: The URI prefix the backend's keys hang off, e.g. ``file://`` or ``s3://bucket/``.
    root_uri: str

    def key_of(self, uri: str) -> str:
        """The backend key for a full URI of this backend."""
        ...

    def uri_of(self, key: str) -> str:
        """The full URI for a backend key (inverse of ``key_of``)."""
        ...

    async def put(self, key: str, body: Payload) -> int:
        """Store ``body`` under ``key``, creating parents as needed. Returns bytes written."""
        ...

    async def get(self, key: str) -> int:
        """Read the whole object and drop the bytes. Returns bytes read."""
        ...

    async def head(self, key: str) -> int:
        """Stat the object. Returns its size."""
        ...

    async def delete(self, key: str) -> int:
        """Remove the object. Returns 0. A missing object raises OpError(NOT_FOUND)."""
        ...

    async def list(self, prefix: str, *, recursive: bool = True) -> list[ObjectInfo]:
        """All objects whose key starts with ``prefix`` (a directory prefix for file://)."""
        ...

    async def close(self) -> None:
        """Release threads, sockets, files."""
        ...


class BlockingBackend(Backend, Protocol):
    """A backend whose I/O is blocking syscalls (file://, direct://).

    The engine runs its ops in worker threads in batches, one thread call per batch, because one
    ``run_in_executor`` hop costs ~26 us of loop CPU (measured here with uvloop), more than a small
    file write. The ``*_sync`` methods have the async methods' contracts and may be called from
    any thread; each releases the GIL in its syscalls.
    """

    def put_sync(self, key: str, body: Payload) -> int: ...
    def get_sync(self, key: str) -> int: ...
    def head_sync(self, key: str) -> int: ...
    def delete_sync(self, key: str) -> int: ...
    def list_sync(self, prefix: str, *, recursive: bool = True) -> list[ObjectInfo]: ...


OpKeys = Sequence[str]


def split_payload(body: Payload, part: int) -> list[Payload]:
    """Cut a body (one view or several) into parts of ``part`` bytes, as views (no copies)."""
    views = [body] if isinstance(body, memoryview) else list(body)
    out: list[Payload] = []
    current: list[memoryview] = []
    room = part
    for view in views:
        while len(view):
            take = view[:room]
            current.append(take)
            view = view[len(take) :]
            room -= len(take)
            if room == 0:
                out.append(current[0] if len(current) == 1 else tuple(current))
                current, room = [], part
    if current:
        out.append(current[0] if len(current) == 1 else tuple(current))
    return out
