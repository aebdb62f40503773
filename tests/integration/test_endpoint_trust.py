"""The CLI against endpoints that are set up wrong, as an on-prem user meets them.

A private-CA endpoint trusted through AWS_CA_BUNDLE (issue 8 item 13); the same endpoint not
trusted (a certificate message naming AWS_CA_BUNDLE and --insecure); https:// to a plain port
(a TLS handshake message, fast); a gateway path in AWS_ENDPOINT_URL (routed and signed); a
server that never answers (the first-byte timeout); a server that answers junk (named).
Servers run in this process, on a thread of their own, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import start_server
from sai3bench.signers.base import Credential

from .conftest import run_cli
from .tlscerts import CertFiles, make_certs

pytestmark = pytest.mark.integration

KEY, SECRET = "trustkey", "trustsecret"
Start = Callable[[], Awaitable[asyncio.Server]]


@contextlib.contextmanager
def serving(start: Start) -> Iterator[int]:
    """Run ``start()``'s server on a loop in a thread; yields its port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, asyncio.Server] = {}

    def main() -> None:
        asyncio.set_event_loop(loop)
        box["server"] = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        box["server"].close()
        loop.run_until_complete(_wind_down())
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(10), "test server did not start"
    try:
        yield box["server"].sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


async def _wind_down() -> None:
    """Let the server see its clients' FINs, then end the handlers still waiting."""
    await asyncio.sleep(0.2)
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def s3_mock(*, tls: CertFiles | None = None, path_prefix: str = "") -> Start:
    """The bundled S3 mock (SigV4 checked, bucket ``bench``), over TLS when ``tls``."""

    async def start() -> asyncio.Server:
        app = S3App(auth=Credential(KEY, SECRET), path_prefix=path_prefix)
        app.store.create_bucket("bench")
        return await start_server(app, tls=tls.server_context() if tls else None)

    return start


def raw_server(answer: bytes | None) -> Start:
    """Accepts; reads a request; answers ``answer`` (None: never answers)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(65536)
            if answer is None:
                await asyncio.sleep(3600)
            writer.write(answer or b"")
            await writer.drain()
        finally:
            writer.close()

    async def start() -> asyncio.Server:
        return await asyncio.start_server(handle, "127.0.0.1", 0)

    return start


def env(url: str, **extra: str) -> dict[str, str]:
    base = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CA_BUNDLE": "",
        "SSL_CERT_FILE": "",
    }
    base.update(extra)
    return base


def one_error(stderr: str) -> str:
    """The ``error:`` line; asserts there is exactly one and no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("trust"))


@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "SSL_CERT_FILE", "ca_bundle"])
def test_a_private_ca_is_trusted_through_the_bundle_variable(
    tmp_path: Path, certs: CertFiles, variable: str
) -> None:
    """AWS_CA_BUNDLE, SSL_CERT_FILE, or (as botocore reads it) ``ca_bundle`` in the profile's
    section of the shared config file."""
    if variable == "ca_bundle":
        aws_config = tmp_path / "aws-config"
        aws_config.write_text(f"[default]\nca_bundle = {certs.ca}\n")
        trust = {"AWS_CONFIG_FILE": str(aws_config)}
    else:
        trust = {variable: str(certs.ca)}
    with serving(s3_mock(tls=certs)) as port:
        e = env(f"https://127.0.0.1:{port}", **trust)
        put = run_cli(["util", "put", "s3://bench/t/obj", "--object-size", "2KiB"], tmp_path, env=e)
        assert put.returncode == 0, put.stderr
        stat = run_cli(["util", "stat", "s3://bench/t/obj"], tmp_path, env=e)
    assert stat.returncode == 0, stat.stderr
    assert "2,048 bytes" in stat.stdout


def test_an_untrusted_certificate_is_one_line_naming_the_remedies(
    tmp_path: Path, certs: CertFiles
) -> None:
    with serving(s3_mock(tls=certs)) as port:
        r = run_cli(
            ["util", "stat", "s3://bench/x"], tmp_path, env=env(f"https://127.0.0.1:{port}")
        )
    assert r.returncode == 2
    line = one_error(r.stderr)
    assert f"TLS certificate of https://127.0.0.1:{port} not trusted" in line
    assert "unable to get local issuer certificate" in line  # OpenSSL's verify reason
    assert "AWS_CA_BUNDLE" in line and "--insecure" in line


def test_an_untrusted_certificate_hint_does_not_say_endpoint_down(
    tmp_path: Path, certs: CertFiles
) -> None:
    with serving(s3_mock(tls=certs)) as port:
        r = run_cli(["util", "list", "s3://bench/"], tmp_path, env=env(f"https://127.0.0.1:{port}"))
    assert r.returncode == 2
    assert "not trusted" in one_error(r.stderr)
    assert "hint: the endpoint is reachable; only its TLS certificate was refused" in r.stderr
    assert "endpoint is up" not in r.stderr


def stat_over_https(start: Start, tmp_path: Path) -> tuple[int, CompletedProcess[str], float]:
    """``util stat`` against ``start``'s port over https://: the port, the run, its seconds."""
    with serving(start) as port:
        t0 = time.monotonic()
        r = run_cli(
            ["util", "stat", "s3://bench/x"], tmp_path, env=env(f"https://127.0.0.1:{port}")
        )
        return port, r, time.monotonic() - t0


def test_https_to_a_plain_port_is_a_handshake_failure_said_fast(tmp_path: Path) -> None:
    port, r, took = stat_over_https(s3_mock(), tmp_path)
    assert r.returncode == 2
    line = one_error(r.stderr)
    assert f"TLS handshake with https://127.0.0.1:{port} failed" in line
    assert "speaks plain HTTP, use http://" in line
    assert took < 9.0, took  # before: "connect timed out" after the 10 s connect timeout


def test_https_to_a_port_that_never_answers_is_a_stalled_handshake(tmp_path: Path) -> None:
    port, r, took = stat_over_https(raw_server(None), tmp_path)
    assert r.returncode == 2
    line = one_error(r.stderr)
    assert f"TLS handshake with https://127.0.0.1:{port} did not complete in time" in line
    assert "use http://" in line
    assert took < 9.0, took  # the handshake's half of the 10 s connect timeout (5.4 s seen)


def test_a_path_in_aws_endpoint_url_is_routed_and_signed(tmp_path: Path) -> None:
    with serving(s3_mock(path_prefix="/gateway/s3")) as port:
        e = env(f"http://127.0.0.1:{port}/gateway/s3/")
        put = run_cli(["util", "put", "s3://bench/p/obj", "--object-size", "100"], tmp_path, env=e)
        assert put.returncode == 0, put.stderr  # the mock checks SigV4 over the full path
        listed = run_cli(["util", "list", "s3://bench/p/"], tmp_path, env=e)
    assert listed.returncode == 0, listed.stderr
    assert "s3://bench/p/obj" in listed.stdout


def test_a_server_that_never_answers_hits_the_first_byte_timeout(tmp_path: Path) -> None:
    with serving(raw_server(None)) as port:
        t0 = time.monotonic()
        r = run_cli(
            ["util", "stat", "s3://bench/x", "--first-byte-timeout", "1s"],
            tmp_path,
            env=env(f"http://127.0.0.1:{port}"),
        )
        took = time.monotonic() - t0
    assert r.returncode == 2
    line = one_error(r.stderr)
    assert f"no response from http://127.0.0.1:{port} within 1 s of sending the request" in line
    assert took < 60, took  # before: the 120 s whole-response timeout


@pytest.mark.parametrize("junk", [b"\x00garbage\r\rmore junk\n\n", b"SSH-2.0-OpenSSH_9.6\r\n"])
def test_a_junk_answer_names_the_endpoint(tmp_path: Path, junk: bytes) -> None:
    with serving(raw_server(junk)) as port:
        r = run_cli(["util", "stat", "s3://bench/x"], tmp_path, env=env(f"http://127.0.0.1:{port}"))
    assert r.returncode == 2
    line = one_error(r.stderr)
    assert f"http://127.0.0.1:{port} is not speaking HTTP as expected" in line


@pytest.mark.parametrize("value", ["0", "-1s", "abc", "2d"])
@pytest.mark.parametrize("command", [["run", "--dry-run"], ["util", "stat", "s3://bench/x"]])
def test_a_bad_first_byte_timeout_is_one_line(
    tmp_path: Path, command: list[str], value: str
) -> None:
    r = run_cli([*command, "--first-byte-timeout", value], tmp_path, env=env("http://127.0.0.1:9"))
    assert r.returncode == 2
    assert "--first-byte-timeout" in one_error(r.stderr)


def test_an_http_server_that_is_not_s3_is_named(tmp_path: Path) -> None:
    page = b"<html><body>Welcome to nginx!</body></html>"
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
    with serving(raw_server(answer)) as port:
        r = run_cli(["util", "list", "s3://bench/"], tmp_path, env=env(f"http://127.0.0.1:{port}"))
    assert r.returncode == 2
    line = one_error(r.stderr)
    assert f"http://127.0.0.1:{port} is not speaking S3 as expected" in line
