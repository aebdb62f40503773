"""What every HTTP object-store backend (s3://, gs://, az://) shares beyond HttpClient.

A backend owns one bucket or container under one ``root_uri`` and sends through one
``HttpClient``, whose replies carry the time the response head arrived: each op returns it in
its ``OpResult``. Only signing, request shapes and error mapping differ, and those stay in each
backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sai3bench.backends.base import OpResult
from sai3bench.backends.ranged import RangedGets, RangeSource
from sai3bench.config.storage_opts import RangeEngine
from sai3bench.http.client import HttpClient
from sai3bench.outcome import MalformedResponse

_T = TypeVar("_T")


class CloudBackend:
    """The shared part; subclasses set ``root_uri`` and ``_http`` in their ``__init__``."""

    root_uri: str
    _http: HttpClient
    #: The API the server must speak, for "X is not speaking <dialect> as expected".
    dialect: str = "the storage API"

    def _parsed(self, parse: Callable[[bytes], _T], body: bytes) -> _T:
        """``parse(body)``; a 2xx body that is not the document asked for (an HTML page from
        a server that is not this storage) names the endpoint that sent it."""
        try:
            return parse(body)
        except MalformedResponse as exc:
            # The body arrived whole (its length checked by the HTTP layer), so asking again
            # gets the same wrong document: permanent, no retries before the one line.
            why = f"{self._http.endpoint.url} is not speaking {self.dialect} as expected"
            named = type(exc)(f"{why}: {exc.detail}")
            named.permanent = True
            raise named from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root_uri} via {self._http!r}>"

    def key_of(self, uri: str) -> str:
        return uri[len(self.root_uri) :] if uri.startswith(self.root_uri) else uri

    def uri_of(self, key: str) -> str:
        return self.root_uri + key

    def use_range_engine(self, opts: RangeEngine) -> RangedGets:
        """Make ``get`` split large objects into concurrent ranges (``range_engine``).

        The instance's ``get`` is replaced, not tested per op: a run without the engine pays
        nothing on its GETs.
        """
        assert isinstance(self, RangeSource), f"{type(self).__name__} has no read_range"
        source: RangeSource = self
        ranged = RangedGets(opts)
        plain: Callable[[str], Awaitable[OpResult]] = self._plain_get()

        async def get(key: str) -> OpResult:
            return await ranged.get(source, key, plain)

        vars(self)["get"] = get
        return ranged

    def _plain_get(self) -> Callable[[str], Awaitable[OpResult]]:
        get: Callable[[str], Awaitable[OpResult]] = self.get  # type: ignore[attr-defined]
        return get

    async def warm(self, connections: int) -> None:
        await self._http.warm(connections)

    async def close(self) -> None:
        await self._http.close()
