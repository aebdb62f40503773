"""az:// checked by a third party: Azurite (Microsoft's Blob emulator) verifies our Shared Key
signatures, block uploads, ranges, listing pages and error documents.

Azurite runs from .ci/node (``npm install --prefix .ci/node azurite@3.35``) or PATH, on
127.0.0.1 at a free port, in its own process group, with telemetry off. Under CI=true a missing
Azurite fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from sai3bench.backends.azure import AzureBackend, azure_backend_from_env, blob_endpoint
from sai3bench.backends.base import ObjectInfo
from sai3bench.outcome import OpError, Outcome
from sai3bench.signers.azure import DEV_ACCOUNT, DEV_KEY, AzureCredentials, SharedKeyCredentials

from .conftest import free_port, wait_for_port

pytestmark = pytest.mark.integration
LOCAL = Path(__file__).resolve().parents[2] / ".ci/node/node_modules/.bin/azurite-blob"
WRONG_KEY = "AAAA" + DEV_KEY[4:]


def _binary() -> str | None:
    return str(LOCAL) if LOCAL.exists() else shutil.which("azurite-blob")


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The blob endpoint URL of a fresh Azurite (path-style: no account in it)."""
    binary = _binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Azurite is not installed (npm install --prefix .ci/node azurite@3.35)")
        pytest.skip("Azurite is not installed")
    port = free_port()
    cmd = [
        binary,
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(tmp_path_factory.mktemp("azurite")),
        "--silent",
        "--disableTelemetry",
        "--skipApiVersionCheck",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for_port(port, "Azurite", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def backend(
    url: str, container: str, credentials: AzureCredentials | None = None, **kw: Any
) -> AzureBackend:
    endpoint, base = blob_endpoint(DEV_ACCOUNT, url)
    return AzureBackend(
        DEV_ACCOUNT,
        container,
        endpoint=endpoint,
        base_path=base,
        credentials=credentials or SharedKeyCredentials(DEV_ACCOUNT, DEV_KEY),
        **kw,
    )


def run(make: Callable[[], Awaitable[None]]) -> None:
    uvloop.run(make())  # type: ignore[arg-type]


def test_round_trip_blocks_ranges_paging(azurite: str) -> None:
    async def go() -> None:
        b = backend(
            azurite, "trip", block_threshold=256 * 1024, block_size=100 * 1024, list_page_size=3
        )
        try:
            await b.create_container()
            await b.create_container()  # 409 ContainerAlreadyExists: fine
            small = {f"p/{i:02}": memoryview(bytes([i]) * (i + 1)) for i in range(10)}
            puts = await asyncio.gather(*(b.put(k, v) for k, v in small.items()))
            assert [n for n, _ in puts] == [i + 1 for i in range(10)]
            data = bytes(range(256)) * 1200  # 300 KiB: 4 blocks, the first cut across two views
            body = (memoryview(data)[:50_000], memoryview(data)[50_000:])
            assert (await b.put("big", body))[0] == len(data)
            reply = await b._call("GET", b._bpath + "big", keep_body=True)
            assert reply.body == data  # blocks committed in order
            assert (await b.get("big"))[0] == len(data)
            assert (await b.head("big"))[0] == len(data)
            assert (await b.get_range("big", 1000, 5000))[0] == 5000
            assert (await b.get_range("big", len(data) - 10, 100))[0] == 10
            with pytest.raises(OpError) as err:  # Azurite 3.35 answers 206, 0 bytes at len(data)
                await b.get_range("big", len(data) + 1, 1)
            assert err.value.outcome == Outcome.CLIENT_ERROR and "InvalidRange" in err.value.detail
            listed = await b.list("p/")  # 4 pages of 3
            assert listed == [ObjectInfo(k, len(v)) for k, v in small.items()]
            top = await b.list("", recursive=False)
            assert top == [ObjectInfo("big", len(data))]
            assert (await b.delete("p/03"))[0] == 0
            assert len(await b.list("p/")) == 9
            for call in (b.get("p/03"), b.head("p/03"), b.delete("p/03")):
                with pytest.raises(OpError) as err:
                    await call
                assert err.value.outcome == Outcome.NOT_FOUND
                assert err.value.detail.startswith("404 BlobNotFound")
        finally:
            await b.close()

    run(go)


def test_names_that_need_encoding(azurite: str) -> None:
    names = ["dir/a b+c%d.txt", "ünï/€😀", "q?x=1&y#z", "semi;colon,comma'quote"]

    async def go() -> None:
        b = backend(azurite, "names")
        try:
            await b.create_container()
            for i, name in enumerate(names):
                assert (await b.put(name, memoryview(b"n" * (i + 1))))[0] == i + 1
                assert (await b.head(name))[0] == i + 1
                assert (await b.get_range(name, 0, 1))[0] == 1
            listed = await b.list("")
            assert sorted(o.key for o in listed) == sorted(names)
            for name in names:
                await b.delete(name)
        finally:
            await b.close()

    run(go)


def test_missing_container_is_not_found(azurite: str) -> None:
    async def go() -> None:
        b = backend(azurite, "never-made")
        try:
            for call in (b.put("k", memoryview(b"x")), b.get("k"), b.list("")):
                with pytest.raises(OpError) as err:
                    await call
                assert err.value.outcome == Outcome.NOT_FOUND
                assert "ContainerNotFound" in err.value.detail
        finally:
            await b.close()

    run(go)


def test_wrong_key_is_permission_on_the_first_call(azurite: str) -> None:
    async def go() -> None:
        bad = backend(azurite, "denied", SharedKeyCredentials(DEV_ACCOUNT, WRONG_KEY))
        try:
            with pytest.raises(OpError) as err:
                await bad.put("k", memoryview(b"x"))
            assert err.value.outcome == Outcome.PERMISSION
            assert "authenticate" in err.value.detail and "\n" not in err.value.detail
            with pytest.raises(OpError) as err:
                await bad.head("k")
            assert err.value.outcome == Outcome.PERMISSION
            assert err.value.detail.startswith("403 Authori")  # the x-ms-error-code header
        finally:
            await bad.close()

    run(go)


def test_factory_with_development_storage(azurite: str) -> None:
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "AZURE_STORAGE_ENDPOINT": azurite,
    }

    async def go() -> None:
        b = azure_backend_from_env(DEV_ACCOUNT, "fromenv", max_connections=4, env=env)
        try:
            await b.create_container()
            assert (await b.put("k", memoryview(b"abc")))[0] == 3
            assert await b.list("") == [ObjectInfo("k", 3)]
        finally:
            await b.close()

    run(go)


def test_sas_token(azurite: str) -> None:
    sdk = pytest.importorskip("azure.storage.blob")  # SAS generation only: a pure function
    from datetime import UTC, datetime, timedelta

    from sai3bench.signers.azure import SasCredentials

    token = sdk.generate_account_sas(
        DEV_ACCOUNT,
        DEV_KEY,
        resource_types=sdk.ResourceTypes(service=True, container=True, object=True),
        permission=sdk.AccountSasPermissions(
            read=True, write=True, delete=True, list=True, create=True
        ),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )

    async def go() -> None:
        b = backend(azurite, "sas", SasCredentials(token))
        try:
            await b.create_container()
            assert (await b.put("k x", memoryview(b"abcd")))[0] == 4
            assert (await b.get("k x"))[0] == 4
            assert (await b.head("k x"))[0] == 4
            assert (await b.get_range("k x", 1, 2))[0] == 2
            assert await b.list("k") == [ObjectInfo("k x", 4)]
            await b.delete("k x")
        finally:
            await b.close()
        bad = backend(azurite, "sas", SasCredentials(token.replace("sig=", "sig=AAAA")))
        try:
            with pytest.raises(OpError) as err:
                await bad.get("k x")
            assert err.value.outcome == Outcome.PERMISSION
        finally:
            await bad.close()

    run(go)
