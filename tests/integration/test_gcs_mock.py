"""gs:// backend against our mock server's GCS dialect, in process on 127.0.0.1.

Covers what the emulator cannot: 32 requests in flight, list paging with small pages, resumable
uploads whose chunks cross payload views, a server that persists only part of a chunk, sink
mode, injected faults, and the environment-driven factory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from sai3bench.backends.base import Backend, BlockingBackend, ObjectInfo
from sai3bench.backends.gcs import GcsBackend, endpoint_from_env, gcs_backend_from_env
from sai3bench.errors import ConfigError, CredentialError
from sai3bench.http.endpoint import endpoint_from_url
from sai3bench.mock.app import Headers, Response
from sai3bench.mock.gcsapp import GcsApp
from sai3bench.mock.server import Faults, start_server
from sai3bench.mock.store import MemoryStore
from sai3bench.outcome import OpError, Outcome

from .conftest import free_port

pytestmark = pytest.mark.integration

ODD_NAMES = ["dir/sub/obj.dat", "with space.bin", "ünï/日本.txt", "100%", "q?x", "h#y", "a+b"]


class Server:
    def __init__(self, app: GcsApp, server: asyncio.Server) -> None:
        self.app = app
        self.server = server
        self.port = server.sockets[0].getsockname()[1]

    def backend(self, **kwargs: Any) -> GcsBackend:
        endpoint = endpoint_from_url(f"http://127.0.0.1:{self.port}")
        kwargs.setdefault("max_connections", 32)
        return GcsBackend("bench", endpoint=endpoint, credentials=None, **kwargs)


def serve(
    test: Callable[[Server], Coroutine[Any, Any, None]],
    app: GcsApp | None = None,
    **server_kwargs: Any,
) -> None:
    async def go() -> None:
        a = app or GcsApp(MemoryStore())
        a.store.create_bucket("bench")
        server = await start_server(a, **server_kwargs)
        try:
            await test(Server(a, server))
        finally:
            await asyncio.sleep(0.02)  # let the server see the clients' EOFs
            server.close()
            await server.wait_closed()

    uvloop.run(go())


def test_ops_at_concurrency_32():
    async def t(s: Server) -> None:
        b = s.backend()
        assert isinstance(b, Backend) and not isinstance(b, BlockingBackend)
        try:
            keys = [f"run/data/prepared-{i:08}.dat" for i in range(300)] + ODD_NAMES
            sizes = {k: 100 + i for i, k in enumerate(keys)}
            data = bytes(range(256)) * 4
            puts = await asyncio.gather(*(b.put(k, memoryview(data)[: sizes[k]]) for k in keys))
            assert [n for n, _ in puts] == [sizes[k] for k in keys]
            gets = await asyncio.gather(*(b.get(k) for k in keys))
            heads = await asyncio.gather(*(b.head(k) for k in keys))
            assert [n for n, _ in gets] == [n for n, _ in heads] == [sizes[k] for k in keys]
            assert all(first > 0 for _, first in puts + gets + heads)  # the TTFB comes back
            for name in ODD_NAMES:  # stored under the exact name, not a mangled one
                assert s.app.store.size("bench", name) == sizes[name]
            assert (await b.get_range(ODD_NAMES[2], 10, 20))[0] == 20
            assert (await b.get_range("run/data/prepared-00000000.dat", 90, 50))[
                0
            ] == 10  # the tail
            listed = await b.list("")
            assert listed == [ObjectInfo(k, sizes[k]) for k in sorted(keys)]
            deletes = await asyncio.gather(*(b.delete(k) for k in keys))
            assert [n for n, _ in deletes] == [0] * len(keys)
            assert await b.list("") == []
            with pytest.raises(OpError) as err:
                await b.get(keys[0])
            assert err.value.outcome == Outcome.NOT_FOUND
            assert err.value.detail.startswith("404 notFound: No such object: bench/run/")
            for op in (b.head, b.delete):
                with pytest.raises(OpError) as err:
                    await op(keys[0])
                assert err.value.outcome == Outcome.NOT_FOUND
        finally:
            await b.close()

    serve(t)


def test_uris_and_bad_arguments():
    async def t(s: Server) -> None:
        b = s.backend()
        try:
            assert b.root_uri == "gs://bench/"
            assert b.key_of("gs://bench/a/b") == "a/b" and b.uri_of("a/b") == "gs://bench/a/b"
            with pytest.raises(ValueError):
                await b.get_range("k", 0, 0)
            with pytest.raises(ConfigError, match="256 KiB"):
                s.backend(resumable_chunk=100_000)
        finally:
            await b.close()

    serve(t)


def test_list_paging_and_one_level():
    async def t(s: Server) -> None:
        b = s.backend()
        try:
            flat = [f"p/{i:03}" for i in range(23)]
            nested = ["p/sub/a", "p/sub/b", "p/zz/c"]
            for k in [*flat, *nested, "q/other"]:
                await b.put(k, memoryview(b"xyz"))
            requests: list[str] = []
            real = s.app.handle

            def spy(method: str, target: str, *rest: Any) -> Response:
                requests.append(target)
                return real(method, target, *rest)

            s.app.handle = spy  # type: ignore[method-assign]
            got = await b.list_pages("p/", max_results=5)
            assert [o.key for o in got] == [*flat, "p/sub/a", "p/sub/b", "p/zz/c"]
            assert {o.size for o in got} == {3}
            assert len(requests) == 6 and all("maxResults=5" in r for r in requests)
            assert sum("pageToken=" in r for r in requests) == 5
            one = await b.list_pages("p/", recursive=False, max_results=4)
            assert [o.key for o in one] == flat  # prefixes are not objects
            assert await b.list("p/", recursive=False) == one
            assert await b.list("nothing/") == []
        finally:
            await b.close()

    serve(t)


def test_resumable_upload_across_views():
    async def t(s: Server) -> None:
        chunk = 256 * 1024
        b = s.backend(resumable_threshold=2**20, resumable_chunk=chunk)
        try:
            data = bytes(range(256)) * 6000  # 1.46 MiB: 6 chunks, the last one short
            views = (memoryview(data)[:100_000], memoryview(data)[100_000:700_001])
            body = (*views, memoryview(data)[700_001:])
            assert (await b.put("big/obj", body))[0] == len(data)
            assert b"".join(s.app.store.read("bench", "big/obj", 0, len(data))) == data
            assert (await b.head("big/obj"))[0] == len(data)
            assert (await b.get_range("big/obj", chunk - 3, 6))[0] == 6
            assert s.app._uploads == {}
            small = memoryview(data)[: 2**20]  # at the threshold: one media upload
            assert (await b.put("small", small))[0] == 2**20
        finally:
            await b.close()

    serve(t)


class PartialApp(GcsApp):
    """Persists only the first half of every chunk, as GCS may: the client must resume."""

    puts = 0

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        if method == "PUT" and "upload_id=" in target:
            self.puts += 1
            spec = dict(headers)[b"content-range"].decode()
            first, last = spec.removeprefix("bytes ").split("/")[0].split("-")
            start, stop = int(first), int(last) + 1
            if stop - start > 1:
                half = start + (stop - start) // 2
                total = spec.split("/")[1]
                new = [(n, v) for n, v in headers if n != b"content-range"]
                new.append((b"content-range", f"bytes {start}-{half - 1}/{total}".encode()))
                return super().handle(method, target, new, body[: half - start], half - start)
        return super().handle(method, target, headers, body, size)


def test_resumable_resumes_from_what_the_server_kept():
    async def t(s: Server) -> None:
        b = s.backend(resumable_threshold=1000, resumable_chunk=256 * 1024)
        try:
            data = bytes(range(256)) * 2100  # 537,600 bytes
            assert (await b.put("partial", memoryview(data)))[0] == len(data)
            assert b"".join(s.app.store.read("bench", "partial", 0, len(data))) == data
            # only half of each chunk is kept: more PUTs than the 3 a whole-chunk upload takes
            assert app.puts > 3
        finally:
            await b.close()

    app = PartialApp(MemoryStore())
    serve(t, app)


class FailingChunkApp(GcsApp):
    """Answers the second chunk of every session with 503."""

    def __init__(self) -> None:
        super().__init__(MemoryStore())
        self.chunks = 0
        self.cancelled = 0

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        if "upload_id=" in target:
            if method == "DELETE":
                self.cancelled += 1
            elif method == "PUT":
                self.chunks += 1
                if self.chunks == 2:
                    return self.fault(503, target, headers)
        return super().handle(method, target, headers, body, size)


def test_failed_resumable_upload_is_cancelled():
    app = FailingChunkApp()

    async def t(s: Server) -> None:
        b = s.backend(resumable_threshold=1000, resumable_chunk=256 * 1024)
        try:
            with pytest.raises(OpError) as err:
                await b.put("doomed", memoryview(bytes(600_000)))
            assert err.value.outcome == Outcome.THROTTLED
            assert err.value.detail == "503 backendError: injected fault"
            assert app.cancelled == 1 and app._uploads == {}
            assert s.app.store.size("bench", "doomed") is None
        finally:
            await b.close()

    serve(t, app)


def test_sink_mode():
    async def t(s: Server) -> None:
        b = s.backend(resumable_threshold=2**20, resumable_chunk=256 * 1024)
        try:
            big = memoryview(bytes(3 * 2**20 + 7))
            puts = await asyncio.gather(b.put("big", big), b.put("small", big[:4096]))
            assert puts[0] == (len(big), 0)  # resumable: several requests, no one TTFB
            assert puts[1][0] == 4096 and puts[1][1] > 0
            assert s.app.store.size("bench", "big") == len(big)
            assert s.app.store.size("bench", "small") == 4096
            assert (await b.get("big"))[0] == len(big)  # the sink's pattern, counted
            assert (await b.head("small"))[0] == 4096
        finally:
            await b.close()

    serve(t, GcsApp(MemoryStore(sink=True)), sink=True)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(503, Outcome.THROTTLED), (429, Outcome.THROTTLED), (500, Outcome.SERVER_ERROR)],
)
def test_injected_faults_map_to_outcomes(status, outcome):
    async def t(s: Server) -> None:
        b = s.backend()
        try:
            for op in (b.get("k"), b.put("k", memoryview(b"x")), b.head("k"), b.list("")):
                with pytest.raises(OpError) as err:
                    await op
                assert err.value.outcome == outcome
        finally:
            await b.close()

    serve(t, faults=Faults(error_rate=1.0, error_status=status))


def test_missing_bucket_and_create_bucket():
    async def t(s: Server) -> None:
        endpoint = endpoint_from_url(f"http://127.0.0.1:{s.port}")
        b = GcsBackend("other", endpoint=endpoint, credentials=None)
        try:
            with pytest.raises(OpError) as err:
                await b.put("k", memoryview(b"x"))
            assert err.value.outcome == Outcome.NOT_FOUND and "bucket" in err.value.detail
            await b.create_bucket()
            await b.create_bucket()  # 409: already ours, fine
            assert (await b.put("k", memoryview(b"x")))[0] == 1
        finally:
            await b.close()

    serve(t)


# --- the environment-driven factory ----------------------------------------------------------


@pytest.fixture
def no_google_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in (
        "STORAGE_EMULATOR_HOST",
        "GCS_ENDPOINT_URL",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "GCS_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "https://storage.googleapis.com:443"),
        ({"STORAGE_EMULATOR_HOST": "127.0.0.1:9023"}, "http://127.0.0.1:9023"),
        ({"STORAGE_EMULATOR_HOST": "http://localhost:4443/"}, "http://localhost:4443"),
        ({"GCS_ENDPOINT_URL": "https://127.0.0.1:4443"}, "https://127.0.0.1:4443"),
        (
            {"STORAGE_EMULATOR_HOST": "127.0.0.1:1", "GCS_ENDPOINT_URL": "http://127.0.0.1:2"},
            "http://127.0.0.1:1",
        ),
    ],
)
def test_endpoint_from_env(env, url):
    assert endpoint_from_env(env).url == url


@pytest.mark.parametrize(
    "env", [{"GCS_ENDPOINT_URL": "localhost:4443"}, {"STORAGE_EMULATOR_HOST": "http://"}]
)
def test_malformed_endpoint_variable_is_named(env):
    with pytest.raises(ConfigError) as info:
        endpoint_from_env(env)
    (name,) = env
    assert info.value.msg.startswith(f"{name}=") and name in (info.value.hint or "")


def test_factory_with_emulator_host_is_anonymous(monkeypatch, no_google_env):
    async def t(s: Server) -> None:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"127.0.0.1:{s.port}")
        b = gcs_backend_from_env("bench", max_connections=4)
        try:
            assert b.credentials is None
            assert (await b.put("via/env", memoryview(b"abc")))[0] == 3
            assert (await b.get("via/env"))[0] == 3
        finally:
            await b.close()

    serve(t)


def test_factory_without_credentials_is_one_line(monkeypatch, no_google_env, tmp_path):
    monkeypatch.setenv("GCS_ENDPOINT_URL", "https://storage-psc.p.example.com")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(CredentialError) as info:
        gcs_backend_from_env("bench", max_connections=4)
    assert "\n" not in info.value.msg and "gcloud auth" in (info.value.hint or "")


# --- HTTP/2: nginx (h2c, prior knowledge) in front of the mock -------------------------------

NGINX_CONF = """
daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log; {user}
events {{ worker_connections 256; }}
http {{
  access_log off; client_max_body_size 0; keepalive_requests 1000000;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{
    listen 127.0.0.1:{port} http2;
    location / {{
      proxy_pass http://127.0.0.1:{upstream}; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_request_buffering off; proxy_buffering off;
    }}
  }}
}}
"""


def test_http2_through_nginx(tmp_path):
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required under CI (apt-get install -y nginx)")
        pytest.skip("nginx not installed")

    async def t(s: Server) -> None:
        port = free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        conf = tmp_path / "nginx.conf"
        conf.write_text(NGINX_CONF.format(d=tmp_path, port=port, upstream=s.port, user=user))
        with subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(tmp_path)], start_new_session=True
        ) as proc:
            try:
                deadline = time.monotonic() + 5
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.2).close()
                        break
                    except OSError:
                        assert proc.poll() is None, (tmp_path / "error.log").read_text()
                        assert time.monotonic() < deadline, "nginx did not start"
                        await asyncio.sleep(0.02)
                endpoint = endpoint_from_url(f"http://127.0.0.1:{port}")
                b = GcsBackend(
                    "bench",
                    endpoint=endpoint,
                    credentials=None,
                    http2=True,
                    resumable_threshold=2**20,
                    resumable_chunk=256 * 1024,
                )
                try:
                    keys = [f"h2/{i:03}" for i in range(40)] + ODD_NAMES
                    data = memoryview(bytes(range(256)) * 8)
                    sizes = [2048] * len(keys)
                    puts = await asyncio.gather(*(b.put(k, data) for k in keys))
                    gets = await asyncio.gather(*(b.get(k) for k in keys))
                    assert [n for n, _ in puts] == [n for n, _ in gets] == sizes
                    assert (await b.head(ODD_NAMES[2]))[0] == 2048
                    assert (await b.get_range("h2/001", 100, 10))[0] == 10
                    big = bytes(range(256)) * 5000  # resumable: 308s and Location over h2
                    assert (await b.put("h2/big", memoryview(big)))[0] == len(big)
                    assert b"".join(s.app.store.read("bench", "h2/big", 0, len(big))) == big
                    assert len(await b.list_pages("h2/", max_results=7)) == 41
                    assert (await b.delete("h2/000"))[0] == 0
                    with pytest.raises(OpError) as err:
                        await b.get("h2/000")
                    assert err.value.outcome == Outcome.NOT_FOUND
                finally:
                    await b.close()
            finally:
                proc.terminate()
                proc.wait(5)

    serve(t)
