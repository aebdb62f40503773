"""An in-process mock S3 server and one S3Backend on it: the set-up several tests share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sai3bench.backends.s3 import S3Backend
from sai3bench.http.endpoint import endpoint_from_url
from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import start_server
from sai3bench.signers.base import Credential, StaticCredentialProvider


@contextlib.asynccontextmanager
async def s3_in_process(
    app: S3App | None = None, **backend_options: Any
) -> AsyncIterator[tuple[S3App, S3Backend]]:
    """(app, backend for bucket "b" with key k/s) on a loopback port; both closed after.

    The short sleep lets the server see the clients' EOFs before it closes its side.
    """
    app = app if app is not None else S3App()
    server = await start_server(app)
    port = server.sockets[0].getsockname()[1]
    backend = S3Backend(
        "b",
        endpoint=endpoint_from_url(f"http://127.0.0.1:{port}"),
        region="us-east-1",
        credentials=StaticCredentialProvider(Credential("k", "s")),
        **backend_options,
    )
    try:
        yield app, backend
    finally:
        await backend.close()
        await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()
