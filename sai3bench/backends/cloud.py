"""What every HTTP object-store backend (s3://, gs://, az://) shares beyond HttpClient.

A backend owns one bucket or container under one ``root_uri``, sends through one
``HttpClient``, and exposes the time to first byte of the request that just completed (the
engine reads it right after the op returns). Only signing, request shapes and error mapping
differ, and those stay in each backend.
"""

from __future__ import annotations

from sai3bench.http.client import HttpClient


class CloudBackend:
    """The shared part; subclasses set ``root_uri`` and ``_http`` in their ``__init__``."""

    blocking = False
    root_uri: str
    _http: HttpClient

    @property
    def last_ttfb_ns(self) -> int:
        """When the last completed request's response head arrived (perf_counter_ns)."""
        return self._http.last_ttfb_ns

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root_uri} via {self._http!r}>"

    def key_of(self, uri: str) -> str:
        return uri[len(self.root_uri) :] if uri.startswith(self.root_uri) else uri

    def uri_of(self, key: str) -> str:
        return self.root_uri + key

    async def close(self) -> None:
        await self._http.close()
