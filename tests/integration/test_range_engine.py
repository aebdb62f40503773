"""range_engine on s3://, gs:// and az:// against the in-process mock (one store, three dialects).

A recording app in front of the mock keeps every GET body the server sent, by the offset its
Content-Range names: the ranges of one op must tile the object exactly (so the client read the
object's bytes, hashed against a plain GET's), and their number and concurrency are as set.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.backends.azure import AzureBackend, blob_endpoint
from sai3bench.backends.gcs import GcsBackend
from sai3bench.backends.s3 import S3Backend
from sai3bench.config.storage_opts import RangeEngine
from sai3bench.http.endpoint import endpoint_from_url
from sai3bench.mock.app import Headers, Response
from sai3bench.mock.azureapp import AzureApp
from sai3bench.mock.gcsapp import GcsApp
from sai3bench.mock.router import DialectRouter
from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import start_server
from sai3bench.mock.stats import STATS_PATH
from sai3bench.mock.store import MemoryStore
from sai3bench.outcome import OpError, Outcome
from sai3bench.signers.azure import DEV_ACCOUNT, DEV_KEY, SharedKeyCredentials
from sai3bench.signers.base import Credential, StaticCredentialProvider
from tests.conftest import LoopRunner

from .conftest import run_cli, write_config
from .test_azure_azurite import azurite  # noqa: F401 (a fixture)
from .test_azure_azurite import backend as az_backend
from .test_s3_mock import _start, stages

pytestmark = pytest.mark.integration

KiB = 1024
Cloud = S3Backend | GcsBackend | AzureBackend
BUCKET = "bench"


class Recorder:
    """The mock's router, keeping each GET body sent (by its first byte's offset) and able to
    fail the GET of one offset with a 500."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.store.create_bucket(BUCKET)
        self.app = DialectRouter(S3App(self.store), GcsApp(self.store), AzureApp(self.store))
        self.sent: list[tuple[int, bytes]] = []
        self.in_flight = 0
        self.fail_offset = -1

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        resp = self.app.handle(method, target, headers, body, size)
        if method != "GET" or resp.status not in (200, 206) or "/o?" in target:
            return resp
        rng = dict(resp.headers).get("Content-Range", "bytes 0-")
        offset = int(rng.split()[1].partition("-")[0])
        if offset == self.fail_offset:
            return self.app.fault(500, target, headers)
        return resp._replace(body=self._kept(offset, resp.body))

    def _kept(self, offset: int, body: bytes | Iterator[memoryview]) -> Iterator[memoryview]:
        data = bytearray()
        for piece in [memoryview(body)] if isinstance(body, bytes) else body:
            data += piece
            yield piece
        self.sent.append((offset, bytes(data)))

    def fault(self, status: int, target: str, headers: Headers) -> Response:
        return self.app.fault(status, target, headers)

    def assembled(self) -> bytes:
        """The bytes sent, laid out by offset; refuses overlaps and gaps."""
        out = bytearray()
        for offset, data in sorted(self.sent):
            assert offset == len(out), f"range at {offset} after {len(out)} bytes"
            out += data
        self.sent.clear()
        return bytes(out)


def _backend(dialect: str, port: int, connections: int) -> Cloud:
    url = f"http://127.0.0.1:{port}"
    if dialect == "s3":
        creds = StaticCredentialProvider(Credential("k", "s"))
        return S3Backend(
            BUCKET,
            endpoint=endpoint_from_url(url),
            region="us-east-1",
            credentials=creds,
            max_connections=connections,
        )
    if dialect == "gs":
        return GcsBackend(
            BUCKET, endpoint=endpoint_from_url(url), credentials=None, max_connections=connections
        )
    endpoint, base = blob_endpoint(DEV_ACCOUNT, url)
    return AzureBackend(
        DEV_ACCOUNT,
        BUCKET,
        endpoint=endpoint,
        base_path=base,
        credentials=SharedKeyCredentials(DEV_ACCOUNT, DEV_KEY),
        max_connections=connections,
    )


@contextlib.asynccontextmanager
async def serving(dialect: str, **opts: Any) -> AsyncIterator[tuple[Recorder, Cloud]]:
    rec = Recorder()
    server = await start_server(rec)
    backend = _backend(dialect, server.sockets[0].getsockname()[1], 16)
    backend.use_range_engine(RangeEngine(enabled=True, **opts))
    try:
        yield rec, backend
    finally:
        await backend.close()
        await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()


def _object(size: int) -> bytes:
    return hashlib.shake_256(str(size).encode()).digest(size) if size else b""


OPTS = {"chunk_size": 64 * KiB, "min_split_size": 256 * KiB, "max_concurrent_ranges": 3}


@pytest.mark.parametrize("dialect", ["s3", "gs", "az"])
def test_ranged_get_reads_the_objects_bytes_in_the_configured_ranges(
    dialect: str, run_loop: LoopRunner
) -> None:
    """Below, at and above min_split_size (and empty, and one chunk): every byte once, in
    ceil(size/chunk) requests at and above min_split, one (or two, unremembered) below."""
    chunk, split = OPTS["chunk_size"], OPTS["min_split_size"]
    # size -> (requests on the first GET, requests on the second)
    cases = {
        0: (1, 1),
        chunk: (1, 1),
        split - 1: (2, 1),  # first chunk, then the rest; remembered: one plain GET
        split: (4, 4),
        split + 1: (5, 5),
        10 * chunk + 7: (11, 11),
    }

    async def go() -> None:
        async with serving(dialect, **OPTS) as (rec, b):
            for size, (first, second) in cases.items():
                data = _object(size)
                rec.store.put(BUCKET, f"o/{size}", data)
                for requests in (first, second):
                    got, ttfb = await b.get(f"o/{size}")
                    assert got == size and ttfb > 0
                    assert len(rec.sent) == requests, (size, rec.sent and len(rec.sent))
                    assembled = rec.assembled()
                    assert hashlib.sha256(assembled).digest() == hashlib.sha256(data).digest()

    run_loop(go())


@pytest.mark.parametrize("dialect", ["s3", "gs", "az"])
def test_a_range_that_fails_fails_the_op_with_its_outcome(
    dialect: str, run_loop: LoopRunner
) -> None:
    async def go() -> None:
        async with serving(dialect, **OPTS) as (rec, b):
            rec.store.put(BUCKET, "big", _object(20 * OPTS["chunk_size"]))
            rec.fail_offset = 7 * OPTS["chunk_size"]
            with pytest.raises(OpError) as err:
                await b.get("big")
            assert err.value.outcome == Outcome.SERVER_ERROR
            rec.fail_offset = -1
            rec.sent.clear()
            assert (await b.get("big"))[0] == 20 * OPTS["chunk_size"]  # the pool is sound
            assert len(rec.sent) == 20

    run_loop(go())


def test_a_run_with_range_engine_counts_one_op_per_object(tmp_path: Path) -> None:
    """Through the CLI (config -> Backends -> S3 GETs): each GET op is 16 ranged requests at
    the mock, and one op, of the object's size, in the results."""
    with contextlib.ExitStack() as stack:
        mock = stack.enter_context(contextlib.contextmanager(_start)("--bucket", "bench"))
        cfg: dict[str, Any] = {
            "duration": "1s",
            "concurrency": 2,
            "target": "s3://bench/re/",
            "range_engine": {"enabled": True, "chunk_size": "64KiB", "min_split_size": "128KiB"},
            "prepare": {
                "ensure_objects": [{"base_uri": "data/", "count": 3, "size_spec": "1MiB"}],
                "skip_verification": True,
            },
            "workload": [{"op": "get", "path": "data/*", "weight": 1}],
        }
        made = {**cfg, "prepare": {**cfg["prepare"], "skip_verification": False}}
        prep_args = ["--prepare-only", "--results-dir", str(tmp_path / "p")]
        prep = run_cli(
            ["run", "-c", str(write_config(tmp_path, made)), *prep_args],
            tmp_path,
            env=mock.env(),
        )
        assert prep.returncode == 0, prep.stderr
        urllib.request.urlopen(urllib.request.Request(mock.url + STATS_PATH, method="DELETE"))
        proc = run_cli(
            ["run", "-c", str(write_config(tmp_path, cfg)), "--skip-prepare", "--no-cleanup",
             "--results-dir", str(tmp_path)], tmp_path, env=mock.env(),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        wl = stages(tmp_path)["workload"]
        ops, late = int(wl["ops"]), int(wl["late"])  # type: ignore[call-overload]
        assert ops > 0 and wl["errors"] == 0 and wl["bytes"] == ops * 2**20
        seen = json.loads(urllib.request.urlopen(mock.url + STATS_PATH).read())
        assert seen["requests"]["GET"] == 16 * (ops + late), (seen, ops, late)


def test_azurite_ranges_a_blob_and_learns_its_size(
    azurite: str,  # noqa: F811
    run_loop: LoopRunner,
) -> None:
    """Against Azurite: Content-Range parsed from a real Blob service; an empty blob (416 on
    the first range) falls back to one plain GET."""

    async def go() -> None:
        b = az_backend(azurite, "ranged")
        try:
            await b.create_container()
            data = _object(OPTS["chunk_size"] * 5 + 3)
            await b.put("big", memoryview(data))
            await b.put("empty", memoryview(b""))
            ranged = b.use_range_engine(RangeEngine(enabled=True, **OPTS))
            assert (await b.get("big"))[0] == len(data)
            assert ranged.sizes == {"big": len(data)}
            assert (await b.get("big"))[0] == len(data)  # every range at once now
            assert (await b.get("empty"))[0] == 0
        finally:
            await b.close()

    run_loop(go())


def test_ranges_failing_at_the_mock_fail_their_ops_cleanly(tmp_path: Path) -> None:
    """mock-server --error-rate: a 503 on any of an op's 16 ranges fails (or retries) that op;
    the run still ends with its results, errors counted by outcome, no traceback."""
    with contextlib.ExitStack() as stack:
        start = contextlib.contextmanager(_start)
        mock = stack.enter_context(
            start("--bucket", "bench", "--error-rate", "0.02", "--seed", "3")
        )
        cfg: dict[str, Any] = {
            "duration": "1s",
            "concurrency": 2,
            "target": "s3://bench/rf/",
            "range_engine": {"enabled": True, "chunk_size": "64KiB", "min_split_size": "128KiB"},
            "prepare": {"ensure_objects": [{"base_uri": "data/", "count": 3, "size_spec": "1MiB"}]},
            "workload": [{"op": "get", "path": "data/*", "weight": 1}],
        }
        proc = run_cli(
            ["run", "-c", str(write_config(tmp_path, cfg)), "--results-dir", str(tmp_path)],
            tmp_path,
            env=mock.env(),
        )
        assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
        (results,) = tmp_path.glob("sai3-*/results.json")
        wl = json.loads(results.read_text())["summary"]["workload"]["GET"]
        assert wl["ops"] > 0 and wl["errors"] > 0, wl
        assert "THROTTLED" in proc.stdout  # the failed ranges' outcome, per op
