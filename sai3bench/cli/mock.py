"""``sai3bench mock-server``: a loopback S3 server for CI, demos and client calibration."""

from __future__ import annotations

import asyncio
import base64
import errno
import signal
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from sai3bench.config.units import parse_duration, show
from sai3bench.errors import UsageError
from sai3bench.mock.azureapp import AzureApp
from sai3bench.mock.gcsapp import GcsApp
from sai3bench.mock.router import DialectRouter
from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import Faults, start_server
from sai3bench.mock.stats import MockStats
from sai3bench.mock.store import DiskStore, MemoryStore, ObjectStore
from sai3bench.signers.base import StaticCredentialProvider

from .app import app


def _seconds(text: str | None, flag: str) -> float:
    if not text:
        return 0.0
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {show(text)}: {exc}", hint=f"e.g. {flag} 2ms") from None


def _azure_key(spec: str | None) -> tuple[str | None, str | None]:
    if spec is None:
        return None, None
    account, sep, key = spec.partition(":")
    try:
        ok = bool(sep and account and base64.b64decode(key, validate=True))
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(
            "--azure-key must be ACCOUNT:BASE64KEY",
            hint="for example --azure-key devstoreaccount1:Eby8vdM0...GMGw==",
        )
    return account, key


def _disk_store(directory: Path) -> DiskStore:
    """``--dir``: made if missing; a file, or a place the mock cannot write, is one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return DiskStore(directory)
    except OSError as exc:
        why = "not a directory" if isinstance(exc, FileExistsError) else exc.strerror or exc
        raise UsageError(
            f"--dir {directory}: {why}",
            hint="pass a directory the mock server may create and write",
        ) from None


async def _listen(starting: Awaitable[asyncio.Server], host: str, port: int) -> asyncio.Server:
    """Await a listener's start: a port in use or an address that cannot be bound is one line
    and exit 2, not a traceback."""
    try:
        return await starting
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"cannot listen on {host}:{port}: the port is already in use",
                hint="pick another --port, or --port 0 for a free one",
            ) from None
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="use --host 127.0.0.1 and a free --port (0 picks one)",
        ) from None


@app.command("mock-server")
def mock_server(
    host: Annotated[str, typer.Option(help="bind address (loopback unless --public)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port")] = 9000,
    bucket: Annotated[list[str] | None, typer.Option(help="bucket to create at start")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="keep objects on disk")] = None,
    sink: Annotated[bool, typer.Option(help="keep sizes only; GET serves a pattern")] = False,
    # No ":word:" in help texts: rich renders ":secret:" as an emoji ("KEY:SECRET: verify" was
    # shown as "KEY㊙ verify"). tests/unit/cli/test_help_text.py renders every help page.
    auth: Annotated[str | None, typer.Option(help="verify SigV4 signed with KEY:SECRET")] = None,
    azure_key: Annotated[
        str | None, typer.Option(help="verify Azure Shared Key with ACCOUNT:BASE64KEY")
    ] = None,
    latency: Annotated[str | None, typer.Option(help="added per response, e.g. 2ms")] = None,
    latency_jitter: Annotated[str | None, typer.Option(help="+- uniform, e.g. 1ms")] = None,
    error_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    error_status: Annotated[int, typer.Option(min=400, max=599)] = 503,
    reset_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    truncate_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    stall_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of requests never answered")
    ] = 0.0,
    stall_time: Annotated[
        str | None, typer.Option(help="answer a stalled request after this long, e.g. 30s")
    ] = None,
    seed: Annotated[int, typer.Option(help="fault injection RNG seed")] = 0,
    max_inflight: Annotated[
        int,
        typer.Option(
            min=0, help="capacity: requests beyond this many in their latency wait (0: none)"
        ),
    ] = 0,
    public: Annotated[bool, typer.Option(help="allow a non-loopback bind")] = False,
    listeners: Annotated[
        int,
        typer.Option(
            min=1, max=32, help="serve the same store on this many ports (multi_endpoint)"
        ),
    ] = 1,
) -> None:
    """Serve S3 (path-style), the GCS JSON API and Azure Blob from one store until interrupted.

    Prints the URL on its first line. GET URL/_mock/stats returns the server's own counters as
    JSON (requests by method, responses by status, injected faults, objects per bucket);
    DELETE URL/_mock/stats resets them. S3 clients: AWS_ENDPOINT_URL=URL; GCS clients:
    STORAGE_EMULATOR_HOST=URL; Azure clients: AZURE_STORAGE_ENDPOINT=URL (path-style,
    az://ACCOUNT/CONTAINER/ with any account; a container is a --bucket).
    """
    if sink and directory is not None:
        raise UsageError("--sink and --dir cannot be used together", hint="drop one of them")
    if port and port + listeners - 1 > 65535:
        raise UsageError(
            f"--port {port} with --listeners {listeners} runs past port 65535",
            hint="use a lower --port, or --port 0 for free ones",
        )
    store: ObjectStore = _disk_store(directory) if directory else MemoryStore(sink=sink)
    cred = StaticCredentialProvider.from_spec(auth).current() if auth else None
    faults = Faults(
        latency_s=_seconds(latency, "--latency"),
        jitter_s=_seconds(latency_jitter, "--latency-jitter"),
        error_rate=error_rate,
        error_status=error_status,
        reset_rate=reset_rate,
        truncate_rate=truncate_rate,
        stall_rate=stall_rate,
        stall_s=_seconds(stall_time, "--stall-time"),
        seed=seed,
        max_inflight=max_inflight,
    )
    az_account, az_key = _azure_key(azure_key)
    app_ = DialectRouter(
        S3App(store, cred), gcs=GcsApp(store), azure=AzureApp(store, account=az_account, key=az_key)
    )
    for name in bucket or ():
        store.create_bucket(name)
    stats = MockStats(store)  # one for every listener: GET /_mock/stats

    async def serve() -> None:
        servers = []
        for i in range(listeners):
            p = port + i if port else 0
            server = await _listen(
                start_server(app_, host, p, faults=faults, sink=sink, public=public, stats=stats),
                host,
                p,
            )
            servers.append(server)
            bound = server.sockets[0].getsockname()
            also = "also " if i else ""
            print(f"mock S3 {also}listening on http://{bound[0]}:{bound[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for server in servers:
            server.close()

    uvloop.run(serve())
