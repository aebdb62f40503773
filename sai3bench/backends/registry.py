"""URI -> backend. One backend instance per (scheme, authority), shared by every op of a run."""

from __future__ import annotations

from sai3bench.backends.base import Backend
from sai3bench.backends.file import FileBackend
from sai3bench.config.uri import parse_uri
from sai3bench.errors import ConfigError
from sai3bench.signers.base import CredentialProvider

_NOT_YET = {
    "direct": "direct:// (O_DIRECT) is not supported yet; use file:// for now",
    "gs": "gs:// is not supported yet in this version",
    "az": "az:// is not supported yet in this version",
}


class Backends:
    """The backends a run has opened, by URI. Closing it closes them all."""

    def __init__(self, *, concurrency: int, insecure: bool = False, http2: bool = False) -> None:
        self.concurrency = concurrency
        #: S3 over HTTP/2 (prior knowledge on http://, ALPN on https://).
        self.http2 = http2
        #: Skip TLS certificate checks (--insecure): the CLI warns loudly when set.
        self.insecure = insecure
        self._open: dict[tuple[str, str], Backend] = {}
        #: Credential providers of the open backends, refreshed off the hot path.
        self.credentials: list[CredentialProvider] = []

    def __repr__(self) -> str:
        return f"<Backends {sorted(self._open)}>"

    def for_uri(self, uri: str) -> Backend:
        """The backend serving ``uri``, opened on first use. Raises ConfigError for bad URIs."""
        try:
            parsed = parse_uri(uri)
        except ValueError as exc:
            raise ConfigError(f"bad URI {uri!r}: {exc}", hint="use file:///abs/path/") from None
        if parsed.scheme in _NOT_YET:
            raise ConfigError(_NOT_YET[parsed.scheme], hint="point the URI at file:///...")
        key = (parsed.scheme, parsed.authority)
        backend = self._open.get(key)
        if backend is None:
            backend = self._open[key] = self._make(parsed.scheme, parsed.authority)
        return backend

    def _make(self, scheme: str, authority: str) -> Backend:
        if scheme == "file":
            return FileBackend(threads=self.concurrency)
        # s3: endpoint and region from the environment, credentials from botocore's chain
        # (read once here, before the clock starts; refreshed off the hot path).
        from sai3bench.backends.s3 import S3Backend, endpoint_from_env
        from sai3bench.signers.aws_credentials import BotocoreCredentialProvider, region_from_env

        region = region_from_env()
        endpoint, virtual = endpoint_from_env(region, insecure=self.insecure)
        creds = BotocoreCredentialProvider.load()
        self.credentials.append(creds)
        return S3Backend(
            authority,
            endpoint=endpoint,
            region=region,
            credentials=creds,
            virtual_host=virtual,
            max_connections=self.concurrency,
            http2=self.http2,
        )

    def all(self) -> list[Backend]:
        return list(self._open.values())

    async def close(self) -> None:
        for backend in self._open.values():
            await backend.close()
        self._open.clear()
