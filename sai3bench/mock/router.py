"""One mock server, three dialects: which cloud a request speaks, decided from the request.

GCS JSON API paths start with ``/storage/v1/``, ``/upload/storage/v1/`` or
``/download/storage/v1/``; every Azure Blob request carries ``x-ms-version`` (our client and the
SDKs always send it); anything else is S3. One store behind all three, so a bucket made through
one dialect is visible through the others (a container is a bucket).
"""

from __future__ import annotations

from sai3bench.mock.app import App, Headers, Response

_GCS_PREFIXES = ("/storage/v1/", "/upload/storage/v1/", "/download/storage/v1/")


class DialectRouter:
    """Sends each request to the S3, GCS or Azure app; a missing dialect falls back to S3."""

    def __init__(self, s3: App, gcs: App | None = None, azure: App | None = None) -> None:
        self.s3 = s3
        self.gcs = gcs
        self.azure = azure

    def __repr__(self) -> str:
        return f"<DialectRouter s3={self.s3!r} gcs={self.gcs!r} azure={self.azure!r}>"

    def _pick(self, target: str, headers: Headers) -> App:
        if self.gcs is not None and target.startswith(_GCS_PREFIXES):
            return self.gcs
        if self.azure is not None:
            for name, _ in headers:
                if name == b"x-ms-version":
                    return self.azure
        return self.s3

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        return self._pick(target, headers).handle(method, target, headers, body, size)

    def fault(self, status: int, target: str, headers: Headers) -> Response:
        return self._pick(target, headers).fault(status, target, headers)
