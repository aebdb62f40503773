"""The one small interface every backend implements, and the capabilities some add to it.

A backend knows nothing of workloads: it stores and fetches bytes under keys. Keys are the
backend's own names (an absolute path for file://, an object key for s3://); the registry turns
URIs into (backend, key).

Success returns an ``OpResult``, (bytes, time the response head arrived): the time to first byte
travels with the op's result, not through a backend attribute read afterwards. A failed op
raises ``OpError`` with an ``Outcome``. The engine catches it and counts the outcome: a failure
is data, never a traceback, and never mixed into a latency figure.

What a backend can do beyond the basic ops is declared, not probed: ``BlockingBackend`` (ops as
blocking calls for worker threads), ``RangedReader``, ``BatchDeleter``, ``DirectoryOwner`` and
``DirectoryMaker`` are runtime-checkable Protocols, tested with ``isinstance`` once per stage,
never per op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Protocol, runtime_checkable

import msgspec

from sai3bench.payload import Payload


class ObjectInfo(msgspec.Struct, frozen=True, gc=False):
    """One listed object: its key (the backend's own name) and size in bytes.

    ``size`` is -1 only where a listing entry lacks it (a GCS or Azure entry without the field);
    prepare and ``--verify`` then take the object's size as unknown, not as wrong.
    """

    key: str
    size: int


OpResult = tuple[int, int]
"""One async op's result: (bytes, first_byte_ns).

bytes: moved for GET and PUT, the object's size for HEAD, 0 for DELETE. first_byte_ns: the
``perf_counter_ns`` at which the response head arrived, 0 where there is none (file://, and
uploads made of several requests). A plain tuple, the cheapest result that carries both: the
per-op budget is ~20 us of client CPU, and the tuple costs less than the backend attribute it
replaced, read after each op (measured: -0.14 us per 1 KiB GET with the HTTP exchange stubbed).
"""


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

    async def put(self, key: str, body: Payload) -> OpResult:
        """Store ``body`` under ``key``, creating parents as needed: (bytes written, TTFB)."""
        ...

    async def get(self, key: str) -> OpResult:
        """Read the whole object and drop the bytes: (bytes read, TTFB)."""
        ...

    async def head(self, key: str) -> OpResult:
        """Stat the object: (its size, TTFB)."""
        ...

    async def delete(self, key: str) -> OpResult:
        """Remove the object: (0, TTFB). A missing object raises OpError(NOT_FOUND)."""
        ...

    async def list(self, prefix: str, *, recursive: bool = True) -> list[ObjectInfo]:
        """All objects whose key starts with ``prefix`` (a directory prefix for file://)."""
        ...

    async def close(self) -> None:
        """Release threads, sockets, files."""
        ...


@runtime_checkable
class BlockingBackend(Backend, Protocol):
    """A backend whose I/O is blocking syscalls (file://, direct://).

    The engine runs its ops in worker threads in batches, one thread call per batch, because one
    ``run_in_executor`` hop costs ~26 us of loop CPU (measured here with uvloop), more than a small
    file write. The ``*_sync`` methods have the async methods' contracts (but return the bare
    byte count: there is no time to first byte) and may be called from any thread; each
    releases the GIL in its syscalls. ``executor`` is the thread pool those threads come from.
    """

    @property
    def executor(self) -> Executor:
        """The worker thread pool, sized by ``resize``."""
        ...

    def resize(self, threads: int) -> None:
        """Make ``executor`` hold ``threads`` threads (before the stage starts)."""
        ...

    def put_sync(self, key: str, body: Payload) -> int: ...
    def get_sync(self, key: str) -> int: ...
    def head_sync(self, key: str) -> int: ...
    def delete_sync(self, key: str) -> int: ...
    def list_sync(
        self, prefix: str, *, recursive: bool = True, sizes: bool = True
    ) -> list[ObjectInfo]:
        """``list``'s contract; ``sizes=False`` may leave sizes at -1 where they cost extra."""
        ...


@runtime_checkable
class RangedReader(Protocol):
    """Reads part of an object (the ``util get --range`` command)."""

    async def get_range(self, key: str, offset: int, length: int) -> OpResult:
        """Read ``length`` bytes from ``offset`` (fewer at the end): (bytes read, TTFB)."""
        ...


@runtime_checkable
class BatchDeleter(Protocol):
    """Deletes many objects per request (S3 DeleteObjects); cleanup prefers it when offered."""

    async def delete_many(self, keys: Sequence[str]) -> list[tuple[str, str, str]]:
        """Delete ``keys``; returns (key, code, message) for each one that failed."""
        ...


@runtime_checkable
class Warmable(Protocol):
    """Opens connections ahead of the clock, so every process of a run starts warm."""

    async def warm(self, connections: int) -> None:
        """Open up to ``connections`` keep-alive connections; failures are left to the ops."""
        ...


@runtime_checkable
class DirectoryOwner(Protocol):
    """A backend with real directories: prepare creates them, cleanup removes the empty ones."""

    def child_keys(self, key: str) -> list[str]:
        """``key`` as each store behind this backend names it (one store: ``[key]``)."""
        ...

    def rmdir_if_empty(self, path: str) -> bool:
        """Remove the directory ``path`` if it is empty; True when it was removed."""
        ...


@runtime_checkable
class DirectoryMaker(Protocol):
    """Real directories made and removed on request (file://, direct://): a tree's prepare and
    the workload's MKDIR and RMDIR. Blocking calls, for worker threads. Object stores have no
    directories (a directory is a key prefix); the engine gives them marker objects instead."""

    def make_dir(self, path: str, *, parents: bool = False) -> bool:
        """Create directory ``path``: True when this call made it, False when a directory was
        there already. ``parents``: missing parents too (``mkdir -p``). Raises OpError."""
        ...

    def remove_dir(
        self, path: str, *, recursive: bool = False, owned: Callable[[str], bool] | None = None
    ) -> bool:
        """Remove directory ``path`` (with its contents if ``recursive``): True when removed,
        False when it was not there. Not empty and not ``recursive``: OpError. ``owned`` (with
        ``recursive``): only entries it accepts are removed (given their path below ``path``,
        directories with a trailing ``/``); anything else keeps ``path``, and that is the file
        system's ENOTEMPTY OpError. Raises OpError."""
        ...


OpKeys = Sequence[str]
