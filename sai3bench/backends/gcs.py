"""gs:// backend: the GCS JSON API over our own HTTP client, no SDK on the hot path.

Per op: one target from the bucket's prebuilt ``Targets`` (the name's encoding plus one
concatenation), the token's cached headers, one pooled connection. Nothing is signed: the
bearer token is refreshed off the hot path by ``GoogleCredentialProvider``. Non-2xx replies are
read up to 4 KiB (the error JSON) and mapped to an Outcome once, here.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import Final

from sai3bench.backends.base import ObjectInfo, OpResult
from sai3bench.backends.cloud import CloudBackend
from sai3bench.backends.gcsshapes import (
    CHUNK_GRANULE,
    DEFAULT_ENDPOINT,
    GcsMalformedResponse,
    Targets,
    bucket_insert_body,
    bucket_insert_target,
    content_range,
    error_of,
    parse_list,
    parse_object_size,
    resume_offset,
    session_target,
)
from sai3bench.backends.ranged import RangeRead
from sai3bench.errors import ConfigError
from sai3bench.http.client import HttpClient, Reply
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT, Endpoint, endpoint_from_url
from sai3bench.outcome import OpError
from sai3bench.payload import Payload, payload_length
from sai3bench.signers.gcs import GoogleCredentialProvider, is_anonymous, project_from_env

#: Bytes of a response body kept for error JSON; the rest of a GET body is counted and dropped.
ERROR_BODY: Final = 4096
#: An object resource or a list page is read whole, up to this many bytes.
JSON_BODY: Final = 16 * 1024 * 1024
#: PUTs larger than this go up as a resumable upload, in chunks of RESUMABLE_CHUNK bytes (a
#: multiple of 256 KiB, as GCS requires of every chunk but the last).
RESUMABLE_THRESHOLD: Final = 64 * 1024 * 1024
RESUMABLE_CHUNK: Final = 16 * 1024 * 1024

_OCTET: Final = ("content-type", "application/octet-stream")
_JSON: Final = ("content-type", "application/json")


def endpoint_from_env(env: Mapping[str, str] | None = None, *, insecure: bool = False) -> Endpoint:
    """STORAGE_EMULATOR_HOST (``host:port`` or a URL), else GCS_ENDPOINT_URL, else Google."""
    env = os.environ if env is None else env
    for name in ("STORAGE_EMULATOR_HOST", "GCS_ENDPOINT_URL"):
        value = env.get(name)
        if not value:
            continue
        url = value if "://" in value or name != "STORAGE_EMULATOR_HOST" else "http://" + value
        try:
            return endpoint_from_url(url, insecure=insecure)
        except ConfigError:
            raise ConfigError(
                f"{name}={value!r} is not an endpoint",
                hint=f"set {name} to http://host:port or https://host"
                + (" (or host:port)" if name == "STORAGE_EMULATOR_HOST" else ""),
            ) from None
    return endpoint_from_url(DEFAULT_ENDPOINT, insecure=insecure)


class GcsBackend(CloudBackend):
    """One bucket. Keys are object names (no leading slash)."""

    dialect = "the GCS JSON API"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: Endpoint,
        credentials: GoogleCredentialProvider | None,
        project: str | None = None,
        max_connections: int = 64,
        timeout: float = 120.0,
        http2: bool = False,
        h2_connections: int = 2,
        resumable_threshold: int = RESUMABLE_THRESHOLD,
        resumable_chunk: int = RESUMABLE_CHUNK,
    ) -> None:
        if resumable_chunk <= 0 or resumable_chunk % CHUNK_GRANULE:
            raise ConfigError(
                f"resumable chunk size {resumable_chunk} is not a multiple of 256 KiB",
                hint="use a chunk size such as 8 MiB or 16 MiB",
            )
        self.bucket = bucket
        self.root_uri = f"gs://{bucket}/"
        self.timeout = timeout
        self.resumable_threshold = resumable_threshold
        self.resumable_chunk = resumable_chunk
        #: The token provider the engine refreshes once a second; None for an emulator.
        self.credentials = credentials
        #: The project ``create_bucket`` creates the bucket in.
        self.project = project or (credentials.project if credentials else None)
        self._targets = Targets(bucket)
        self._http = HttpClient(
            endpoint,
            max_connections=max_connections,
            http2=http2,
            h2_connections=h2_connections,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        auth = "anonymous" if self.credentials is None else self.credentials.principal
        return f"<GcsBackend {self.root_uri} {auth} via {self._http!r}>"

    # -- requests -----------------------------------------------------------------------------

    def _headers(self, *extra: tuple[str, str]) -> builtins.list[tuple[str, str]]:
        # A new list each call: the HTTP/2 path appends content-length to the list it is given.
        creds = self.credentials
        if creds is None:
            return [*extra]
        return [*creds.headers(), *extra]

    async def _call(
        self,
        method: str,
        target: str,
        body: Payload | None = None,
        *,
        length: int | None = None,
        extra: Sequence[tuple[str, str]] = (),
        keep_body: bool | int = ERROR_BODY,
        header: bytes | None = None,
    ) -> Reply:
        """One request; raises OpError (outcome from the status and error JSON) for non-2xx."""
        reply = await self._http.request(
            method,
            target,
            self._headers(*extra),
            body,
            length=length,
            keep_body=keep_body,
            header=header,
        )
        if reply.status >= 300:
            raise error_of(reply.status, reply.body)
        return reply

    # -- Backend ------------------------------------------------------------------------------

    async def put(self, key: str, body: Payload) -> OpResult:
        n = payload_length(body)
        if n > self.resumable_threshold:
            await self._put_resumable(key, body, n)
            return n, 0  # several requests: no one time to first byte
        creds = self.credentials
        headers = [*creds.headers(), _OCTET] if creds is not None else [_OCTET]
        reply = await self._http.request(
            "POST", self._targets.media_upload(key), headers, body, length=n, keep_body=ERROR_BODY
        )
        if reply.status >= 300:
            raise error_of(reply.status, reply.body)
        return n, reply.first_byte_ns

    async def _put_resumable(self, key: str, body: Payload, total: int) -> None:
        """Start a session, send the chunks one after another (this op is one worker's one
        request in flight) from wherever the server says it got to, and cancel the session on
        any failure so nothing half-written lingers."""
        started = await self._call(
            "POST",
            self._targets.resumable_upload(key),
            length=0,
            # No body (no metadata JSON), so no Content-Type; the X-Upload-* headers describe
            # the data to come, and GCS checks the final size against the announced one.
            extra=(("x-upload-content-type", _OCTET[1]), ("x-upload-content-length", str(total))),
            header=b"location",
        )
        session = session_target(started.header)
        views = [body] if isinstance(body, memoryview) else builtins.list(body)
        offset = 0
        try:
            while True:
                end = min(offset + self.resumable_chunk, total)
                reply = await self._http.request(
                    "PUT",
                    session,
                    self._headers(("content-range", content_range(offset, end, total))),
                    _window(views, offset, end),
                    length=end - offset,
                    keep_body=ERROR_BODY,
                    header=b"range",
                )
                if reply.status in (200, 201):
                    if end < total:
                        raise GcsMalformedResponse(
                            f"resumable upload finished at {end} of {total} bytes"
                        )
                    return
                if reply.status != 308:
                    raise error_of(reply.status, reply.body)
                persisted = resume_offset(reply.header)
                if not offset < persisted <= end:
                    raise GcsMalformedResponse(
                        f"resumable upload stalled: sent [{offset}, {end}), server has {persisted}"
                    )
                offset = persisted
        except BaseException:
            with contextlib.suppress(OpError):  # GCS answers a cancelled session with 499
                await self._http.request("DELETE", session, self._headers(), length=0)
            raise

    async def get(self, key: str) -> OpResult:
        creds = self.credentials
        reply = await self._http.request(
            "GET",
            self._targets.download(key),
            [*creds.headers()] if creds is not None else [],
            keep_body=ERROR_BODY,
        )
        if reply.status >= 300:
            raise error_of(reply.status, reply.body)
        return reply.received, reply.first_byte_ns

    async def get_range(self, key: str, offset: int, length: int) -> OpResult:
        """Read ``length`` bytes from ``offset`` (fewer at the end of the object)."""
        got, first_byte, _ = await self.read_range(key, offset, length)
        return got, first_byte

    async def read_range(self, key: str, offset: int, length: int) -> RangeRead:
        """``get_range`` plus the Content-Range header (range_engine learns the size from it)."""
        if offset < 0 or length <= 0:
            raise ValueError(f"bad range: offset {offset}, length {length}")
        rng = ("range", f"bytes={offset}-{offset + length - 1}")
        target = self._targets.download(key)
        reply = await self._call("GET", target, extra=(rng,), header=b"content-range")
        return reply.received, reply.first_byte_ns, reply.header

    async def head(self, key: str) -> OpResult:
        reply = await self._call("GET", self._targets.metadata(key), keep_body=JSON_BODY)
        return self._parsed(parse_object_size, reply.body), reply.first_byte_ns

    async def delete(self, key: str) -> OpResult:
        return 0, (await self._call("DELETE", self._targets.object(key))).first_byte_ns

    async def list(self, prefix: str, *, recursive: bool = True) -> builtins.list[ObjectInfo]:
        return await self.list_pages(prefix, recursive=recursive)

    async def list_pages(
        self, prefix: str, *, recursive: bool = True, max_results: int | None = None
    ) -> builtins.list[ObjectInfo]:
        """``list`` with a page size (tests exercise paging with small pages)."""
        out: builtins.list[ObjectInfo] = []
        token: str | None = None
        delimiter = None if recursive else "/"
        while True:
            target = self._targets.list(
                prefix, delimiter=delimiter, max_results=max_results, page_token=token
            )
            reply = await self._call("GET", target, keep_body=JSON_BODY)
            page = self._parsed(parse_list, reply.body)
            out.extend(ObjectInfo(item.name, item.size) for item in page.items)
            token = page.next_page_token
            if not token:
                return out

    async def create_bucket(self) -> None:
        """buckets.insert (emulators, test set-ups); an existing bucket (409) is fine."""
        if self.project is None and self.credentials is not None:
            raise ConfigError(
                f"creating bucket {self.bucket!r} needs a Google Cloud project",
                hint="set GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT, GCS_PROJECT)",
            )
        body = memoryview(bucket_insert_body(self.bucket))
        reply = await self._http.request(
            "POST",
            bucket_insert_target(self.project),
            self._headers(_JSON),
            body,
            length=len(body),
            keep_body=ERROR_BODY,
        )
        if reply.status >= 300 and reply.status != 409:
            raise error_of(reply.status, reply.body)


def _window(views: Sequence[memoryview], start: int, end: int) -> Payload:
    """Bytes [start, end) of a body held as views, as views of it (never copied)."""
    out: builtins.list[memoryview] = []
    pos = 0
    for view in views:
        n = len(view)
        if pos + n > start and pos < end:
            out.append(view[max(start - pos, 0) : min(end - pos, n)])
        pos += n
        if pos >= end:
            break
    return out[0] if len(out) == 1 else tuple(out)


def gcs_backend_from_env(
    bucket: str,
    *,
    max_connections: int,
    insecure: bool = False,
    http2: bool = False,
    first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
) -> GcsBackend:
    """A backend for ``gs://bucket/`` configured from the environment. Blocking (token fetch).

    Endpoint: STORAGE_EMULATOR_HOST, else GCS_ENDPOINT_URL, else storage.googleapis.com.
    Auth: none for an emulator (``is_anonymous``), else Application Default Credentials.
    ``backend.credentials`` is the provider to refresh (None when anonymous).

    Raises:
        ConfigError: a malformed endpoint variable.
        CredentialError: no Google credentials, or no token could be fetched.
    """
    endpoint = endpoint_from_env(insecure=insecure)._replace(first_byte_timeout=first_byte_timeout)
    creds = None if is_anonymous() else GoogleCredentialProvider.load()
    return GcsBackend(
        bucket,
        endpoint=endpoint,
        credentials=creds,
        project=project_from_env(),
        max_connections=max_connections,
        http2=http2,
    )
