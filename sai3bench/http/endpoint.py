"""Where requests go: host, port and TLS settings, shared by the HTTP/1.1 and HTTP/2 pools."""

from __future__ import annotations

import ssl
from typing import Final, NamedTuple
from urllib.parse import urlsplit

from sai3bench.errors import ConfigError

DEFAULT_CONNECT_TIMEOUT: Final = 10.0


class Endpoint(NamedTuple):
    """Where requests go. ``tls`` is None for cleartext http://."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def endpoint_from_url(url: str, *, insecure: bool = False) -> Endpoint:
    """``http://127.0.0.1:9000`` -> Endpoint (any HTTP object store: S3, GCS, Azure).

    TLS verifies against system CAs unless ``insecure``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"bad endpoint URL {url!r}", hint="use http://host:port or https://host")
    tls = None
    if parts.scheme == "https":
        tls = ssl.create_default_context()
        if insecure:
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    port = parts.port or (443 if tls else 80)
    return Endpoint(parts.hostname, port, tls, parts.hostname)
