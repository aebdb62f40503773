"""``sai3bench util``: list, stat, get, put, delete on one URI (a key, a prefix/ or a glob)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Annotated

import typer
import uvloop

from sai3bench.backends.base import Backend, RangedReader
from sai3bench.backends.registry import Backends
from sai3bench.config.units import fmt_bytes, parse_size, show
from sai3bench.config.uri import URI_HINT, join_target, parse_uri
from sai3bench.engine.context import executor_for
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.record import Tally
from sai3bench.engine.resolve import match_keys
from sai3bench.engine.tasklist import run_task_list
from sai3bench.errors import ConfigError, RunFailed, StorageError, UsageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import Outcome
from sai3bench.plan.keys import plan_glob
from sai3bench.plan.limits import check_object_size, check_workers, is_local

from .app import util_app
from .netopts import DEFAULT_FIRST_BYTE, FirstByteTimeout, first_byte_seconds

Jobs = Annotated[int, typer.Option("--jobs", "-j", min=1, help="operations in flight")]
Insecure = Annotated[
    bool, typer.Option("--insecure", help="skip TLS certificate checks (not for real data)")
]


def _uri(uri: str) -> str:
    """An absolute, checked URI (a NUL or control character, an unknown scheme: one line)."""
    try:
        joined = join_target(None, uri)
        parse_uri(joined)
    except ValueError as exc:
        raise UsageError(f"bad URI {show(uri, 300)}: {exc}", hint=URI_HINT) from None
    return joined


def _open(
    uri: str, jobs: int, insecure: bool, first_byte: str = DEFAULT_FIRST_BYTE
) -> tuple[Backends, Backend]:
    """The backend for ``uri``, after checking that ``jobs`` workers can run at all."""
    check_workers("--jobs", jobs, local=is_local(uri))
    if insecure:
        print(
            "warning: --insecure: TLS certificates are NOT checked; anyone on the path can read "
            "and change this traffic",
            file=sys.stderr,
        )
    timeout = first_byte_seconds(first_byte)
    backends = Backends(concurrency=jobs, insecure=insecure, first_byte_timeout=timeout)
    return backends, backends.for_uri(uri)


async def _run_many(
    backend: Backend, kind: OpKind, tasks: Iterable[Task], total: int, jobs: int
) -> tuple[Collector, Tally, float]:
    op = PlannedOp(index=0, kind=kind, backend=backend, label=kind.name)
    if kind == OpKind.PUT:
        from sai3bench.datagen.buffers import DataSource

        op.data = DataSource("zero")
    executor = executor_for([backend], jobs)
    run = await run_task_list([op], iter(tasks), total, workers=jobs, executor=executor)
    return run.collector, run.tally, run.wall_s


def _check(collector: Collector, tally: Tally, what: str) -> None:
    if tally.first_error is not None:
        key, detail = tally.first_error
        outcomes = {Outcome(o) for (_, o) in collector.errors()}
        # Missing or forbidden objects are the user's to fix (exit 2); anything else failed.
        err = StorageError if outcomes <= {Outcome.NOT_FOUND, Outcome.PERMISSION} else RunFailed
        raise err(
            f"{what}: {collector.error_count():,} failed, first {key}: {detail}",
            hint=_hint(max(outcomes, default=Outcome.OTHER), "the URI"),
        )


_NETWORK = frozenset({Outcome.CONNECTION, Outcome.TIMEOUT, Outcome.PROTOCOL})


def _hint(outcome: Outcome, what: str) -> str:
    """What to check for a failed request: the endpoint when it never answered properly, the
    credentials when it said no, else ``what`` (the URI...)."""
    if outcome in _NETWORK:
        return (
            "check that the endpoint is up and is the one meant (AWS_ENDPOINT_URL, "
            "STORAGE_EMULATOR_HOST or AZURE_STORAGE_ENDPOINT), and http:// versus https://"
        )
    if outcome == Outcome.PERMISSION:
        return "check the permissions: the credentials' for cloud storage, the files' for file://"
    return f"check {what}"


@util_app.command("list")
def list_cmd(
    uri: str, insecure: Insecure = False, first_byte: FirstByteTimeout = DEFAULT_FIRST_BYTE
) -> None:
    """Recursive list; a * in the last segment filters names."""
    uri = _uri(uri)

    async def go() -> list[str]:
        backends, backend = _open(uri, 1, insecure, first_byte)
        try:
            if plan_glob(uri) is None:
                listed = await backend.list(backend.key_of(uri), recursive=True)
                return sorted(backend.uri_of(o.key) for o in listed)
            return [
                backend.uri_of(k) for k in await match_keys(backend, uri, prefix_recursive=True)
            ]
        finally:
            await backends.close()

    uris = uvloop.run(go())
    for u in uris:
        print(u)
    print(f"Total objects: {len(uris):,}")


@util_app.command("stat")
def stat_cmd(
    uri: str, insecure: Insecure = False, first_byte: FirstByteTimeout = DEFAULT_FIRST_BYTE
) -> None:
    """Size of one object."""
    uri = _uri(uri)

    async def go() -> int:
        backends, backend = _open(uri, 1, insecure, first_byte)
        try:
            return (await backend.head(backend.key_of(uri)))[0]
        finally:
            await backends.close()

    from sai3bench.outcome import OpError

    try:
        size = uvloop.run(go())
    except OpError as exc:
        raise StorageError(
            f"stat {uri}: {exc.detail or exc.outcome.name}", hint=_hint(exc.outcome, "the URI")
        ) from None
    print(f"{uri} :")
    print(f"Size : {size:,} bytes")


def _bulk(uri: str, kind: OpKind, jobs: int, verb: str, insecure: bool, first_byte: str) -> None:
    uri = _uri(uri)

    async def go() -> tuple[Collector, Tally, float, int]:
        backends, backend = _open(uri, jobs, insecure, first_byte)
        try:
            keys = await match_keys(backend, uri, prefix_recursive=True)
            if not keys:
                raise ConfigError(f"no objects match {uri}", hint="check the URI with util list")
            tasks = [(0, k, 0, 0) for k in keys]
            c, t, wall = await _run_many(backend, kind, tasks, len(tasks), jobs)
            return c, t, wall, len(keys)
        finally:
            await backends.close()

    collector, tally, wall, n = uvloop.run(go())
    _check(collector, tally, verb)
    nbytes = collector.nbytes()
    rate = nbytes / wall / 1048576 if wall > 0 else 0.0
    if kind == OpKind.GET:
        print(
            f"Downloaded {fmt_bytes(nbytes)} from {n:,} objects in {wall:.3f}s ({rate:.2f} MiB/s)"
        )
    else:
        print(f"Deleted {n:,} objects in {wall:.3f}s ({n / wall if wall else 0:,.0f} objects/s)")


@util_app.command("get")
def get_cmd(
    uri: str,
    jobs: Jobs = 4,
    byte_range: Annotated[
        str | None,
        typer.Option("--range", help="START-END (inclusive, as HTTP Range) of one object"),
    ] = None,
    insecure: Insecure = False,
    first_byte: FirstByteTimeout = DEFAULT_FIRST_BYTE,
) -> None:
    """GET one object, a prefix/ or a glob; the bytes are read and dropped."""
    if byte_range is None:
        _bulk(uri, OpKind.GET, jobs, "get", insecure, first_byte)
        return
    offset, length = parse_byte_range(byte_range)
    uri = _uri(uri)

    async def go() -> tuple[int, float]:
        backends, backend = _open(uri, 1, insecure, first_byte)
        try:
            if not isinstance(backend, RangedReader):
                raise UsageError(
                    f"{backend.root_uri} has no ranged GET", hint="drop --range for this backend"
                )
            t0 = time.perf_counter()
            n, _ = await backend.get_range(backend.key_of(uri), offset, length)
            return n, time.perf_counter() - t0
        finally:
            await backends.close()

    from sai3bench.outcome import OpError

    try:
        n, wall = uvloop.run(go())
    except OpError as exc:
        raise StorageError(
            f"get {uri}: {exc.detail or exc.outcome.name}",
            hint=_hint(exc.outcome, "the URI and the range"),
        ) from None
    print(f"Downloaded {fmt_bytes(n)} (bytes {offset}-{offset + n - 1}) in {wall:.3f}s")


def parse_byte_range(spec: str) -> tuple[int, int]:
    """``START-END`` (inclusive) -> (offset, length). Raises UsageError naming the fix."""
    start, sep, end = spec.partition("-")
    digits = start.isdigit() and end.isdigit() and max(len(start), len(end)) <= 19
    if sep and digits and int(end) >= int(start):  # 19 digits: int() of 5,000 raised
        return int(start), int(end) - int(start) + 1
    raise UsageError(
        f"bad --range {show(spec)}", hint="use START-END in bytes, e.g. --range 0-1023"
    )


@util_app.command("delete")
def delete_cmd(
    uri: str,
    jobs: Jobs = 4,
    insecure: Insecure = False,
    first_byte: FirstByteTimeout = DEFAULT_FIRST_BYTE,
) -> None:
    """DELETE one object, everything under a prefix/, or a glob's matches."""
    _bulk(uri, OpKind.DELETE, jobs, "delete", insecure, first_byte)


@util_app.command("put")
def put_cmd(
    uri: str,
    object_size: Annotated[
        str, typer.Option("--object-size", help="bytes, or a size such as 8KiB or 1.5MB")
    ] = "1024",
    objects: Annotated[int, typer.Option("--objects", min=1)] = 1,
    concurrency: Annotated[int, typer.Option("--concurrency", "--jobs", "-j", min=1)] = 4,
    insecure: Insecure = False,
    first_byte: FirstByteTimeout = DEFAULT_FIRST_BYTE,
) -> None:
    """PUT zero-filled objects: * in the name becomes 000000..; a URI ending in / gets obj_N.dat."""
    uri = _uri(uri)
    size = _object_size(object_size)
    check_object_size("--object-size", uri, size)
    if "*" not in uri and not uri.endswith("/") and objects > 1:
        raise UsageError("--objects > 1 needs a * in the name or a URI ending in /")

    async def go() -> tuple[Collector, Tally, float]:
        backends, backend = _open(uri, concurrency, insecure, first_byte)
        try:
            tasks = ((0, backend.key_of(n), size, i) for i, n in enumerate(_names(uri, objects)))
            return await _run_many(backend, OpKind.PUT, tasks, objects, concurrency)
        finally:
            await backends.close()

    collector, tally, wall = uvloop.run(go())
    _check(collector, tally, "put")
    n = collector.ops()
    print(f"Uploaded {n:,} objects ({fmt_bytes(collector.nbytes())}) in {wall:.3f}s")


def _object_size(text: str) -> int:
    """``--object-size``: bytes or a size string, as everywhere in a config (0 is allowed)."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise UsageError(
            f"bad --object-size {show(text)}: {exc}",
            hint="e.g. --object-size 8KiB or 1048576",
        ) from None


def _names(uri: str, objects: int) -> Iterator[str]:
    """The objects' URIs, one at a time: a large --objects never builds a list."""
    if "*" in uri:
        return (uri.replace("*", f"{i:06}") for i in range(objects))
    if uri.endswith("/"):
        return (f"{uri}obj_{i:06}.dat" for i in range(objects))
    return iter([uri])


from . import health  # noqa: E402, F401  (registers ``util health``; it imports from here)
