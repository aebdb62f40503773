"""Socket-level details shared by every connection kind (HTTP/1.1, HTTP/2, the mock server)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Final, TypeVar, cast

from sai3bench.http.endpoint import Endpoint
from sai3bench.outcome import OpError, Outcome

_P = TypeVar("_P", bound=asyncio.BaseProtocol)
#: Share of the connect timeout the TLS handshake may take once TCP is up (1-2 round trips
#: normally; a plain-HTTP port never answers at all).
HANDSHAKE_SHARE: Final = 0.5


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Small requests must not wait for Nagle's ACK timer (40 ms on Linux)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


#: What to do about a certificate this machine does not trust (S3 reads AWS_CA_BUNDLE; every
#: scheme honours SSL_CERT_FILE through the default context).
TRUST_REMEDY: Final = (
    "if it is yours, set AWS_CA_BUNDLE (s3://) or SSL_CERT_FILE to its CA's PEM file, "
    "or pass --insecure to skip the check (not for real data)"
)

#: The hint line under those errors: the endpoint answered, so "is it up?" would mislead.
CERTIFICATE_HINT: Final = "the endpoint is reachable; only its TLS certificate was refused"
HANDSHAKE_HINT: Final = "the endpoint is reachable; check http:// vs https:// and its TLS port"


@contextlib.contextmanager
def connect_errors(url: str, *, refused_is_final: bool = False) -> Iterator[None]:
    """Map what a connect can raise to an OpError, once, with the endpoint and the likely
    cause in the message: a refused port, a certificate not trusted, TLS spoken to a port
    that answers in plain HTTP, or a connect or handshake that never completed.

    ``refused_is_final``: the caller never reached this endpoint, so a refused connect means
    nothing listens there (a wrong port), not a server restarting: mark it permanent so it is
    reported at once instead of after the retries.
    """
    tls = url.startswith("https:")
    try:
        yield
    except TimeoutError:
        raise OpError(Outcome.TIMEOUT, _timed_out(url, tls)) from None
    except ssl.SSLCertVerificationError as exc:
        why = describe_certificate_failure(url, exc)
        raise OpError(Outcome.CONNECTION, why, CERTIFICATE_HINT, permanent=True) from None
    except ssl.SSLError as exc:
        why = describe_handshake_failure(url, exc)
        raise OpError(Outcome.CONNECTION, why, HANDSHAKE_HINT, permanent=True) from None
    except ConnectionAbortedError as exc:
        if tls and "handshake" in str(exc):  # asyncio's and uvloop's ssl_handshake_timeout
            why = (
                f"TLS handshake with {url} did not complete in time: the server accepted the "
                "connection but never answered; if that port speaks plain HTTP, use http://"
            )
            raise OpError(Outcome.TIMEOUT, why, hint=HANDSHAKE_HINT) from None
        raise OpError(Outcome.CONNECTION, f"cannot connect to {url}: {exc}") from None
    except ConnectionRefusedError as exc:
        why = f"cannot connect to {url}: {exc}"
        raise OpError(Outcome.CONNECTION, why, permanent=refused_is_final) from None
    except OSError as exc:
        during = " (during the TLS handshake?)" if tls and _is_reset(exc) else ""
        raise OpError(Outcome.CONNECTION, f"cannot connect to {url}{during}: {exc}") from None


def _timed_out(url: str, tls: bool) -> str:
    if not tls:
        return f"connect to {url} timed out"
    return (
        f"connect to {url} timed out: no TCP connection or no TLS handshake; "
        "if that port speaks plain HTTP, use http://"
    )


def _is_reset(exc: OSError) -> bool:
    return isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError)


def describe_certificate_failure(url: str, exc: ssl.SSLCertVerificationError) -> str:
    """One line: the certificate was refused, why (OpenSSL's verify reason: self-signed,
    hostname mismatch, expired, unknown issuer), and what to do about it."""
    reason = getattr(exc, "verify_message", None) or exc.strerror or str(exc)
    return f"TLS certificate of {url} not trusted ({reason}): {TRUST_REMEDY}"


def describe_handshake_failure(url: str, exc: ssl.SSLError) -> str:
    """One line: the TLS handshake failed, and the likely reason. A peer that answers a
    ClientHello in cleartext (OpenSSL: "wrong version number", or "http request") is a plain
    HTTP port; a peer that closes mid-handshake may be one too."""
    reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
    text = str(reason).lower().replace("_", " ")
    if "wrong version number" in text or "http request" in text or "record layer" in text:
        why = "the server answered in plain text: that port speaks plain HTTP, use http://"
    elif isinstance(exc, ssl.SSLEOFError) or "eof" in text:
        why = "the server closed the connection: the port may not speak TLS (try http://)"
    else:
        why = f"{reason}"
    return f"TLS handshake with {url} failed: {why}"


async def open_connection(
    factory: Callable[[], _P], endpoint: Endpoint, timeout: float, *, first: bool = False
) -> _P:
    """Connect to ``endpoint`` (TCP, then TLS when it has a context) within ``timeout`` seconds.

    The TLS handshake alone gets ``HANDSHAKE_SHARE`` of it: a port that accepts and then never
    answers a ClientHello (a plain-HTTP server waiting for a request line) is then told apart,
    in its own words, from a port that never accepts. Raises OpError (see ``connect_errors``;
    ``first``: no connection to this endpoint has ever been made, see ``refused_is_final``).
    """
    loop = asyncio.get_running_loop()
    ep = endpoint
    with connect_errors(ep.url, refused_is_final=first):
        async with asyncio.timeout(timeout):
            if ep.tls is None:
                _, protocol = await loop.create_connection(factory, ep.host, ep.port)
            else:
                _, protocol = await loop.create_connection(
                    factory,
                    ep.host,
                    ep.port,
                    ssl=ep.tls,
                    server_hostname=ep.server_hostname,
                    ssl_handshake_timeout=timeout * HANDSHAKE_SHARE,
                )
    return protocol


#: get_buffer's answer before a connection exists (never asked for then).
_NO_BUFFER: Final = memoryview(b"")


class ReceiveBufferProtocol(asyncio.BufferedProtocol):
    """A stream protocol that reads into one buffer allocated once and reused for every read.

    Subclasses (the HTTP/1.1 and HTTP/2 connections, the mock server) parse each read before
    the next one arrives, so ``get_buffer`` can hand out the same view every time.
    """

    __slots__ = ("_size", "_view", "transport")

    def __init__(self, size: int) -> None:
        self._size = size
        self._view = _NO_BUFFER
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The buffer is made only once the connection exists: a refused or timed-out connect
        # allocates nothing. Made in __init__, each failed attempt held its 256 KiB until the
        # garbage collector ran (the exception's traceback keeps the protocol in a cycle):
        # against a server killed mid-prepare, 3,000 failed PUTs peaked at 1.6 GB.
        self._view = memoryview(bytearray(self._size))
        # uvloop's transports do not subclass asyncio.Transport; they implement it.
        self.transport = cast(asyncio.Transport, transport)
        set_nodelay(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view
