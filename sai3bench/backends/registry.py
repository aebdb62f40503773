"""URI -> backend. One backend instance per (scheme, authority), shared by every op of a run."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from sai3bench.backends.aligned import device_block
from sai3bench.backends.base import Backend, Warmable
from sai3bench.backends.cloud import CloudBackend
from sai3bench.backends.direct import DirectBackend
from sai3bench.backends.direct_probe import probe_direct
from sai3bench.backends.file import FileBackend
from sai3bench.backends.multi import MultiEndpointBackend, Strategy, multi_endpoint_backend
from sai3bench.backends.ranged import pool_size
from sai3bench.config.storage_opts import PageCacheMode, RangeEngine
from sai3bench.config.uri import ParsedUri, parse_uri
from sai3bench.errors import ConfigError
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT
from sai3bench.signers.base import CredentialProvider

#: ``s3://host:port/bucket/``: an endpoint in the URI (multi_endpoint, S3_ENDPOINT_URIS). Any
#: colon makes one (bucket names have none), so ``host:99999`` or ``host:abc`` reaches the
#: endpoint parser and is refused with the valid port range, not taken for a bucket name.
_HOST_PORT = re.compile(r"[^/:@]+:[^/:@]*\Z")


class Backends:
    """The backends a run has opened, by URI. Closing it closes them all.

    With ``multi_endpoint`` set, every URI under the namespace root goes to one
    MultiEndpointBackend that spreads ops over the endpoints.
    """

    def __init__(
        self,
        *,
        concurrency: int,
        insecure: bool = False,
        http2: bool = False,
        sign_payload: bool = False,
        first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
        range_engine: RangeEngine | None = None,
        page_cache_mode: PageCacheMode | None = None,
    ) -> None:
        self.concurrency = concurrency
        #: page_cache_mode: the posix_fadvise hint of file:// and direct:// (None: none).
        self.page_cache_mode = page_cache_mode
        #: range_engine: GETs of s3://, gs:// and az:// split into ranges when it is enabled.
        self.range_engine = range_engine if range_engine and range_engine.enabled else None
        #: Connections per cloud endpoint: a ranged GET holds several at once.
        self.connections = pool_size(concurrency, self.range_engine)
        #: Seconds from a request sent to its first response byte (--first-byte-timeout).
        self.first_byte_timeout = first_byte_timeout
        #: s3://, gs:// and az:// over HTTP/2 (prior knowledge on http://, ALPN on https://).
        self.http2 = http2
        #: s3://: sign each body's SHA-256 instead of UNSIGNED-PAYLOAD (--sign-payload).
        self.sign_payload = sign_payload
        #: Skip TLS certificate checks (--insecure): the CLI warns loudly when set.
        self.insecure = insecure
        self._open: dict[tuple[str, str], Backend] = {}
        #: Credential providers of the open backends, refreshed off the hot path.
        self.credentials: list[CredentialProvider] = []
        self.multi: MultiEndpointBackend | None = None

    def set_multi_endpoint(self, root: str, endpoints: Sequence[str], strategy: Strategy) -> None:
        """Route every URI under ``root`` through ``endpoints`` (same namespace on each)."""
        children = [(uri, self.for_uri(uri)) for uri in endpoints]
        for uri, child in children:
            if isinstance(child, DirectBackend):  # one instance: aligned for every disk
                child.widen(parse_uri(uri).path)
        self.multi = multi_endpoint_backend(root, children, strategy)

    def __repr__(self) -> str:
        return f"<Backends {sorted(self._open)}>"

    def for_uri(self, uri: str) -> Backend:
        """The backend serving ``uri``, opened on first use. Raises ConfigError for bad URIs."""
        try:
            parsed = parse_uri(uri)
        except ValueError as exc:
            raise ConfigError(f"bad URI {uri!r}: {exc}", hint="use file:///abs/path/") from None
        multi = self.multi
        if multi is not None and uri.startswith(multi.root_uri):
            return multi
        key = (parsed.scheme, _identity(parsed))
        backend = self._open.get(key)
        if backend is None:
            backend = self._open[key] = self._make(parsed)
            if self.range_engine is not None and isinstance(backend, CloudBackend):
                backend.use_range_engine(self.range_engine)
        return backend

    def _make(self, parsed: ParsedUri) -> Backend:
        scheme, authority = parsed.scheme, parsed.authority
        if scheme == "file":
            return FileBackend(threads=self.concurrency, page_cache=self.page_cache_mode)
        if scheme == "direct":
            # tmpfs refused here too (util commands; run probes every target up front).
            probe_direct(parsed.path, writes=False)
            return DirectBackend(
                threads=self.concurrency,
                page_cache=self.page_cache_mode,
                block=device_block(parsed.path),
            )
        if scheme == "gs":
            return self._gcs(authority)
        if scheme == "az":
            return self._azure(authority, parsed.path.partition("/")[0])
        # s3: endpoint and region from the environment, credentials from botocore's chain
        # (read once here, before the clock starts; refreshed off the hot path).
        from sai3bench.backends.s3 import S3Backend, endpoint_from_env, s3_endpoint
        from sai3bench.signers.aws_credentials import BotocoreCredentialProvider, region_from_env

        region = region_from_env()
        bucket, root = authority, None
        if _HOST_PORT.fullmatch(authority):
            # s3://host:port/bucket/: the endpoint is in the URI (path-style, TLS on 443).
            bucket = parsed.path.partition("/")[0]
            if not bucket:
                raise ConfigError(
                    f"s3://{authority}/ names an endpoint but no bucket",
                    hint=f"write s3://{authority}/BUCKET/prefix/",
                )
            scheme_ = "https" if authority.endswith(":443") else "http"
            root = f"s3://{authority}/{bucket}/"
            url = f"{scheme_}://{authority}"
            endpoint = s3_endpoint(url, self.insecure, self.first_byte_timeout, source=root)
            virtual = False
        else:
            endpoint, virtual = endpoint_from_env(
                region, insecure=self.insecure, first_byte_timeout=self.first_byte_timeout
            )
        creds = BotocoreCredentialProvider.load()
        self.credentials.append(creds)
        return S3Backend(
            bucket,
            root_uri=root,
            endpoint=endpoint,
            region=region,
            credentials=creds,
            virtual_host=virtual,
            max_connections=self.connections,
            http2=self.http2,
            sign_payload=self.sign_payload,
        )

    def _gcs(self, bucket: str) -> Backend:
        # Endpoint from STORAGE_EMULATOR_HOST / GCS_ENDPOINT_URL, tokens from google-auth
        # (fetched here, before the clock starts; refreshed off the hot path).
        from sai3bench.backends.gcs import gcs_backend_from_env

        backend = gcs_backend_from_env(
            bucket,
            max_connections=self.connections,
            insecure=self.insecure,
            http2=self.http2,
            first_byte_timeout=self.first_byte_timeout,
        )
        if backend.credentials is not None:
            self.credentials.append(backend.credentials)
        return backend

    def _azure(self, account: str, container: str) -> Backend:
        # Endpoint from AZURE_STORAGE_ENDPOINT / AZURE_BLOB_ENDPOINT_URL or the connection
        # string; Shared Key, SAS or bearer credentials from the environment.
        from sai3bench.backends.azure import azure_backend_from_env
        from sai3bench.signers.azure import default_token_credential

        backend = azure_backend_from_env(
            account,
            container,
            max_connections=self.connections,
            insecure=self.insecure,
            http2=self.http2,
            first_byte_timeout=self.first_byte_timeout,
            token_credential=default_token_credential(os.environ),
        )
        self.credentials.append(backend.credentials)
        return backend

    def all(self) -> list[Backend]:
        return list(self._open.values())

    async def warm(self, connections: int) -> None:
        """Open ``connections`` per endpoint of every backend in use (a workload share does
        this before its start barrier)."""
        for backend in self._open.values():
            if isinstance(backend, Warmable):
                await backend.warm(connections)

    async def close(self) -> None:
        for backend in self._open.values():
            await backend.close()
        self._open.clear()


def _identity(parsed: ParsedUri) -> str:
    """What one backend instance serves: a bucket, an endpoint's bucket, or an account's
    container."""
    if (parsed.scheme == "s3" and _HOST_PORT.fullmatch(parsed.authority)) or parsed.scheme == "az":
        return parsed.authority + "/" + parsed.path.partition("/")[0]
    return parsed.authority
