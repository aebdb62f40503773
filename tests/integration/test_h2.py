"""HTTP/2 client connection and pool against real servers on 127.0.0.1.

Two servers: nginx (`listen ... http2`, cleartext prior knowledge, WebDAV PUT), the benchmark
target, for the data path; and a small h2-package server written here, for the faults nginx
will not produce on demand (a stream never answered, RST_STREAM, GOAWAY, a dropped socket, a
low MAX_CONCURRENT_STREAMS, ALPN over TLS). Every test runs on uvloop and asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes

from sai3bench.http.endpoint import Endpoint
from sai3bench.http.h2conn import H2Unprocessed, open_h2_connection
from sai3bench.http.h2pool import H2Pool
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

from .conftest import free_port
from .h2nginx import run_nginx, s3_over_h2
from .tlscerts import CertFiles, make_certs

pytestmark = pytest.mark.integration


SMALL = bytes(range(256)) * 4  # 1 KiB
LARGE = (bytes(range(251)) * (8 * 1024 * 1024 // 251 + 1))[: 8 * 1024 * 1024]  # 8 MiB


# -- the in-test h2 server -------------------------------------------------------------------


class FaultServer(asyncio.Protocol):
    """An h2 server: GET /small, /large, /reset, /hang (never answered), /goaway, /drop
    (socket closed), others 404; PUT stores the body and answers 201 with x-received."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        cfg = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: state["max"]},
        )
        self.out: dict[int, list[Any]] = {}
        self.uploads: dict[int, tuple[bytes, bytearray]] = {}
        self.open: set[int] = set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state["transports"].append(transport)
        self.conn.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                self.open.add(ev.stream_id)
                self.state["peak"] = max(self.state["peak"], len(self.open))
                hdrs = dict(ev.headers)
                self.state.setdefault("authorities", []).append(hdrs[b":authority"])
                self._on_request(ev.stream_id, hdrs[b":method"], hdrs[b":path"])
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                self.uploads[ev.stream_id][1].extend(ev.data)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in self.uploads:
                path, body = self.uploads.pop(ev.stream_id)
                self.state["files"][path] = bytes(body)
                self._respond(ev.stream_id, 201, b"", [(b"x-received", b"%d" % len(body))])
            elif isinstance(ev, h2.events.StreamReset):
                self.state["resets"].append(ev.stream_id)
                self.out.pop(ev.stream_id, None)
                self.open.discard(ev.stream_id)
            elif isinstance(ev, h2.events.WindowUpdated):
                self._pump()
        self._flush()

    def _on_request(self, sid: int, method: bytes, path: bytes) -> None:
        assert self.transport is not None
        if method == b"PUT":
            self.uploads[sid] = (path, bytearray())
        elif path == b"/hang":
            pass
        elif path == b"/later":  # answered on a later loop turn: streams pile up meanwhile
            asyncio.get_running_loop().call_later(0.002, self._later, sid)
        elif path == b"/reset":
            self.conn.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)
            self.open.discard(sid)
        elif path == b"/goaway":
            self.conn.close_connection(last_stream_id=sid - 2)
            self._flush()
            self.transport.close()
        elif path == b"/drop":
            self.transport.abort()
        elif path in self.state["files"]:
            self._respond(sid, 200, self.state["files"][path])
        else:
            self._respond(sid, 404, b"no such key")

    def _later(self, sid: int) -> None:
        if sid in self.open:
            self._respond(sid, 200, SMALL)
            self._flush()

    def _respond(self, sid: int, status: int, body: bytes, extra: Any = ()) -> None:
        head = [(b":status", b"%d" % status), (b"content-length", b"%d" % len(body)), *extra]
        self.conn.send_headers(sid, head, end_stream=not body)
        if body:
            self.out[sid] = [memoryview(body), 0]
            self._pump()
        else:
            self.open.discard(sid)

    def _pump(self) -> None:
        for sid, item in list(self.out.items()):
            view, pos = item
            while pos < len(view):
                room = min(
                    self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size
                )
                if room <= 0:
                    break
                chunk = view[pos : pos + room]
                pos += len(chunk)
                self.conn.send_data(sid, chunk, end_stream=pos == len(view))
            item[1] = pos
            if pos == len(view):
                del self.out[sid]
                self.open.discard(sid)

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


@contextlib.asynccontextmanager
async def fault_server(
    max_streams: int = 100,
    tls: ssl.SSLContext | None = None,
    protocol: type[FaultServer] = FaultServer,
) -> AsyncIterator[tuple[Endpoint, dict[str, Any]]]:
    state: dict[str, Any] = {
        "max": max_streams,
        "peak": 0,
        "resets": [],
        "transports": [],
        "files": {b"/small": SMALL, b"/large": LARGE},
    }
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: protocol(state), "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Endpoint("127.0.0.1", port), state
    finally:
        server.close()
        for transport in state["transports"]:
            transport.abort()
        await asyncio.sleep(0.01)


# -- nginx -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """nginx h2c (tests/integration/h2nginx.py) that never ends a connection itself."""
    with run_nginx(tmp_path_factory.mktemp("nginx"), keepalive=1_000_000) as server:
        (server.root / "small").write_bytes(SMALL)
        (server.root / "large").write_bytes(LARGE)
        yield Endpoint("127.0.0.1", server.port)


# -- tests against nginx ---------------------------------------------------------------------


def test_nginx_get_small_and_large(run_loop: LoopRunner, nginx: Endpoint) -> None:
    async def go() -> None:
        pool = H2Pool(nginx, connections=1)
        try:
            r = await pool.request("GET", "/small", keep_body=True, timeout=5)
            assert (r.status, r.body, r.body_received) == (200, SMALL, len(SMALL))
            assert (b"content-length", b"1024") in r.headers and r.t_first_byte > 0
            r = await pool.request("GET", "/small", keep_body=100, timeout=5)
            assert (r.body, r.body_received) == (SMALL[:100], 1024)
            r = await pool.request("GET", "/large", keep_body=True, timeout=10)
            assert r.body_received == len(LARGE) and r.body == LARGE
            r = await pool.request("GET", "/large", timeout=10)
            assert (r.status, r.body, r.body_received) == (200, b"", len(LARGE))
            r = await pool.request("GET", "/no/such/key", keep_body=True, timeout=5)
            assert r.status == 404 and r.body_received == len(r.body) > 0
            assert repr(pool) == f"<H2Pool {nginx.url} [1 conns, 0 streams open]>"
        finally:
            await pool.close()

    run_loop(go())


def test_nginx_put_1mib_then_64_concurrent_gets(run_loop: LoopRunner, nginx: Endpoint) -> None:
    body = bytes(reversed(LARGE[: 1024 * 1024]))
    name = f"/put-{run_loop.__module__}"

    async def go() -> None:
        pool = H2Pool(nginx, connections=2)
        try:
            # Two views: the upload crosses a view boundary as well as window boundaries.
            parts = (memoryview(body)[:300_000], memoryview(body)[300_000:])
            hdrs = [("content-length", str(len(body)))]
            r = await pool.request("PUT", name, hdrs, parts, timeout=10)
            assert r.status == 201, r.status
            targets = [name if i % 2 else "/small" for i in range(64)]
            got = await asyncio.gather(
                *(pool.request("GET", t, keep_body=True, timeout=10) for t in targets)
            )
            for t, r in zip(targets, got, strict=True):
                assert r.status == 200 and r.body == (body if t == name else SMALL), t
            assert pool.opened == 2 and sum(c.requests for c in pool.conns) == 65
        finally:
            await pool.close()

    run_loop(go())


# -- tests against the fault server ----------------------------------------------------------


def test_streams_beyond_peer_limit_wait_then_succeed(run_loop: LoopRunner) -> None:
    async def go() -> None:
        async with fault_server(max_streams=4) as (ep, state):
            conn = await open_h2_connection(ep)
            got = await asyncio.gather(
                *(conn.request("GET", "/later", ep.host_header, timeout=5) for _ in range(64))
            )
            assert [r.body_received for r in got] == [1024] * 64
            assert state["peak"] == 4 and conn.requests == 64
            body = memoryview(LARGE[: 1024 * 1024])  # server windows are 64 KiB: must wait
            r = await conn.request("PUT", "/up", ep.host_header, (), body, timeout=5)
            assert r.status == 201 and (b"x-received", b"1048576") in r.headers
            assert state["files"][b"/up"] == body
            r = await conn.request("GET", "/large", ep.host_header, keep_body=True, timeout=5)
            assert r.body == LARGE
            conn.close()

    run_loop(go())


def test_timeout_and_reset_fail_only_their_stream(run_loop: LoopRunner) -> None:
    async def go() -> None:
        async with fault_server() as (ep, state):
            conn = await open_h2_connection(ep)
            auth = ep.host_header
            hang = conn.request("GET", "/hang", auth, timeout=0.2)
            reset = conn.request("GET", "/reset", auth, timeout=5)
            ok = [conn.request("GET", "/small", auth, keep_body=True, timeout=5) for _ in range(8)]
            with pytest.raises(OpError) as err:
                await hang
            assert err.value.outcome == Outcome.TIMEOUT
            with pytest.raises(OpError) as err:
                await reset
            assert err.value.outcome == Outcome.SERVER_ERROR and "INTERNAL_ERROR" in str(err.value)
            assert [(await f).body for f in ok] == [SMALL] * 8
            r = await conn.request("GET", "/nope", auth, timeout=5)
            assert r.status == 404 and not conn.closed and not conn.streams
            await asyncio.sleep(0.05)
            assert state["resets"] == [1]  # we reset the timed-out stream (id 1)
            conn.close()

    run_loop(go())


@pytest.mark.parametrize("path", ["/drop", "/goaway"])
def test_server_closing_fails_open_streams_with_connection(run_loop: LoopRunner, path: str) -> None:
    async def go() -> None:
        async with fault_server() as (ep, _):
            conn = await open_h2_connection(ep)
            hangs = [conn.request("GET", "/hang", ep.host_header, timeout=5) for _ in range(3)]
            await asyncio.sleep(0.05)  # the hanging streams reach the server first
            closer = conn.request("GET", path, ep.host_header, timeout=5)
            for f in [*hangs, closer]:
                with pytest.raises(OpError) as err:
                    await f
                assert err.value.outcome == Outcome.CONNECTION
            # GOAWAY names the last stream it processed: ours after that one are unprocessed.
            unprocessed = isinstance(closer.exception(), H2Unprocessed)
            assert unprocessed == (path == "/goaway")
            assert conn.closed
            late = conn.request("GET", "/small", ep.host_header, timeout=5)
            with pytest.raises(H2Unprocessed):
                await late

    run_loop(go())


def test_pool_replaces_a_dead_connection(run_loop: LoopRunner) -> None:
    async def go() -> None:
        async with fault_server() as (ep, _):
            pool = H2Pool(ep, connections=1)
            assert (await pool.request("GET", "/small", timeout=5)).status == 200
            with pytest.raises(OpError):
                await pool.request("GET", "/drop", timeout=5)
            assert (await pool.request("GET", "/small", timeout=5)).status == 200
            assert pool.opened == 2
            await pool.close()

    run_loop(go())


def test_a_refused_first_connect_is_final_as_over_http1(run_loop: LoopRunner) -> None:
    """Nothing listens (a wrong port): the one-line error at once, not after the retries."""

    async def go() -> None:
        pool = H2Pool(Endpoint("127.0.0.1", free_port()), connections=1)
        try:
            with pytest.raises(OpError) as err:
                await pool.request("GET", "/x", timeout=5)
            assert err.value.outcome == Outcome.CONNECTION and err.value.permanent
        finally:
            await pool.close()

    run_loop(go())


# -- ALPN over TLS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("server_alpn", [["h2", "http/1.1"], ["http/1.1"]])
def test_tls_alpn(run_loop: LoopRunner, certs: CertFiles, server_alpn: list[str]) -> None:
    async def go() -> None:
        server_ctx = certs.server_context(server_alpn)
        client_ctx = ssl.create_default_context(cafile=str(certs.ca))
        async with fault_server(tls=server_ctx) as (ep, _):
            tls_ep = Endpoint("127.0.0.1", ep.port, client_ctx, "localhost")
            if "h2" in server_alpn:
                pool = H2Pool(tls_ep, connections=1)
                r = await pool.request("GET", "/small", keep_body=True, timeout=5)
                assert r.body == SMALL
                await pool.close()
            else:
                with pytest.raises(OpError) as err:
                    await open_h2_connection(tls_ep)
                assert err.value.outcome == Outcome.PROTOCOL
                assert "did not negotiate h2" in str(err.value)

    run_loop(go())


# -- the S3 backend over HTTP/2 ---------------------------------------------------------------


def test_s3_virtual_host_over_h2_sends_bucket_authority(run_loop: LoopRunner) -> None:
    """Virtual-hosted addressing over HTTP/2: the bucket rides in :authority, not the path."""

    async def go() -> None:
        async with fault_server() as (endpoint, state):
            b = s3_over_h2(endpoint, "bkt", virtual_host=True)
            try:
                assert (await b.get("small"))[0] == len(SMALL)  # path /small: no bucket segment
            finally:
                await b.close()
            assert state["authorities"] == [f"bkt.127.0.0.1:{endpoint.port}".encode()]

    run_loop(go())


@pytest.mark.parametrize("tls", [False, True], ids=["settings-wait", "tls-handshake"])
def test_pool_closed_while_a_connection_opens_closes_that_socket(
    run_loop: LoopRunner, tls: bool
) -> None:
    """A connect cancelled by ``close()`` while waiting for the server's SETTINGS (or, over
    TLS, for its handshake answer) must close its socket, and ``close()`` returns only once
    the cancelled open has finished: left open, the socket outlived the loop ('unclosed
    resource', 'Event loop is closed' when the server's GOAWAY came in after a run)."""
    context = ssl.create_default_context() if tls else None  # the handshake never completes

    async def go() -> None:
        accepted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        transports: list[asyncio.Transport] = []

        class Silent(asyncio.Protocol):  # accepts, never speaks HTTP/2
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                transports.append(transport)  # type: ignore[arg-type]
                accepted.set_result(None)

            def connection_lost(self, exc: Exception | None) -> None:
                lost.set_result(None)

        server = await asyncio.get_running_loop().create_server(Silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = H2Pool(Endpoint("127.0.0.1", port, tls=context), connections=1)
        try:
            req = asyncio.ensure_future(pool.request("GET", "/x", timeout=30))
            await accepted
            await asyncio.sleep(0)  # the pool waits for SETTINGS, or for the ServerHello
            opening = pool._opening
            assert opening is not None
            await pool.close()
            assert opening.done()
            req.cancel()
            with contextlib.suppress(asyncio.CancelledError, OpError):
                await req
            await asyncio.wait_for(lost, 5)  # the server saw our socket close
        finally:
            for transport in transports:
                transport.abort()
            server.close()

    run_loop(go())
