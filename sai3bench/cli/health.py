"""``sai3bench util health URI``: can this store be benchmarked from here, and how fast does it
answer one of each request?

Cloud stores (s3://, gs://, az://): the endpoint's name resolves, a TCP (and TLS) connection
opens, one signed LIST is accepted (of the health key's own name, so it returns at once however
big the bucket is: it proves the credentials and the bucket), then a tiny PUT, GET and DELETE of
a unique key ``<prefix>sai3bench-health-<uuid>``. file:// and direct://: the directory exists
and this user may write it, then the same round trip. Each step is timed; the first failure
skips the rest (a PUT that succeeded, or timed out and may have landed, is still deleted) and
exits 1 with a hint. Ctrl-C or SIGTERM stops the checks, deletes the health key if a PUT was
sent, prints the table so far and exits 128 + the signal. Nothing but the
health key is ever written or deleted; ``--read-only`` writes nothing, and times a GET only when
the URI names an object.

sai3-bench's ``util health`` only lists the URI; this one checks what a run needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

import typer
import uvloop

from sai3bench.backends.base import Backend
from sai3bench.config.uri import parse_uri
from sai3bench.engine.interrupt import SIGNALS
from sai3bench.errors import RunFailed, Sai3Error
from sai3bench.http.endpoint import Endpoint
from sai3bench.http.sockets import open_connection
from sai3bench.outcome import OpError, Outcome
from sai3bench.report.health import Step, format_table, hint_for

from .app import util_app
from .netopts import DEFAULT_FIRST_BYTE, FirstByteTimeout
from .util import Insecure, _open, _uri

#: What the health PUT writes: small, and saying what it is to anyone who finds it.
BODY = b"sai3bench util health: safe to delete\n"
#: Seconds allowed for the name lookup and for the connect (TLS included).
CONNECT_TIMEOUT = 10.0
#: A PUT that failed so may still have been stored (no answer, a cut connection, a 5xx after
#: the body arrived): the health key is deleted anyway.
_MAY_HAVE_LANDED = frozenset({Outcome.TIMEOUT, Outcome.CONNECTION, Outcome.SERVER_ERROR})


class _Failed(Exception):
    """A step failed: the remaining ones are skipped."""

    def __init__(self, outcome: Outcome | None, detail: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.hint = hint


class Checks:
    """The steps run so far, and the first that failed: (name, outcome, detail, hint)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.failure: tuple[str, Outcome | None, str, str | None] | None = None
        #: The signal (SIGINT, SIGTERM) that stopped the checks, if one did.
        self.interrupted: int | None = None

    def __repr__(self) -> str:
        return f"<Checks {[s.result for s in self.steps]}>"

    async def run(self, name: str, step: Callable[[], Awaitable[str]]) -> bool:
        """Time ``step`` (its result is the row's detail); False once any step failed."""
        if self.failure is not None:
            self.skip(name, "an earlier step failed")
            return False
        t0 = time.perf_counter()
        try:
            detail = await step()
        except asyncio.CancelledError:
            self.steps.append(Step(name, False, time.perf_counter() - t0, "interrupted"))
            raise
        except (_Failed, OpError) as exc:
            outcome = exc.outcome
            text = exc.detail or (outcome.name if outcome is not None else "failed")
            self.steps.append(Step(name, False, time.perf_counter() - t0, text))
            self.failure = (name, outcome, text, exc.hint)
            return False
        self.steps.append(Step(name, True, time.perf_counter() - t0, detail))
        return True

    def skip(self, name: str, why: str) -> None:
        self.steps.append(Step(name, None, 0.0, why))


def _split(uri: str) -> tuple[str, str | None]:
    """(prefix URI ending in /, the object URI the user named or None)."""
    parsed = parse_uri(uri)
    container_only = parsed.scheme == "az" and "/" not in parsed.path.rstrip("/")
    if uri.endswith("/") or (parsed.scheme not in ("file", "direct") and not parsed.path):
        return uri.rstrip("/") + "/", None
    if container_only or (parsed.scheme in ("file", "direct") and os.path.isdir(parsed.path)):
        return uri + "/", None
    return uri[: uri.rfind("/") + 1], uri


async def _resolve(ep: Endpoint) -> str:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            infos = await loop.getaddrinfo(ep.host, ep.port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise _Failed(Outcome.CONNECTION, f"cannot resolve {ep.host}: {exc}") from None
    return ", ".join(dict.fromkeys(str(info[4][0]) for info in infos))


async def _connect(ep: Endpoint) -> str:
    transport: list[asyncio.BaseTransport] = []

    class _Probe(asyncio.Protocol):
        def connection_made(self, t: asyncio.BaseTransport) -> None:
            transport.append(t)

    await open_connection(_Probe, ep, CONNECT_TIMEOUT, first=True)
    transport[0].close()
    return f"{ep.url} ({'TLS' if ep.tls is not None else 'plain TCP'})"


def _directory(path: str) -> Callable[[], Awaitable[str]]:
    async def check() -> str:
        if not os.path.isdir(path):
            why = "is not a directory" if os.path.exists(path) else "does not exist"
            raise _Failed(Outcome.NOT_FOUND, f"{path} {why}")
        return path

    return check


def _access(path: str, read_only: bool) -> Callable[[], Awaitable[str]]:
    mode = os.R_OK | os.X_OK if read_only else os.R_OK | os.W_OK | os.X_OK
    wanted = "read" if read_only else "read and write"

    async def check() -> str:
        if not os.access(path, mode):
            if not read_only and os.statvfs(path).f_flag & os.ST_RDONLY:
                raise _Failed(
                    Outcome.PERMISSION,
                    f"{path} is on a read-only file system",
                    "mount it read-write, or pass --read-only to check reads only",
                )
            raise _Failed(Outcome.PERMISSION, f"this user may not {wanted} {path}")
        return f"may {wanted}"

    return check


async def _credentials(backend: Backend, key: str) -> str:
    found = await backend.list(key, recursive=True)
    return f"LIST accepted ({len(found)} objects under the health key's name)"


async def _round_trip(checks: Checks, backend: Backend, uri: str) -> None:
    """PUT, GET, DELETE of the health key; the DELETE runs whenever the PUT succeeded or
    failed in a way that may still have stored it (a timeout, a cut connection, a 5xx)."""
    key = backend.key_of(uri)

    async def put() -> str:
        await backend.put(key, memoryview(BODY))
        return f"{len(BODY)} B to {uri}"

    async def get() -> str:
        n, _ = await backend.get(key)
        if n != len(BODY):
            raise _Failed(Outcome.PROTOCOL, f"read {n} B back, wrote {len(BODY)} B")
        return f"{n} B read back"

    async def delete() -> str:
        try:
            await backend.delete(key)
        except OpError as exc:
            if wrote or exc.outcome != Outcome.NOT_FOUND:
                raise
            return "nothing had been stored"
        return "deleted"

    wrote = False
    try:
        wrote = await checks.run("put", put)
        await checks.run("get", get)
        failed_put = checks.failure[1] if checks.failure is not None and not wrote else None
        if not wrote and failed_put not in _MAY_HAVE_LANDED:
            checks.skip("delete", "nothing was written")
            return
        failure, checks.failure = checks.failure, None  # delete what was written, whatever happened
        await checks.run("delete", delete)
        checks.failure = failure or checks.failure
    except asyncio.CancelledError:  # a signal: the PUT may have landed, so delete the key
        if checks.interrupted is None:
            raise
        await _delete_after_signal(checks, backend, key)
        raise


async def _delete_after_signal(checks: Checks, backend: Backend, key: str) -> None:
    """The health key's DELETE after a signal: bounded, and stopped by a second signal."""
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await backend.delete(key)
    except OpError as exc:
        if exc.outcome == Outcome.NOT_FOUND:  # never stored, or its DELETE had already run
            checks.steps.append(Step("delete", True, time.perf_counter() - t0, "nothing left"))
            return
        detail = f"not deleted ({exc}): remove {key} by hand"
        checks.steps.append(Step("delete", False, time.perf_counter() - t0, detail))
        return
    except (TimeoutError, asyncio.CancelledError) as exc:
        why = "a second signal" if isinstance(exc, asyncio.CancelledError) else "no answer"
        detail = f"not deleted ({why}): remove {key} by hand"
        checks.steps.append(Step("delete", False, time.perf_counter() - t0, detail))
        return
    checks.steps.append(Step("delete", True, time.perf_counter() - t0, "deleted after the signal"))


@contextlib.contextmanager
def _signals(checks: Checks) -> Iterator[None]:
    """SIGINT and SIGTERM cancel the checks (the health key is still deleted), not the process."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None

    def on_signal(signum: int) -> None:
        if checks.interrupted is None:
            checks.interrupted = signum
        task.cancel()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


async def _cloud_first(checks: Checks, backend: Backend) -> None:
    """resolve and connect: the endpoint the backend talks to."""
    http: Any = getattr(backend, "_http", None)
    ep: Endpoint | None = getattr(http, "endpoint", None)
    if ep is None:
        checks.skip("resolve", "no endpoint")
        checks.skip("connect", "no endpoint")
        return
    await checks.run("resolve", lambda: _resolve(ep))
    await checks.run("connect", lambda: _connect(ep))


async def health(uri: str, read_only: bool, insecure: bool, first_byte: str) -> Checks:
    checks = Checks()
    with _signals(checks):
        try:
            return await _health(checks, uri, read_only, insecure, first_byte)
        except asyncio.CancelledError:
            if checks.interrupted is None:
                raise
            return checks


async def _health(
    checks: Checks, uri: str, read_only: bool, insecure: bool, first_byte: str
) -> Checks:
    prefix, named = _split(uri)
    health_uri = f"{prefix}sai3bench-health-{uuid.uuid4().hex}"
    local = parse_uri(uri).scheme in ("file", "direct")
    if local:
        path = parse_uri(prefix).path
        await checks.run("directory", _directory(path))
        await checks.run("access", _access(path, read_only))
    try:
        backends, backend = _open(prefix, 1, insecure, first_byte)
    except Sai3Error as exc:  # missing credentials, a bad endpoint variable
        if local:
            raise
        for name in ("resolve", "connect"):
            checks.skip(name, "the client could not be set up")
        await checks.run("credentials", _raise(exc))
        for name in ("put", "get", "delete"):
            checks.skip(name, "an earlier step failed")
        return checks
    try:
        if not local:
            await _cloud_first(checks, backend)
            key = backend.key_of(health_uri)
            await checks.run("credentials", lambda: _credentials(backend, key))
        if not read_only:
            await _round_trip(checks, backend, health_uri)
            return checks
        await _read_only_get(checks, backend, named)
        return checks
    finally:
        await backends.close()


def _raise(exc: Sai3Error) -> Callable[[], Awaitable[str]]:
    async def step() -> str:
        raise _Failed(None, exc.msg, exc.hint)

    return step


async def _read_only_get(checks: Checks, backend: Backend, named: str | None) -> None:
    checks.skip("put", "--read-only")
    if named is None:
        checks.skip("get", "--read-only: give an object URI to time a GET")
    else:

        async def get() -> str:
            n, _ = await backend.get(backend.key_of(named))
            return f"{n:,} B from {named}"

        await checks.run("get", get)
    checks.skip("delete", "--read-only")


@util_app.command("health")
def health_cmd(
    uri: str,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="write nothing: no PUT/DELETE (a GET of an object URI)"),
    ] = False,
    insecure: Insecure = False,
    first_byte: FirstByteTimeout = DEFAULT_FIRST_BYTE,
) -> None:
    """Reachability, credentials and a tiny PUT/GET/DELETE of a unique key, each timed."""
    uri = _uri(uri)
    checks = uvloop.run(health(uri, read_only, insecure, first_byte))
    name = signal.Signals(checks.interrupted).name if checks.interrupted else None
    print(format_table(f"Health of {uri}", checks.steps, name))
    if checks.interrupted is not None:
        print(f"error: health: stopped by {name}", file=sys.stderr)
        raise SystemExit(128 + checks.interrupted)
    if checks.failure is not None:
        step, outcome, detail, hint = checks.failure
        hint = hint or hint_for(step, outcome, detail)
        raise RunFailed(f"health: {step} failed: {detail}", hint=hint)
