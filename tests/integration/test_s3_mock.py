"""s3:// end to end against our mock server: the raw HTTP client, SigV4, the engine, the CLI.

The server runs as `sai3bench mock-server` in a subprocess on 127.0.0.1 (a free port); every
run gets AWS_ENDPOINT_URL pointing at it, IMDS disabled, and no shared AWS config, so nothing
can leave loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from sai3bench.backends.s3 import S3Backend
from sai3bench.http.endpoint import endpoint_from_url
from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import start_server
from sai3bench.outcome import OpError, Outcome
from sai3bench.signers.base import Credential, StaticCredentialProvider
from tests.conftest import LoopRunner

from ..s3_in_process import s3_in_process
from .conftest import run_cli, write_config

KEY, SECRET = "AKIDMOCK", "mock-secret"


class MockServer:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def env(self, *, key: str = KEY, secret: str = SECRET) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }


def _start(*args: str) -> Iterator[MockServer]:
    cmd = [sys.executable, "-m", "sai3bench", "mock-server", "--port", "0", *args]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:  # the with closes its pipes
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            why = proc.stderr.read() if proc.stderr and not line else ""
            assert "listening on http://127.0.0.1:" in line, (line, why)
            yield MockServer(proc, line.split()[-1])
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


@pytest.fixture
def mock_auth() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench", "--auth", f"{KEY}:{SECRET}")


def s3_config(prefix: str, count: int = 300) -> dict[str, object]:
    return {
        "duration": "1s",
        "concurrency": 8,
        "target": f"s3://bench/{prefix}/",
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": count, "size_spec": "2KiB"}],
            "cleanup": True,
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 60},
            {"op": "stat", "path": "data/*", "weight": 20},
            {"op": "put", "path": "new/", "object_size": 1024, "weight": 20},
        ],
    }


def stages(results: Path) -> dict[str, dict[str, object]]:
    (meta,) = results.glob("sai3-*/metadata.json")
    return json.loads(meta.read_text())["stages"]  # type: ignore[no-any-return]


def listed(mock: MockServer, uri: str, cwd: Path) -> int:
    proc = run_cli(["util", "list", uri], cwd, env=mock.env())
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1].split()[-1].replace(",", ""))


@pytest.mark.parametrize("auth", [False, True])
def test_prepare_workload_cleanup(
    tmp_path: Path, mock: MockServer, mock_auth: MockServer, auth: bool
) -> None:
    server = mock_auth if auth else mock
    cfg = write_config(tmp_path, s3_config("run"))
    proc = run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=server.env()
    )
    assert proc.returncode == 0, proc.stderr
    st = stages(tmp_path)
    assert st["prepare"]["objects_created"] == 300
    assert st["workload"]["errors"] == 0 and st["workload"]["ops"] > 0  # type: ignore[operator]
    assert st["cleanup"]["objects_deleted"] == 300
    assert listed(server, "s3://bench/run/data/", tmp_path) == 0
    assert listed(server, "s3://bench/run/new/", tmp_path) > 0  # workload PUTs stay, as upstream


def test_sink_mock_keeps_request_bodies_cleanup_needs(tmp_path: Path) -> None:
    """--sink drops object bodies but not a DeleteObjects request's XML: cleanup works there."""
    cfg = write_config(tmp_path, s3_config("sink", count=80))
    for server in _start("--bucket", "bench", "--sink"):
        args = ["run", "-c", str(cfg), "--results-dir", str(tmp_path)]
        proc = run_cli(args, tmp_path, env=server.env())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert stages(tmp_path)["cleanup"]["objects_deleted"] == 80
        assert listed(server, "s3://bench/sink/data/", tmp_path) == 0


def test_second_run_creates_nothing(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, s3_config("again", count=120))
    for expected in (120, 0):
        out = tmp_path / f"r{expected}"
        args = ["run", "-c", str(cfg), "--results-dir", str(out), "--prepare-only"]
        proc = run_cli(args, tmp_path, env=mock.env())
        assert proc.returncode == 0, proc.stderr
        assert stages(out)["prepare"]["objects_created"] == expected


def test_wrong_secret_fails_fast_with_one_line(tmp_path: Path, mock_auth: MockServer) -> None:
    cfg = write_config(tmp_path, s3_config("denied"))
    proc = run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path)],
        tmp_path,
        env=mock_auth.env(secret="wrong"),
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "SignatureDoesNotMatch" in errors[0], proc.stderr


def test_missing_credentials_is_a_usage_error(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, s3_config("nocreds"))
    env = {k: v for k, v in mock.env().items() if not k.endswith(("_KEY_ID", "_ACCESS_KEY"))}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "sai3bench", "run", "-c", str(cfg), "--results-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**clean, **env, "HOME": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no AWS credentials found" in proc.stderr and "hint:" in proc.stderr


def _backend(port: int, secret: str = "s") -> S3Backend:
    return S3Backend(
        "b",
        endpoint=endpoint_from_url(f"http://127.0.0.1:{port}"),
        region="us-east-1",
        credentials=StaticCredentialProvider(Credential("k", secret)),
        max_connections=4,
    )


def test_backend_ops_and_paging_in_process(run_loop: LoopRunner) -> None:
    async def go() -> None:
        server = await start_server(S3App(auth=Credential("k", "s")))
        port = server.sockets[0].getsockname()[1]
        b = _backend(port)
        try:
            await b.create_bucket()
            keys = [f"p/{i:05}" for i in range(2500)] + ["q/other"]
            for k in keys:
                await b.put(k, memoryview(b"x" * 10))
            t0 = time.perf_counter_ns()
            got, first_byte_ns = await b.get("p/00001")
            assert got == 10 and t0 < first_byte_ns < time.perf_counter_ns()  # TTFB, HTTP/1.1
            assert (await b.get_range("p/00001", 2, 5))[0] == 5  # bytes=2-6, a 206
            assert (await b.get_range("p/00001", 8, 5))[0] == 2  # runs past the end: what is there
            assert (await b.head("p/00001"))[0] == 10
            listed_ = await b.list("p/")
            assert [o.key for o in listed_] == keys[:-1]  # three pages of ListObjectsV2
            assert {o.size for o in listed_} == {10}
            assert [o.key for o in await b.list("", recursive=False)] == []  # only prefixes
            assert await b.delete_many(keys[1000:2000]) == []  # one DeleteObjects request
            assert len(await b.list("p/")) == 1500
            await b.delete("p/00001")
            with pytest.raises(OpError) as err:
                await b.get("p/00001")
            assert err.value.outcome == Outcome.NOT_FOUND and "NoSuchKey" in err.value.detail
            with pytest.raises(OpError) as head_err:  # a HEAD 404 carries no body on the wire
                await b.head("p/00001")
            assert head_err.value.outcome == Outcome.NOT_FOUND
            assert (await b.get("p/00002"))[0] == 10  # and the connection is still in step
            bad = _backend(port, secret="wrong")
            with pytest.raises(OpError) as denied:
                await bad.get("p/00002")
            assert denied.value.outcome == Outcome.PERMISSION
            await bad.close()
        finally:
            await b.close()
            await asyncio.sleep(0.05)  # let the server see the clients' EOFs and close its side
            server.close()
            await server.wait_closed()

    run_loop(go())


def test_multipart_upload_round_trip_in_process() -> None:
    """Above the threshold a PUT goes up in parts (views, never copied) and reads back whole."""
    from sai3bench.payload import split_payload

    async def go() -> None:
        async with s3_in_process(multipart_threshold=2**20, multipart_part=256 * 1024) as (app, b):
            await b.create_bucket()
            data = bytes(range(256)) * 6144  # 1.5 MiB
            body = (memoryview(data)[:100_000], memoryview(data)[100_000:])  # parts cross views
            assert (await b.put("big", body))[0] == len(data)
            assert b"".join(app.store.read("b", "big", 0, len(data))) == data
            assert (await b.head("big"))[0] == len(data)
            assert app._uploads == {}  # completed, nothing left open
            assert len(split_payload(body, 256 * 1024)) == 6

    uvloop.run(go())


def test_time_to_first_byte_is_recorded_for_network_ops(tmp_path: Path, mock: MockServer) -> None:
    import base64

    from sai3bench.metrics.collector import Collector, OpClass

    cfg = write_config(tmp_path, s3_config("ttfb", count=100))
    proc = run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path), "--no-cleanup"],
        tmp_path,
        env=mock.env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "  TTFB: mean=" in proc.stdout
    (res,) = tmp_path.glob("sai3-*/results.json")
    blob = json.loads(res.read_text())["stages"]["workload"]
    c = Collector.decode(base64.b64decode(blob))
    ttfb = c.ttfb(OpClass.GET)
    assert ttfb is not None and ttfb.count == c.ops_of_class(OpClass.GET)
    total = c.merged(OpClass.GET)
    assert 0 < ttfb.min_ns <= total.max_ns  # the head arrives before the op ends
    assert ttfb.mean_ns() <= total.mean_ns()


def _put_only(bucket: str) -> dict[str, object]:
    return {
        "duration": "5s",
        "concurrency": 4,
        "target": f"s3://{bucket}/x/",
        "workload": [{"op": "put", "path": "new/", "object_size": 1024, "weight": 1}],
    }


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert any(ln.startswith("hint:") for ln in proc.stderr.splitlines())
    return errors[0]


def test_dead_endpoint_is_one_line_exit_2(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, _put_only("bench"))
    dead = {**mock.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens on 9
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=dead)
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert "cannot connect to http://127.0.0.1:9" in line
    assert "Results saved" in proc.stdout  # the partial results are still written


def test_missing_bucket_is_one_line_exit_2(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, _put_only("no-such-bucket"))
    proc = run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=mock.env()
    )
    assert proc.returncode == 2
    assert "NoSuchBucket" in _one_error_line(proc)


def test_a_run_where_nothing_succeeds_does_not_exit_0(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {**_put_only("bench"), "duration": "500ms"})
    for server in _start("--bucket", "bench", "--error-rate", "1.0", "--error-status", "503"):
        proc = run_cli(
            ["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=server.env()
        )
        assert proc.returncode == 1  # 503s are results, not set-up errors: exit 1, not 2
        assert "no op succeeded" in _one_error_line(proc)


def test_malformed_endpoint_variable_is_named(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, _put_only("bench"))
    env = {**mock.env(), "AWS_ENDPOINT_URL": "localhost:9000"}  # no scheme
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=env)
    assert proc.returncode == 2
    assert "AWS_ENDPOINT_URL='localhost:9000'" in _one_error_line(proc)


def test_put_bodies_arrive_intact_with_the_reused_worker_scratch(run_loop: LoopRunner) -> None:
    """Each async worker reuses one scratch for its PUT bodies: every stored object must still
    be exactly the bytes DataSource makes for it (sizes vary, so the scratch also grows)."""
    from sai3bench.datagen.buffers import DataSource
    from sai3bench.engine.ops import PlannedOp
    from sai3bench.engine.tasklist import run_task_list
    from sai3bench.metrics.collector import OpKind

    async def go() -> None:
        async with s3_in_process(max_connections=4) as (app, b):
            await b.create_bucket()
            op = PlannedOp(index=0, kind=OpKind.PUT, backend=b, label="PUT")
            op.data = DataSource("random", seed=7)
            tasks = [(0, f"k{i}", 100 + (i * 7919) % 20000, i) for i in range(300)]
            run = await run_task_list([op], iter(tasks), len(tasks), workers=8, executor=None)
            assert run.collector.ops() == 300
            fresh = DataSource("random", seed=7)
            for _, key, size, salt in tasks:
                want = bytes(fresh.payload(size, salt, bytearray()))
                assert b"".join(app.store.read("b", key, 0, size)) == want, key

    run_loop(go())


def test_sign_payload_puts_the_body_hash_in_the_signature() -> None:
    """--sign-payload: x-amz-content-sha256 is the body's SHA-256 (views hashed in order, never
    joined), the server's SigV4 check accepts it, and reads sign the empty-body hash."""
    import hashlib

    async def go() -> None:
        async with s3_in_process(S3App(auth=Credential("k", "s")), sign_payload=True) as (_, b):
            await b.create_bucket()
            data = bytes(range(256)) * 40
            body = (memoryview(data)[:1000], memoryview(data)[1000:])
            _, headers = b._signed("PUT", "obj", (), (), body)
            assert ("x-amz-content-sha256", hashlib.sha256(data).hexdigest()) in headers
            assert (await b.put("obj", body))[0] == len(data)
            assert (await b.get("obj"))[0] == len(data)
            _, read = b._signed("GET", "obj", (), ())
            assert ("x-amz-content-sha256", hashlib.sha256(b"").hexdigest()) in read

    uvloop.run(go())
