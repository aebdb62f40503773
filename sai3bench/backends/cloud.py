"""What every HTTP object-store backend (s3://, gs://, az://) shares beyond HttpClient.

A backend owns one bucket or container under one ``root_uri`` and sends through one
``HttpClient``, whose replies carry the time the response head arrived: each op returns it in
its ``OpResult``. Only signing, request shapes and error mapping differ, and those stay in each
backend.
"""

from __future__ import annotations

from sai3bench.http.client import HttpClient


class CloudBackend:
    """The shared part; subclasses set ``root_uri`` and ``_http`` in their ``__init__``."""

    root_uri: str
    _http: HttpClient

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root_uri} via {self._http!r}>"

    def key_of(self, uri: str) -> str:
        return uri[len(self.root_uri) :] if uri.startswith(self.root_uri) else uri

    def uri_of(self, key: str) -> str:
        return self.root_uri + key

    async def close(self) -> None:
        await self._http.close()
