"""The one small interface every backend implements, and the outcome codes it reports.

A backend knows nothing of workloads: it stores and fetches bytes under keys. Keys are the
backend's own names (an absolute path for file://, an object key for s3://); the registry turns
URIs into (backend, key).

Success returns the byte count and allocates nothing else; a failed op raises ``OpError`` with an
``Outcome``. The engine catches it and counts the outcome: a failure is data, never a traceback,
and never mixed into a latency figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

from sai3bench.payload import Payload


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
