"""HTTP/2 against nginx ``listen ... http2``, cleartext (prior knowledge) and TLS (ALPN "h2",
a CA made here), with ``keepalive_requests 50``: nginx ends every connection with a graceful
GOAWAY after 50 streams, so hundreds of requests cross many GOAWAYs. None may fail: streams at
or below the GOAWAY's last id drain, later ones are sent again on a new connection.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from sai3bench.http import resends
from sai3bench.http.client import HttpClient, Reply
from sai3bench.http.endpoint import Endpoint
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

from .h2nginx import Nginx, run_nginx, s3_over_h2
from .tlscerts import CertFiles, make_certs

pytestmark = pytest.mark.integration

T = TypeVar("T")
SMALL = bytes(range(256)) * 4  # 1 KiB
KEEPALIVE = 50


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module", params=["h2c", "tls"])
def nginx(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, certs: CertFiles
) -> Iterator[tuple[Nginx, Endpoint]]:
    tls = request.param == "tls"
    with run_nginx(
        tmp_path_factory.mktemp(f"nginx-{request.param}"),
        certs=certs if tls else None,
        keepalive=KEEPALIVE,
    ) as server:
        (server.root / "small").write_bytes(SMALL)
        ctx = ssl.create_default_context(cafile=str(certs.ca)) if tls else None
        yield server, Endpoint("127.0.0.1", server.port, ctx, "localhost" if tls else None)


def test_s3_backend_put_get_head_delete(
    run_loop: LoopRunner, nginx: tuple[Nginx, Endpoint]
) -> None:
    """The S3 backend's four object ops over h2c and over TLS with ALPN h2 (nginx ignores the
    SigV4 signature); nothing goes over HTTP/1.1."""
    server, endpoint = nginx

    async def go() -> None:
        b = s3_over_h2(endpoint)
        try:
            body = memoryview(bytes(range(256)) * 4096)  # 1 MiB: flow control on the way up
            assert (await b.put("dir/obj", body))[0] == len(body)
            assert (server.root / "bucket" / "dir" / "obj").read_bytes() == body
            t0 = time.perf_counter_ns()
            got, first_byte_ns = await b.get("dir/obj")
            assert got == len(body) and t0 < first_byte_ns < time.perf_counter_ns()  # TTFB
            assert (await b.head("dir/obj"))[0] == len(body)
            await b.delete("dir/obj")
            with pytest.raises(OpError) as missing:
                await b.head("dir/obj")
            assert missing.value.outcome == Outcome.NOT_FOUND
            assert b._http.h1.opened == 0 and b._http.h2 is not None and b._http.h2.opened >= 1
        finally:
            await b.close()

    run_loop(go())


async def _many(n: int, workers: int, make: Callable[[int], Awaitable[T]]) -> list[T | OpError]:
    """``n`` requests from ``workers`` concurrent workers; each result or the exception."""
    todo = iter(range(n))
    out: list[T | OpError] = []

    async def worker() -> None:
        for i in todo:
            try:
                out.append(await make(i))
            except OpError as exc:
                out.append(exc)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return out


def test_500_gets_cross_goaways_without_a_failure(
    run_loop: LoopRunner, nginx: tuple[Nginx, Endpoint]
) -> None:
    _, endpoint = nginx

    async def go() -> tuple[list[Reply | OpError], int, int]:
        client = HttpClient(endpoint, http2=True, h2_connections=2)
        try:
            got = await _many(
                500, 32, lambda i: client.request("GET", "/small", [], keep_body=True)
            )
            assert client.h2 is not None
            return got, client.h2.opened, client.h2.resent
        finally:
            await client.close()

    heard: list[int] = []
    resends.listen(heard)
    got, opened, resent = run_loop(go())
    failed = [r for r in got if isinstance(r, OpError)]
    assert not failed, f"{len(failed)} of 500 failed, first: {failed[0]!r}"
    assert [(r.status, r.body) for r in got] == [(200, SMALL)] * 500
    # nginx sent a GOAWAY every 50 streams: at least 10 connections were needed.
    assert opened >= 500 // KEEPALIVE
    assert len(heard) == resent  # every resend was told to the op's runner


def test_put_delete_cycles_cross_goaways_without_a_failure(
    run_loop: LoopRunner, nginx: tuple[Nginx, Endpoint]
) -> None:
    """Uploads are in flight when a GOAWAY comes: a drained PUT completes, an unprocessed one
    goes again with its whole body."""
    server, endpoint = nginx
    body = memoryview(bytes(range(256)) * 64)  # 16 KiB

    async def go() -> list[int | OpError]:
        client = HttpClient(endpoint, http2=True, h2_connections=2)
        try:

            async def cycle(i: int) -> int:
                put = await client.request("PUT", f"/pd/{i}", [], body, length=len(body))
                gone = await client.request("DELETE", f"/pd/{i}", [])
                return put.status * 1000 + gone.status

            return await _many(150, 32, cycle)
        finally:
            await client.close()

    got = run_loop(go())
    failed = [r for r in got if isinstance(r, OpError)]
    assert not failed, f"{len(failed)} of 150 failed, first: {failed[0]!r}"
    assert sorted(set(got)) == [201204]
    assert not any((server.root / "pd").iterdir())


def test_tls_without_h2_on_the_server_is_a_protocol_error(
    run_loop: LoopRunner, certs: CertFiles, tmp_path: Path
) -> None:
    """nginx with TLS but no ``http2``: ALPN picks http/1.1, and --http2 says so in one line."""
    with run_nginx(tmp_path, certs=certs, keepalive=KEEPALIVE, h2=False) as server:
        ctx = ssl.create_default_context(cafile=str(certs.ca))
        client = HttpClient(Endpoint("127.0.0.1", server.port, ctx, "localhost"), http2=True)

        async def go() -> None:
            try:
                with pytest.raises(OpError) as err:
                    await client.request("GET", "/small", [])
                assert err.value.outcome == Outcome.PROTOCOL and err.value.permanent
                assert "did not negotiate h2" in str(err.value)
                assert "without --http2" in (err.value.hint or "")
            finally:
                await client.close()

        run_loop(go())


def test_without_nginx_ci_fails_and_elsewhere_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where CI=true a missing nginx is a failure, never a silent skip of these tests."""
    from . import h2nginx

    monkeypatch.setattr("shutil.which", lambda _: None)
    monkeypatch.setattr(h2nginx, "Path", lambda _: Path("/nonexistent/nginx"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nginx is required under CI"):
        h2nginx.nginx_binary()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        h2nginx.nginx_binary()
