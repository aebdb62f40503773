"""az:// against our mock server's Azure dialect, in process: the backend, Shared Key checked by
the mock with the project's signer, 32 requests in flight, blocks, sink mode, SAS and bearer
requests as they go on the wire, and the factory reading the environment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import pytest
import uvloop

from sai3bench.backends.azure import AzureBackend, azure_backend_from_env, blob_endpoint
from sai3bench.backends.base import Backend, BlockingBackend, ObjectInfo
from sai3bench.errors import ConfigError, CredentialError
from sai3bench.mock.app import Headers, Response
from sai3bench.mock.azureapp import AzureApp
from sai3bench.mock.server import start_server
from sai3bench.mock.store import MemoryStore
from sai3bench.outcome import OpError, Outcome
from sai3bench.signers.azure import (
    DEV_ACCOUNT,
    DEV_KEY,
    AzureCredentials,
    BearerTokenProvider,
    SasCredentials,
    SharedKeyCredentials,
)

pytestmark = pytest.mark.integration
WRONG_KEY = "AAAA" + DEV_KEY[4:]


@contextlib.asynccontextmanager
async def serving(app: Any, *, sink: bool = False) -> AsyncIterator[int]:
    server = await start_server(app, sink=sink)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        await asyncio.sleep(0.05)  # let the server see the clients' EOFs and close its side
        server.close()
        await server.wait_closed()


def backend(port: int, credentials: AzureCredentials | None = None, **kw: Any) -> AzureBackend:
    endpoint, base = blob_endpoint(DEV_ACCOUNT, f"http://127.0.0.1:{port}")
    return AzureBackend(
        DEV_ACCOUNT,
        "bench",
        endpoint=endpoint,
        base_path=base,
        credentials=credentials or SharedKeyCredentials(DEV_ACCOUNT, DEV_KEY),
        **kw,
    )


def run(make: Callable[[], Awaitable[None]]) -> None:
    uvloop.run(make())  # type: ignore[arg-type]


def test_ops_at_concurrency_32() -> None:
    async def go() -> None:
        app = AzureApp(MemoryStore(), account=DEV_ACCOUNT, key=DEV_KEY)
        async with serving(app) as port:
            b = backend(port, max_connections=32, list_page_size=100)
            assert isinstance(b, Backend) and not isinstance(b, BlockingBackend)
            try:
                await b.create_container()
                await b.create_container()  # exists: fine
                keys = [f"run/w{w:02}/obj {i:03}-ä" for w in range(32) for i in range(20)]

                async def each(op: Callable[[str], Awaitable[tuple[int, int]]]) -> list[int]:
                    return [n for n, _ in await asyncio.gather(*(op(k) for k in keys))]

                sizes = await each(lambda k: b.put(k, memoryview(k.encode() * 3)))
                assert sizes == [len(k.encode()) * 3 for k in keys]
                assert await each(b.get) == sizes
                assert await each(b.head) == sizes
                assert (await b.get(keys[0]))[1] > 0  # the time to first byte comes back
                assert await each(lambda k: b.get_range(k, 2, 5)) == [5] * len(keys)
                listed = await b.list("run/")  # 7 pages of 100
                want = sorted(zip(keys, sizes, strict=True))
                assert listed == [ObjectInfo(k, n) for k, n in want]
                assert await b.list("run/", recursive=False) == []
                top = await b.list("run/w03/", recursive=False)
                assert [o.key for o in top] == [k for k in keys if k.startswith("run/w03/")]
                assert await each(b.delete) == [0] * len(keys)
                assert await b.list("") == []
                with pytest.raises(OpError) as err:
                    await b.get(keys[0])
                assert err.value.outcome == Outcome.NOT_FOUND
                assert err.value.detail.startswith("404 BlobNotFound")
                with pytest.raises(OpError) as err:
                    await b.head(keys[0])
                assert (err.value.outcome, err.value.detail) == (
                    Outcome.NOT_FOUND,
                    "404 BlobNotFound",
                )
                with pytest.raises(OpError) as err:
                    await b.delete(keys[0])
                assert err.value.outcome == Outcome.NOT_FOUND
            finally:
                await b.close()

    run(go)


def test_missing_container_is_not_found() -> None:
    async def go() -> None:
        async with serving(AzureApp()) as port:
            b = backend(port)
            try:
                for call in (b.put("k", memoryview(b"x")), b.get("k"), b.list("")):
                    with pytest.raises(OpError) as err:
                        await call
                    assert err.value.outcome == Outcome.NOT_FOUND
                    assert "ContainerNotFound" in err.value.detail
            finally:
                await b.close()

    run(go)


def test_multi_block_put_round_trips() -> None:
    async def go() -> None:
        app = AzureApp(MemoryStore(), account=DEV_ACCOUNT, key=DEV_KEY)
        async with serving(app) as port:
            b = backend(port, block_threshold=2**20, block_size=256 * 1024)
            try:
                await b.create_container()
                data = bytes(range(256)) * 6144  # 1.5 MiB: 6 blocks
                body = (
                    memoryview(data)[:100_000],
                    memoryview(data)[100_000:],
                )  # blocks cross views
                assert (await b.put("big", body))[0] == len(data)
                assert b"".join(app.store.read("bench", "big", 0, len(data))) == data
                assert (await b.head("big"))[0] == len(data)
                assert (await b.get_range("big", 2**20, 10))[0] == 10
                assert app._blocks == {}
                small = memoryview(b"x" * 2**20)  # at the threshold: one Put Blob
                assert (await b.put("edge", small))[0] == 2**20
            finally:
                await b.close()

    run(go)


def test_sink_mode_counts_without_keeping() -> None:
    async def go() -> None:
        store = MemoryStore(sink=True)
        app = AzureApp(store, account=DEV_ACCOUNT, key=DEV_KEY)
        async with serving(app, sink=True) as port:
            b = backend(port, max_connections=32, block_threshold=100_000, block_size=40_000)
            try:
                await b.create_container()
                body = memoryview(bytes(64 * 1024))
                keys = [f"s/{i}" for i in range(64)]
                puts = await asyncio.gather(*(b.put(k, body) for k in keys))
                gets = await asyncio.gather(*(b.get(k) for k in keys))
                assert [n for n, _ in puts + gets] == [65536] * 128
                assert (await b.put("blocks", memoryview(bytes(250_000))))[0] == 250_000
                assert (await b.get("blocks"))[0] == 250_000
                assert store.size("bench", "blocks") == 250_000
                assert len(await b.list("s/")) == 64
            finally:
                await b.close()

    run(go)


def test_wrong_key_is_permission_on_the_first_call() -> None:
    async def go() -> None:
        app = AzureApp(MemoryStore(), account=DEV_ACCOUNT, key=DEV_KEY)
        app.store.create_bucket("bench")
        async with serving(app) as port:
            bad = backend(port, SharedKeyCredentials(DEV_ACCOUNT, WRONG_KEY))
            try:
                for call in (bad.put("k", memoryview(b"x")), bad.get("k"), bad.list("")):
                    with pytest.raises(OpError) as err:
                        await call
                    assert err.value.outcome == Outcome.PERMISSION
                    assert "authenticat" in err.value.detail.lower()
                    assert "\n" not in err.value.detail
                with pytest.raises(OpError) as err:
                    await bad.head("k")
                assert err.value.detail == "403 AuthenticationFailed"
            finally:
                await bad.close()

    run(go)


class Seen(NamedTuple):
    method: str
    target: str
    authorization: bytes | None


class Recording(AzureApp):
    """No Shared Key check; remembers what came in."""

    def __init__(self) -> None:
        super().__init__(MemoryStore())
        self.seen: list[Seen] = []

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        auth = next((v for n, v in headers if n == b"authorization"), None)
        self.seen.append(Seen(method, target, auth))
        return super().handle(method, target, headers, body, size)


class Token(NamedTuple):
    token: str
    expires_on: int


class FixedToken:
    def get_token(self, *scopes: str, **kwargs: Any) -> Token:
        return Token("tok-123", 4_000_000_000)


def test_sas_and_bearer_on_the_wire() -> None:
    async def go() -> None:
        app = Recording()
        async with serving(app) as port:
            sas = backend(port, SasCredentials("?sv=2021-08-06&sig=a%2Bb%3D"))
            bearer = backend(port, BearerTokenProvider(FixedToken()))  # type: ignore[arg-type]
            try:
                await sas.create_container()
                await sas.put("a b", memoryview(b"xyz"))
                assert await sas.list("a") == [ObjectInfo("a b", 3)]
                assert (await bearer.get("a b"))[0] == 3
                assert (await bearer.get_range("a b", 1, 1))[0] == 1
            finally:
                await sas.close()
                await bearer.close()
        assert [s.target for s in app.seen[:3]] == [
            "/devstoreaccount1/bench?restype=container&sv=2021-08-06&sig=a%2Bb%3D",
            "/devstoreaccount1/bench/a%20b?sv=2021-08-06&sig=a%2Bb%3D",
            "/devstoreaccount1/bench?comp=list&prefix=a&restype=container"
            "&sv=2021-08-06&sig=a%2Bb%3D",
        ]
        assert all(s.authorization is None for s in app.seen[:3])
        assert [s.authorization for s in app.seen[3:]] == [b"Bearer tok-123"] * 2

    run(go)


def test_factory_reads_the_environment() -> None:
    async def go() -> None:
        app = AzureApp(MemoryStore(), account=DEV_ACCOUNT, key=DEV_KEY)
        async with serving(app) as port:
            envs = [
                {
                    "AZURE_STORAGE_CONNECTION_STRING": f"AccountName={DEV_ACCOUNT};"
                    f"AccountKey={DEV_KEY};BlobEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT}"
                },
                {
                    "AZURE_STORAGE_ACCOUNT": DEV_ACCOUNT,
                    "AZURE_STORAGE_KEY": DEV_KEY,
                    "AZURE_STORAGE_ENDPOINT": f"http://127.0.0.1:{port}",
                },
                {
                    "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                    "AZURE_BLOB_ENDPOINT_URL": f"http://127.0.0.1:{port}/{DEV_ACCOUNT}/",
                },
            ]
            for i, env in enumerate(envs):
                b = azure_backend_from_env(DEV_ACCOUNT, "bench", max_connections=4, env=env)
                try:
                    assert b.root_uri == f"az://{DEV_ACCOUNT}/bench/"
                    assert not b.credentials.needs_refresh(4e9)
                    await b.create_container()
                    assert (await b.put(f"k{i}", memoryview(b"abc")))[0] == 3
                    assert (await b.get(f"k{i}"))[0] == 3
                finally:
                    await b.close()

    run(go)


def test_factory_errors_are_one_line() -> None:
    key_env = {"AZURE_STORAGE_KEY": DEV_KEY}
    bad_names = [("Bad_Account", "bench"), ("acct", "Bench"), ("acct", "a--b"), ("acct", "ab")]
    for account, container in bad_names:
        with pytest.raises(ConfigError) as err:
            azure_backend_from_env(account, container, max_connections=1, env=key_env)
        assert "\n" not in err.value.msg and err.value.hint
    with pytest.raises(ConfigError, match="AZURE_STORAGE_ENDPOINT='localhost:10000'"):
        env = {**key_env, "AZURE_STORAGE_ENDPOINT": "localhost:10000"}
        azure_backend_from_env("acct", "bench", max_connections=1, env=env)
    with pytest.raises(CredentialError, match="no Azure credentials found"):
        azure_backend_from_env("acct", "bench", max_connections=1, env={})
    b = azure_backend_from_env("acct", "$root", max_connections=1, env=key_env)
    assert b.root_uri == "az://acct/$root/"


def test_endpoint_forms() -> None:
    ep, base = blob_endpoint("acct", None)
    assert (ep.host, ep.port, ep.tls is not None, base) == (
        "acct.blob.core.windows.net",
        443,
        True,
        "",
    )
    assert blob_endpoint("acct", "http://127.0.0.1:10000")[1] == "/acct"
    assert (
        blob_endpoint("acct", "http://127.0.0.1:10000/devstoreaccount1/")[1] == "/devstoreaccount1"
    )
    assert blob_endpoint("acct", "https://ACCT.blob.core.chinacloudapi.cn")[1] == ""
    with pytest.raises(ConfigError, match="query or fragment"):
        blob_endpoint("acct", "https://acct.blob.core.windows.net/?sv=1")
