"""multi_endpoint: one namespace served by several endpoints, each op sent to one of them.

sai3-bench's MultiEndpointStore, rebuilt as a Backend wrapper: the engine sees one backend whose
keys are relative to the run's namespace root; each op goes to the endpoint the strategy picks
(``round_robin``, or ``least_connections``: fewest requests in flight), with that endpoint's own
key prefix. All endpoints must expose the same namespace (upstream's rule): an object PUT through
one is read through another.

Per-endpoint counters (requests, bytes read and written, errors, in flight) are kept here, where
the routing happens, so ``workload_endpoint_stats.tsv`` shows the real distribution, the thing
upstream's planning notes found broken in their own tool.

Every op is routed and counted in one place: ``_op`` (async) or ``_op_sync`` (worker threads),
both through ``_Endpoint.start``/``settle``; an op method only names the child call and whether
its bytes are read or written. Blocking children (file://) get ``BlockingMultiEndpointBackend``
(``multi_endpoint_backend`` picks the class), whose ``*_sync`` methods worker threads call;
counters are then updated under one lock. Async children (s3://) run on the one event loop and
need none.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from typing import Final, Literal, TypeVar

from sai3bench.backends.base import (
    Backend,
    BlockingBackend,
    DirectoryOwner,
    ObjectInfo,
    OpResult,
    RangedReader,
    Warmable,
)
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload

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


#: What an op's byte figure counts as on its endpoint.
_NONE, _READ, _WRITTEN = 0, 1, 2


class _Endpoint:
    __slots__ = (
        "active",
        "backend",
        "bytes_read",
        "bytes_written",
        "errors",
        "index",
        "prefix",
        "requests",
        "uri",
    )

    def __init__(self, index: int, uri: str, backend: Backend) -> None:
        self.index = index
        self.uri = uri
        self.backend = backend
        #: The child's key for the namespace root: a relative key is appended to it.
        self.prefix = backend.key_of(uri)
        self.requests = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.errors = 0
        self.active = 0

    def start(self) -> None:
        self.requests += 1
        self.active += 1

    def settle(self, failed: bool, counts: int = _NONE, nbytes: int = 0) -> None:
        """The op ended: a failure is counted; a success's ``nbytes`` go under ``counts``."""
        self.active -= 1
        if failed:
            self.errors += 1
        elif counts == _READ:
            self.bytes_read += nbytes
        elif counts == _WRITTEN:
            self.bytes_written += nbytes


class MultiEndpointBackend:
    """Several backends, one namespace. ``root_uri`` is the namespace root the config uses."""

    def __init__(
        self, root_uri: str, endpoints: Sequence[tuple[str, Backend]], strategy: Strategy
    ) -> None:
        if not endpoints:
            raise ValueError("multi_endpoint needs at least one endpoint")
        self.root_uri = root_uri if root_uri.endswith("/") else root_uri + "/"
        self.strategy = strategy
        self._eps = [_Endpoint(i, uri, b) for i, (uri, b) in enumerate(endpoints)]
        self._next = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.strategy} {[e.uri for e in self._eps]}>"

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
        self, call: Callable[[Backend, str], Awaitable[_T]], key: str
    ) -> tuple[_T, _Endpoint]:
        """Send one op to the endpoint the strategy picks, with that endpoint's key prefix."""
        ep = self._pick()
        ep.start()
        try:
            result = await call(ep.backend, ep.prefix + key)
        except BaseException as exc:  # a cancelled op is no longer in flight either
            ep.settle(isinstance(exc, OpError))
            raise
        return result, ep

    async def _op(
        self, counts: int, call: Callable[[Backend, str], Awaitable[OpResult]], key: str
    ) -> OpResult:
        done, ep = await self._route(call, key)
        ep.settle(False, counts, done[0])
        return done

    # -- Backend ------------------------------------------------------------------------------

    def key_of(self, uri: str) -> str:
        return uri[len(self.root_uri) :] if uri.startswith(self.root_uri) else uri

    def uri_of(self, key: str) -> str:
        return self.root_uri + key

    async def put(self, key: str, body: Payload) -> OpResult:
        return await self._op(_WRITTEN, lambda b, k: b.put(k, body), key)

    async def get(self, key: str) -> OpResult:
        return await self._op(_READ, lambda b, k: b.get(k), key)

    async def get_range(self, key: str, offset: int, length: int) -> OpResult:
        return await self._op(_READ, lambda b, k: _ranged(b).get_range(k, offset, length), key)

    async def head(self, key: str) -> OpResult:
        return await self._op(_NONE, lambda b, k: b.head(k), key)

    async def delete(self, key: str) -> OpResult:
        return await self._op(_NONE, lambda b, k: b.delete(k), key)

    async def list(self, prefix: str, *, recursive: bool = True) -> builtins.list[ObjectInfo]:
        """One endpoint lists (they share the namespace); keys come back relative."""
        listed, ep = await self._route(lambda b, k: b.list(k, recursive=recursive), prefix)
        ep.settle(False)
        return _relative(listed, ep)

    async def close(self) -> None:
        """The registry owns and closes the children."""

    # -- statistics ---------------------------------------------------------------------------

    def snapshot(self) -> builtins.list[EndpointStat]:
        """The counters now; subtract an earlier snapshot with ``stats_since``."""
        with self._lock:
            return [
                EndpointStat(
                    e.index, e.uri, e.requests, e.bytes_read, e.bytes_written, e.errors, e.active
                )
                for e in self._eps
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


class BlockingMultiEndpointBackend(MultiEndpointBackend):
    """Blocking children only (file://): itself a BlockingBackend, driven from worker threads.

    Those threads share the counters, so every update takes ``_lock``.
    """

    def __init__(
        self, root_uri: str, endpoints: Sequence[tuple[str, BlockingBackend]], strategy: Strategy
    ) -> None:
        super().__init__(root_uri, endpoints, strategy)
        #: The children typed as what they are, by endpoint index.
        self._children = [b for _, b in endpoints]

    @property
    def executor(self) -> Executor:
        return self._children[0].executor

    def resize(self, threads: int) -> None:
        self._children[0].resize(threads)

    def _route_sync(
        self, call: Callable[[BlockingBackend, str], _T], key: str
    ) -> tuple[_T, _Endpoint]:
        with self._lock:
            ep = self._pick()
            ep.start()
        try:
            return call(self._children[ep.index], ep.prefix + key), ep
        except BaseException as exc:
            with self._lock:
                ep.settle(isinstance(exc, OpError))
            raise

    def _op_sync(self, counts: int, call: Callable[[BlockingBackend, str], int], key: str) -> int:
        n, ep = self._route_sync(call, key)
        with self._lock:
            ep.settle(False, counts, n)
        return n

    def put_sync(self, key: str, body: Payload) -> int:
        return self._op_sync(_WRITTEN, lambda b, k: b.put_sync(k, body), key)

    def get_sync(self, key: str) -> int:
        return self._op_sync(_READ, lambda b, k: b.get_sync(k), key)

    def head_sync(self, key: str) -> int:
        return self._op_sync(_NONE, lambda b, k: b.head_sync(k), key)

    def delete_sync(self, key: str) -> int:
        return self._op_sync(_NONE, lambda b, k: b.delete_sync(k), key)

    def list_sync(
        self, prefix: str, *, recursive: bool = True, sizes: bool = True
    ) -> builtins.list[ObjectInfo]:
        listed, ep = self._route_sync(
            lambda b, k: b.list_sync(k, recursive=recursive, sizes=sizes), prefix
        )
        with self._lock:
            ep.settle(False)
        return _relative(listed, ep)

    def child_keys(self, key: str) -> builtins.list[str]:
        """``key`` as each endpoint's backend names it (where prepare's directories go)."""
        return [ep.prefix + key for ep in self._eps]

    async def warm(self, connections: int) -> None:
        """Every endpoint's connections, opened ahead of the clock."""
        for ep in self._eps:
            if isinstance(ep.backend, Warmable):
                await ep.backend.warm(connections)

    def rmdir_if_empty(self, path: str) -> bool:
        """Cleanup of prepare's directories (``path`` is a child key, as ``child_keys`` gave)."""
        first = self._children[0]
        return isinstance(first, DirectoryOwner) and first.rmdir_if_empty(path)


def multi_endpoint_backend(
    root_uri: str, endpoints: Sequence[tuple[str, Backend]], strategy: Strategy
) -> MultiEndpointBackend:
    """The multi-endpoint backend for these children: a BlockingBackend when all of them are."""
    blocking = [(uri, b) for uri, b in endpoints if isinstance(b, BlockingBackend)]
    if blocking and len(blocking) == len(endpoints):
        return BlockingMultiEndpointBackend(root_uri, blocking, strategy)
    return MultiEndpointBackend(root_uri, endpoints, strategy)


def _ranged(backend: Backend) -> RangedReader:
    if not isinstance(backend, RangedReader):
        raise OpError(Outcome.CLIENT_ERROR, f"{backend.root_uri} cannot read byte ranges")
    return backend


def _relative(listed: Sequence[ObjectInfo], ep: _Endpoint) -> builtins.list[ObjectInfo]:
    """Listed child keys made relative to the namespace root again."""
    cut = len(ep.prefix)
    return [ObjectInfo(o.key[cut:], o.size) for o in listed]
