"""multi_endpoint: one namespace served by several endpoints, each op sent to one of them.

sai3-bench's MultiEndpointStore, rebuilt as a Backend wrapper: the engine sees one backend whose
keys are relative to the run's namespace root; each op goes to the endpoint the strategy picks
(``round_robin``, or ``least_connections``: fewest requests in flight), with that endpoint's own
key prefix. All endpoints must expose the same namespace (upstream's rule): an object PUT through
one is read through another.

Per-endpoint counters (requests, bytes read and written, errors, in flight) are kept here, where
the routing happens, so ``workload_endpoint_stats.tsv`` shows the real distribution, the thing
upstream's planning notes found broken in their own tool.

Blocking children (file://) are driven from worker threads through the ``*_sync`` methods;
counters are then updated under one lock. Async children (s3://) run on the one event loop and
need none.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from typing import Any, Final, Literal, TypeVar

from sai3bench.backends.base import Backend, ObjectInfo
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.outcome import OpError
from sai3bench.payload import Payload, payload_length

Strategy = Literal["round_robin", "least_connections"]
STRATEGIES: Final = ("round_robin", "least_connections")
_T = TypeVar("_T")


def endpoints_from_env(target: str, value: str) -> builtins.list[str]:
    """``S3_ENDPOINT_URIS`` -> endpoint URIs for an ``s3://bucket/prefix/`` target.

    Entries are comma-separated: ``http://host:port`` or bare ``host:port`` (the target's bucket
    and prefix are appended; TLS when the port is 443), or full ``s3://host:port/bucket/`` URIs.
    """
    rest = target.partition("://")[2]
    out: builtins.list[str] = []
    for raw in value.split(","):
        entry = raw.strip().rstrip("/")
        if not entry:
            continue
        if entry.startswith("s3://"):
            out.append(entry + "/")
            continue
        host = entry.partition("://")[2] if "://" in entry else entry
        if ":" not in host:
            host += ":443" if entry.startswith("https://") else ":80"
        out.append(f"s3://{host}/{rest}")
    return out


class _Endpoint:
    __slots__ = (
        "active",
        "backend",
        "bytes_read",
        "bytes_written",
        "errors",
        "prefix",
        "requests",
        "uri",
    )

    def __init__(self, uri: str, backend: Backend) -> None:
        self.uri = uri
        self.backend = backend
        #: The child's key for the namespace root: a relative key is appended to it.
        self.prefix = backend.key_of(uri)
        self.requests = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.errors = 0
        self.active = 0


class MultiEndpointBackend:
    """Several backends, one namespace. ``root_uri`` is the namespace root the config uses."""

    def __init__(
        self, root_uri: str, endpoints: Sequence[tuple[str, Backend]], strategy: Strategy
    ) -> None:
        if not endpoints:
            raise ValueError("multi_endpoint needs at least one endpoint")
        self.root_uri = root_uri if root_uri.endswith("/") else root_uri + "/"
        self.strategy = strategy
        self._eps = [_Endpoint(uri, b) for uri, b in endpoints]
        self._next = 0
        self._last: _Endpoint = self._eps[0]
        self._lock = threading.Lock()
        children = [b for _, b in endpoints]
        #: Blocking only when every child is (the engine then runs ops in threads).
        self.blocking = all(getattr(b, "blocking", False) for b in children)

    def __repr__(self) -> str:
        return f"<MultiEndpointBackend {self.strategy} {[e.uri for e in self._eps]}>"

    # -- routing ------------------------------------------------------------------------------

    def _pick(self) -> _Endpoint:
        eps = self._eps
        if self.strategy == "least_connections":
            best = eps[self._next]  # ties rotate, so an idle set still spreads
            for ep in eps:
                if ep.active < best.active:
                    best = ep
            self._next = (self._next + 1) % len(eps)
            return best
        ep = eps[self._next]
        self._next = (self._next + 1) % len(eps)
        return ep

    async def _route(
        self, call: Callable[[Backend, str], Awaitable[_T]], key: str, written: int = 0
    ) -> _T:
        ep = self._pick()
        ep.requests += 1
        ep.active += 1
        try:
            result = await call(ep.backend, ep.prefix + key)
        except OpError:
            ep.errors += 1
            raise
        finally:
            ep.active -= 1
        self._last = ep
        if written:
            ep.bytes_written += written
        return result

    def _route_sync(self, call: Callable[[Any, str], _T], key: str) -> tuple[_T, _Endpoint]:
        with self._lock:
            ep = self._pick()
            ep.requests += 1
            ep.active += 1
        try:
            result = call(ep.backend, ep.prefix + key)
        except OpError:
            with self._lock:
                ep.errors += 1
                ep.active -= 1
            raise
        with self._lock:
            ep.active -= 1
        return result, ep

    @property
    def last_ttfb_ns(self) -> int:
        """The time to first byte of the last completed op, from the endpoint that served it."""
        return int(getattr(self._last.backend, "last_ttfb_ns", 0))

    # -- Backend ------------------------------------------------------------------------------

    def key_of(self, uri: str) -> str:
        return uri[len(self.root_uri) :] if uri.startswith(self.root_uri) else uri

    def uri_of(self, key: str) -> str:
        return self.root_uri + key

    async def put(self, key: str, body: Payload) -> int:
        n = payload_length(body)
        await self._route(lambda b, k: b.put(k, body), key, written=n)
        return n

    async def get(self, key: str) -> int:
        n = await self._route(lambda b, k: b.get(k), key)
        self._last.bytes_read += n
        return n

    async def get_range(self, key: str, offset: int, length: int) -> int:
        n: int = await self._route(lambda b, k: b.get_range(k, offset, length), key)  # type: ignore[attr-defined]
        self._last.bytes_read += n
        return n

    async def head(self, key: str) -> int:
        return await self._route(lambda b, k: b.head(k), key)

    async def delete(self, key: str) -> int:
        return await self._route(lambda b, k: b.delete(k), key)

    async def list(self, prefix: str, *, recursive: bool = True) -> builtins.list[ObjectInfo]:
        """One endpoint lists (they share the namespace); keys come back relative."""
        listed = await self._route(lambda b, k: b.list(k, recursive=recursive), prefix)
        cut = len(self._last.prefix)
        return [ObjectInfo(o.key[cut:], o.size) for o in listed]

    async def close(self) -> None:
        """The registry owns and closes the children."""

    # -- blocking children (file://), called from worker threads ------------------------------

    @property
    def executor(self) -> Executor:
        return self._eps[0].backend.executor  # type: ignore[attr-defined, no-any-return]

    def resize(self, threads: int) -> None:
        self._eps[0].backend.resize(threads)  # type: ignore[attr-defined]

    def put_sync(self, key: str, body: Payload) -> int:
        n, ep = self._route_sync(lambda b, k: b.put_sync(k, body), key)
        with self._lock:
            ep.bytes_written += n
        return int(n)

    def get_sync(self, key: str) -> int:
        n, ep = self._route_sync(lambda b, k: b.get_sync(k), key)
        with self._lock:
            ep.bytes_read += n
        return int(n)

    def get_range_sync(self, key: str, offset: int, length: int) -> int:
        n, ep = self._route_sync(lambda b, k: b.get_range_sync(k, offset, length), key)
        with self._lock:
            ep.bytes_read += n
        return int(n)

    def head_sync(self, key: str) -> int:
        return int(self._route_sync(lambda b, k: b.head_sync(k), key)[0])

    def delete_sync(self, key: str) -> int:
        return int(self._route_sync(lambda b, k: b.delete_sync(k), key)[0])

    def list_sync(self, prefix: str, *, recursive: bool = True) -> builtins.list[ObjectInfo]:
        listed, ep = self._route_sync(lambda b, k: b.list_sync(k, recursive=recursive), prefix)
        cut = len(ep.prefix)
        return [ObjectInfo(o.key[cut:], o.size) for o in listed]

    def child_keys(self, key: str) -> builtins.list[str]:
        """``key`` as each endpoint's backend names it (where prepare's directories go)."""
        return [ep.prefix + key for ep in self._eps]

    def rmdir_if_empty(self, path: str) -> bool:
        """Cleanup of prepare's directories (file:// children; ``path`` is a child key)."""
        rmdir = getattr(self._eps[0].backend, "rmdir_if_empty", None)
        return bool(rmdir(path)) if rmdir is not None else False

    # -- statistics ---------------------------------------------------------------------------

    def snapshot(self) -> builtins.list[EndpointStat]:
        """The counters now; subtract an earlier snapshot with ``stats_since``."""
        with self._lock:
            return [
                EndpointStat(
                    i, e.uri, e.requests, e.bytes_read, e.bytes_written, e.errors, e.active
                )
                for i, e in enumerate(self._eps)
            ]

    def stats_since(self, before: Sequence[EndpointStat]) -> builtins.list[EndpointStat]:
        """Per-endpoint counts since ``before`` (``active`` is the current value)."""
        return [
            EndpointStat(
                now.index,
                now.uri,
                now.requests - old.requests,
                now.bytes_read - old.bytes_read,
                now.bytes_written - old.bytes_written,
                now.errors - old.errors,
                now.active,
            )
            for now, old in zip(self.snapshot(), before, strict=True)
        ]
