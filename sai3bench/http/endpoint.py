"""Where requests go and how to reach it: host, port, base path, TLS trust and the response
timeouts, shared by the HTTP/1.1 and HTTP/2 pools.

Owns the one parse of an endpoint URL, so a bad port or an unreadable CA bundle is refused
once, at set-up, with the place the URL came from named. Never reads the environment: callers
pass the CA bundle (``AWS_CA_BUNDLE`` for S3) and the timeouts they were given.
"""

from __future__ import annotations

import ssl
from typing import Final, NamedTuple
from urllib.parse import SplitResult, urlsplit

from sai3bench.errors import ConfigError

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
#: Seconds from a request's last byte written to its response's first byte (--first-byte-timeout).
DEFAULT_FIRST_BYTE_TIMEOUT: Final = 10.0
_PORTS: Final = "a TCP port is a number from 1 to 65535"


class Endpoint(NamedTuple):
    """Where requests go. ``tls`` is None for cleartext http://.

    ``path`` is a base path every request target starts with (``/s3`` of
    ``http://gw:8080/s3``; "" for none). ``first_byte_timeout`` bounds the wait from a request
    written to the first byte of its response: a server that accepts and never answers fails
    in that many seconds, not after the whole-response timeout.
    """

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None
    path: str = ""
    first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def endpoint_from_url(
    url: str,
    *,
    insecure: bool = False,
    ca_bundle: str | None = None,
    first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
    source: str | None = None,
) -> Endpoint:
    """``http://127.0.0.1:9000`` -> Endpoint (any HTTP object store: S3, GCS, Azure).

    TLS verifies against ``ca_bundle`` (S3's AWS_CA_BUNDLE or ca_bundle, a PEM file; as in botocore
    it replaces the system CAs) when given, else the system CAs (which SSL_CERT_FILE can
    replace), unless ``insecure``. A path is kept in ``Endpoint.path`` without its trailing slash.

    Raises:
        ConfigError: not http(s)://host[:port][/path], a port outside 1..65535, or an
            unreadable CA bundle; the message names ``source`` (where the URL came from).
    """
    where = source or repr(url)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname  # raises for a broken IPv6 literal ("http://[::1")
    except ValueError:
        hostname = None
    if hostname is None or parts.scheme not in ("http", "https"):
        what = f"{source}={url!r} is not an endpoint URL" if source else f"bad endpoint URL {url!r}"
        where = f"set {source} to" if source else "use"
        raise ConfigError(what, hint=f"{where} http://host:port or https://host")
    tls = None
    if parts.scheme == "https":
        tls = _tls_context(ca_bundle, insecure)
    port = _port(parts, where) or (443 if tls else 80)
    path = parts.path.rstrip("/")
    return Endpoint(hostname, port, tls, hostname, path, first_byte_timeout)


def _port(parts: SplitResult, where: str) -> int | None:
    """The URL's port, None when it names none; ConfigError naming it when it is no port."""
    tail = parts.netloc.rpartition("@")[2].rpartition("]")[2]  # after user@ and an IPv6 [..]
    if ":" not in tail:
        return None
    text = tail.partition(":")[2]
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(
            f"bad port {text!r} in {where}: {_PORTS}",
            hint="write host:PORT with PORT from 1 to 65535, or leave the port out",
        )
    return int(text)


def _tls_context(ca_bundle: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        return tls
    if not ca_bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"the CA bundle {ca_bundle!r} cannot be used: {exc}",
            hint="point AWS_CA_BUNDLE (or ca_bundle in ~/.aws/config) at a readable PEM file "
            "of CA certificates, or unset it",
        ) from None
