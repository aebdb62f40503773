"""gs:// backend checked by a third party: gcp-storage-emulator on 127.0.0.1.

The emulator is single-threaded HTTP/1.0 (one connection per request, listen backlog 5), so at
most 4 requests are in flight here. It ignores maxResults and pageToken (every list is one
page) and answers DELETE with 200, not GCS's 204. Under CI=true a missing emulator fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import uvloop

from sai3bench.backends.base import ObjectInfo
from sai3bench.backends.gcs import GcsBackend, gcs_backend_from_env
from sai3bench.outcome import OpError, Outcome

from .conftest import free_port, wait_for_port

pytestmark = pytest.mark.integration

EMULATOR = shutil.which("gcp-storage-emulator")
NAMES = ["plain.dat", "dir/sub/obj.dat", "with space.bin", "ünï/日本.txt", "pct%41", "q?x#y"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """``host:port`` of a fresh in-memory emulator (the STORAGE_EMULATOR_HOST form)."""
    if EMULATOR is None:
        if os.environ.get("CI") == "true":
            pytest.fail("gcp-storage-emulator is not installed (pip install gcp-storage-emulator)")
        pytest.skip("gcp-storage-emulator is not installed")
    port = free_port()
    cmd = [EMULATOR, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"]
    with subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    ) as proc:
        try:
            wait_for_port(port, "gcp-storage-emulator", proc, timeout=20)
            yield f"127.0.0.1:{port}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def run(
    emulator: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[GcsBackend], Coroutine[Any, Any, None]]], None]:
    """Run a test body with a backend built from the environment, as the CLI builds it."""
    for name in ("GCS_ENDPOINT_URL", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)

    def go(body: Callable[[GcsBackend], Coroutine[Any, Any, None]], bucket: str = "bench") -> None:
        async def main() -> None:
            b = gcs_backend_from_env(bucket, max_connections=4)
            try:
                assert b.credentials is None  # an emulator: no token, no Authorization header
                await b.create_bucket()
                await body(b)
            finally:
                await b.close()

        uvloop.run(main())

    return go


def test_put_get_head_delete(run):
    async def t(b: GcsBackend) -> None:
        data = bytes(range(256)) * 8
        sizes = {name: 100 + 50 * i for i, name in enumerate(NAMES)}
        sem = asyncio.Semaphore(4)

        async def put(name: str) -> int:
            async with sem:
                return (await b.put(f"t1/{name}", memoryview(data)[: sizes[name]]))[0]

        assert await asyncio.gather(*(put(n) for n in NAMES)) == [sizes[n] for n in NAMES]
        for name in NAMES:
            assert (await b.get(f"t1/{name}"))[0] == sizes[name]
            assert (await b.head(f"t1/{name}"))[0] == sizes[name]
        assert (await b.get_range("t1/plain.dat", 10, 20))[0] == 20
        assert (await b.get_range("t1/dir/sub/obj.dat", 140, 100))[
            0
        ] == 10  # past the end: the tail
        for name in NAMES:
            assert (await b.delete(f"t1/{name}"))[0] == 0  # the emulator says 200, GCS 204
        assert await b.list("t1/") == []

    run(t)


def test_list_recursive_and_one_level(run):
    async def t(b: GcsBackend) -> None:
        keys = ["t2/a", "t2/b c", "t2/d/e", "t2/d/f/g", "t2/ü"]
        for i, k in enumerate(keys):
            await b.put(k, memoryview(b"x" * (i + 1)))
        assert await b.list("t2/") == [ObjectInfo(k, i + 1) for i, k in enumerate(keys)]
        assert [o.key for o in await b.list("t2/", recursive=False)] == ["t2/a", "t2/b c", "t2/ü"]
        assert [o.key for o in await b.list("t2/d/")] == ["t2/d/e", "t2/d/f/g"]
        assert await b.list("t2/nothing/") == []

    run(t)


def test_not_found_outcomes(run):
    async def t(b: GcsBackend) -> None:
        for op in (b.get, b.head, b.delete):
            with pytest.raises(OpError) as err:
                await op("t3/missing")
            assert err.value.outcome == Outcome.NOT_FOUND
            assert err.value.detail.startswith("404")
        with pytest.raises(OpError) as err:
            await b.get_range("t3/missing", 0, 10)
        assert err.value.outcome == Outcome.NOT_FOUND

    run(t)


def test_missing_bucket(run):
    async def t(b: GcsBackend) -> None:
        other = GcsBackend("no-such-bucket", endpoint=b._http.endpoint, credentials=None)
        try:
            with pytest.raises(OpError) as err:
                await other.get("k")
            assert err.value.outcome == Outcome.NOT_FOUND
        finally:
            await other.close()

    run(t)


def test_resumable_upload(run):
    async def t(b: GcsBackend) -> None:
        b.resumable_threshold = 100_000
        b.resumable_chunk = 256 * 1024
        data = bytes(range(256)) * 2100  # 537,600 bytes: three chunks, the last one short
        body = (memoryview(data)[:70_000], memoryview(data)[70_000:])
        assert (await b.put("t4/big file", body))[0] == len(data)
        assert (await b.head("t4/big file"))[0] == len(data)
        assert (await b.get("t4/big file"))[0] == len(data)
        assert (await b.get_range("t4/big file", 262_140, 8))[0] == 8
        # The bytes themselves, read back by a client that is not ours.
        url = f"{b._http.endpoint.url}/storage/v1/b/bench/o/t4%2Fbig%20file?alt=media"
        assert await asyncio.to_thread(_fetch, url) == data

    run(t)


def _fetch(url: str) -> bytes:
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(url, timeout=10) as resp:  # 127.0.0.1 only
        return resp.read()  # type: ignore[no-any-return]
