"""nginx as an HTTP/2 server for the --http2 tests: h2c (prior knowledge) or TLS with ALPN,
serving a WebDAV directory or proxying HTTP/1.1 to the bundled mock server.

``keepalive_requests`` is kept low on purpose in most tests: nginx then ends each HTTP/2
connection with a graceful GOAWAY after that many streams, the real-server version of the
drain-and-resend path (streams at or below the GOAWAY's last id finish, later ones are sent
again on a new connection).
Where ``CI=true`` a missing nginx fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

from sai3bench.http.endpoint import Endpoint

from .conftest import free_port
from .tlscerts import CertFiles

if TYPE_CHECKING:
    from sai3bench.backends.s3 import S3Backend

_CONF = """
daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log; {user}
events {{ worker_connections 1024; }}
http {{
  access_log off; client_max_body_size 0; keepalive_requests {keepalive};
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{
    listen 127.0.0.1:{port} {listen};
    {tls}
    root {d}/data;
    location / {{ {location} }}
  }}
}}
"""
_DAV = "dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw all:r;"
_PROXY = (
    "proxy_pass http://127.0.0.1:{upstream}; proxy_http_version 1.1; "
    'proxy_set_header Connection ""; proxy_request_buffering off; proxy_buffering off;'
)


class Nginx(NamedTuple):
    """A running nginx: its port, process (own session), data root, and whether it is TLS."""

    port: int
    proc: subprocess.Popen[bytes]
    root: Path
    tls: bool

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL nginx's whole session (master and worker): the server dies mid-run."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)


def nginx_binary() -> str:
    """nginx's path; skips the test when absent, fails it where CI=true."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required under CI (apt-get install -y nginx)")
        pytest.skip("nginx not installed")
    return binary


@contextlib.contextmanager
def run_nginx(
    d: Path,
    *,
    certs: CertFiles | None = None,
    upstream: int | None = None,
    keepalive: int = 50,
    h2: bool = True,
) -> Iterator[Nginx]:
    """nginx on a free port under ``d``: WebDAV on ``d/data``, or a proxy to 127.0.0.1:
    ``upstream``; TLS with ALPN h2 when ``certs`` is given, else h2c. ``h2=False``: TLS
    offering HTTP/1.1 only (ALPN never picks h2)."""
    binary = nginx_binary()
    for sub in ("data", "tmp"):
        (d / sub).mkdir(exist_ok=True)
    port = free_port()
    tls = f"ssl_certificate {certs.cert}; ssl_certificate_key {certs.key};" if certs else ""
    conf = _CONF.format(
        d=d,
        port=port,
        user="user root;" if os.geteuid() == 0 else "",
        keepalive=keepalive,
        listen=("ssl" if certs else "") + (" http2" if h2 else ""),
        tls=tls,
        location=_PROXY.format(upstream=upstream) if upstream else _DAV,
    )
    (d / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [binary, "-c", str(d / "nginx.conf"), "-p", str(d)], start_new_session=True
    )
    try:
        _wait(port, proc, d)
        yield Nginx(port, proc, d / "data", certs is not None)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(5)


def _wait(port: int, proc: subprocess.Popen[bytes], d: Path) -> None:
    deadline = time.monotonic() + 5
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        assert proc.poll() is None, (d / "error.log").read_text()
        assert time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.02)


def s3_over_h2(
    endpoint: Endpoint, bucket: str = "bucket", *, virtual_host: bool = False
) -> S3Backend:
    """The S3 backend over HTTP/2 to ``endpoint`` with a static key (nginx and the in-test
    server check no signature)."""
    from sai3bench.backends.s3 import S3Backend
    from sai3bench.signers.base import Credential, StaticCredentialProvider

    return S3Backend(
        bucket,
        endpoint=endpoint,
        region="us-east-1",
        credentials=StaticCredentialProvider(Credential("k", "s")),
        virtual_host=virtual_host,
        http2=True,
    )
