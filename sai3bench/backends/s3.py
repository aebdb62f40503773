"""s3:// backend: signed S3 requests over our own HTTP/1.1 pool, no SDK on the hot path.

Per op: one signature (cached key; ~3 us), one head from a prebuilt template, one pooled
connection. The amz-date string is rebuilt once a second, not per op. Non-2xx responses are
read up to 4 KiB (the error XML) and mapped to an Outcome once, here.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import time
from collections.abc import Sequence
from typing import Final

from sai3bench.backends.base import ObjectInfo, OpResult
from sai3bench.backends.cloud import CloudBackend
from sai3bench.backends.ranged import RangeRead
from sai3bench.backends.s3shapes import (
    MAX_PART_NUMBER,
    abort_params,
    build_complete_multipart,
    build_create_bucket,
    build_delete_objects,
    complete_params,
    delete_objects_params,
    describe,
    initiate_params,
    list_v2_params,
    outcome_for,
    parse_complete_multipart,
    parse_delete_result,
    parse_error,
    parse_initiate_multipart,
    parse_list_v2,
    upload_part_params,
)
from sai3bench.http.client import HttpClient, Reply, content_length
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT, Endpoint, endpoint_from_url
from sai3bench.outcome import OpError
from sai3bench.payload import Payload, payload_length, split_payload
from sai3bench.signers.aws_credentials import ca_bundle_from_env
from sai3bench.signers.base import Credential, CredentialProvider
from sai3bench.signers.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    SigV4Signer,
    amz_date_from_epoch,
    sha256_hex,
    uri_encode,
)
from sai3bench.signers.sigv4 import canonical_query as encode_query

_READS: Final = frozenset(("GET", "HEAD"))
#: A signed plain read: (request target, headers to send, its HTTP/1.1 head).
_ReadRequest = tuple[str, builtins.list[tuple[str, str]], bytes | None]
#: Bytes of a response body kept for error XML; the rest of a GET body is counted and dropped.
ERROR_BODY: Final = 4096
#: PUTs larger than this go up as a multipart upload, in parts of MULTIPART_PART bytes (S3's
#: minimum part is 5 MiB; 16 MiB parts keep a 1 GiB object to 64 requests).
MULTIPART_THRESHOLD: Final = 64 * 1024 * 1024
MULTIPART_PART: Final = 16 * 1024 * 1024


def endpoint_from_env(
    region: str, *, insecure: bool = False, first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT
) -> tuple[Endpoint, bool]:
    """(endpoint, virtual_host): AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path-style; a path in
    the URL prefixes every request, ``/path/bucket/key``, and is signed), else AWS."""
    name = "AWS_ENDPOINT_URL_S3" if os.environ.get("AWS_ENDPOINT_URL_S3") else "AWS_ENDPOINT_URL"
    url = os.environ.get(name)
    if url:
        return s3_endpoint(url, insecure, first_byte_timeout, source=name), False
    aws = f"https://s3.{region}.amazonaws.com"
    return s3_endpoint(aws, insecure, first_byte_timeout), True


def s3_endpoint(
    url: str, insecure: bool, first_byte_timeout: float, *, source: str | None = None
) -> Endpoint:
    """``endpoint_from_url`` with S3's trust store: the CA bundle that AWS_CA_BUNDLE or the
    profile's ``ca_bundle`` names, as in botocore (an on-prem endpoint with a private CA works
    without --insecure)."""
    return endpoint_from_url(
        url,
        insecure=insecure,
        ca_bundle=ca_bundle_from_env(),
        first_byte_timeout=first_byte_timeout,
        source=source,
    )


class S3Backend(CloudBackend):
    """One bucket. Keys are object keys (no leading slash)."""

    dialect = "S3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: Endpoint,
        region: str,
        credentials: CredentialProvider,
        virtual_host: bool = False,
        root_uri: str | None = None,
        max_connections: int = 64,
        timeout: float = 120.0,
        http2: bool = False,
        h2_connections: int = 2,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_part: int = MULTIPART_PART,
        sign_payload: bool = False,
    ) -> None:
        self.bucket = bucket
        #: ``s3://bucket/``, or ``s3://host:port/bucket/`` when the URI names the endpoint.
        self.root_uri = root_uri or f"s3://{bucket}/"
        self.timeout = timeout
        self.multipart_threshold = multipart_threshold
        self.multipart_part = max(multipart_part, 1)
        self._creds = credentials
        #: SHA-256 of each body in the signature (about 0.6 ms per MiB) instead of
        #: UNSIGNED-PAYLOAD, for servers that require it or to measure what it costs.
        self.sign_payload = sign_payload
        self._no_body = EMPTY_SHA256 if sign_payload else UNSIGNED_PAYLOAD
        self._signer = SigV4Signer(region, "s3")
        host = endpoint.host_header
        self._host = f"{bucket}.{host}" if virtual_host else host
        # A path in the endpoint URL (a gateway's /s3) prefixes every target and is signed.
        bucket_path = "" if virtual_host else "/" + uri_encode(bucket, keep_slash=False)
        self._base = endpoint.path + bucket_path
        self._http = HttpClient(
            endpoint,
            host=self._host,
            max_connections=max_connections,
            http2=http2,
            h2_connections=h2_connections,
            timeout=timeout,
        )
        self._date_second = -1
        self._date = ""
        #: (method, key) -> (target, headers) of plain GETs and HEADs signed this second with
        #: the current credential: a signature is a pure function of the request and the
        #: second, and a read workload asks for the same keys many times a second.
        self._reads: dict[tuple[str, str], _ReadRequest] = {}
        self._reads_cred: object = None

    # -- request building ---------------------------------------------------------------------

    def _amz_date(self) -> str:
        now = int(time.time())
        if now != self._date_second:
            self._date_second, self._date = now, amz_date_from_epoch(now)
            self._reads.clear()  # every cached signature names the old second
        return self._date

    def _signed(
        self,
        method: str,
        key: str | None,
        query: Sequence[tuple[str, str]],
        extra: Sequence[tuple[str, str]],
        body: Payload | None = None,
    ) -> tuple[str, builtins.list[tuple[str, str]]]:
        """(request target, headers to send: ``extra`` then the SigV4 headers).

        Plain GETs and HEADs (no query, no extra headers) are signed once per key per second
        and reused: measured 3 us of a ~36 us 1 KiB GET saved. The result is shared: callers
        must not change the headers list (HttpClient appends only when a body length is set).
        """
        if key and body is None and not query and not extra and method in _READS:
            target, headers, _ = self._read_request(method, key)
            return target, headers
        payload = self._no_body
        if self.sign_payload and body is not None:
            payload = sha256_hex(body if isinstance(body, memoryview) else tuple(body))
        return self._sign_new(
            method, key, query, extra, self._amz_date(), self._creds.current(), payload
        )

    def _read_request(self, method: str, key: str) -> _ReadRequest:
        """(target, headers, HTTP/1.1 head; None on HTTP/2) of a plain GET or HEAD of ``key``,
        signed once a second per key and credential (see ``_signed``), head included:
        building it again was 1 us of a cached GET."""
        date = self._amz_date()
        cred = self._creds.current()
        if cred is not self._reads_cred:
            self._reads.clear()
            self._reads_cred = cred
        hit = self._reads.get((method, key))
        if hit is None:
            target, headers = self._sign_new(method, key, (), (), date, cred, self._no_body)
            # HTTP/2 sends no such head: building it was 1 us of every signing miss.
            head = self._http.head_of(method, target, headers) if self._http.h2 is None else None
            hit = self._reads[(method, key)] = (target, headers, head)
        return hit

    def _sign_new(
        self,
        method: str,
        key: str | None,
        query: Sequence[tuple[str, str]],
        extra: Sequence[tuple[str, str]],
        date: str,
        cred: Credential,
        payload: str,
    ) -> tuple[str, builtins.list[tuple[str, str]]]:
        path = self._base + "/" + uri_encode(key, keep_slash=True) if key else self._base or "/"
        qs = encode_query(query) if query else ""
        signed = self._signer.sign(
            method,
            self._host,
            path,
            qs,
            extra,
            payload,
            date,
            cred,
        )
        return (f"{path}?{qs}" if qs else path), [*extra, *signed] if extra else signed

    async def _call(
        self,
        method: str,
        key: str | None,
        body: Payload | None = None,
        *,
        query: Sequence[tuple[str, str]] = (),
        extra: Sequence[tuple[str, str]] = (),
        keep_body: bool | int = False,
        etag: builtins.list[str] | None = None,
        header: bytes | None = None,
    ) -> Reply:
        """One signed request; the reply's ``received`` is the object size for HEAD.

        ``keep_body``: bytes of a 2xx body to keep (an error's first ERROR_BODY bytes are kept
        anyway). ``etag``, when given, receives the response's ETag header (multipart parts
        need it; other ops skip the header parse); ``header`` names another one to return in
        the reply.

        Raises OpError (outcome from the status and error XML) for a non-2xx response.
        """
        length = content_length(method, body)
        target, headers = self._signed(method, key, query, extra, body)
        reply = await self._http.request(
            method,
            target,
            headers,
            body,
            length=length,
            keep_body=keep_body,
            header=b"etag" if etag is not None else header,
            error_body=ERROR_BODY,
        )
        if reply.status >= 300:
            raise _failure(reply)
        if etag is not None:
            etag.append(reply.header.decode())
        return reply

    # -- Backend ------------------------------------------------------------------------------

    async def put(self, key: str, body: Payload) -> OpResult:
        n = payload_length(body)
        if n > self.multipart_threshold:
            await self._put_multipart(key, body)
            return n, 0  # several requests: no one time to first byte
        # _call's steps inline, as in get(): one coroutine less per op.
        target, headers = self._signed("PUT", key, (), (), body)
        reply = await self._http.request(
            "PUT", target, headers, body, length=n, error_body=ERROR_BODY
        )
        if reply.status >= 300:
            raise _failure(reply)
        return n, reply.first_byte_ns

    async def _put_multipart(self, key: str, body: Payload) -> None:
        """Create, upload the parts one after another (this op is one worker's one request in
        flight), complete; abort on any failure so no parts are left billed."""
        reply = (await self._call("POST", key, query=initiate_params(), keep_body=True)).body
        upload_id = self._parsed(parse_initiate_multipart, reply)
        parts: builtins.list[tuple[int, str]] = []
        try:
            # S3 takes at most MAX_PART_NUMBER parts: a larger object gets larger parts (5 TiB
            # in 10,000 parts of 525 MiB), as Azure's block size grows for its block limit.
            size = max(self.multipart_part, -(-payload_length(body) // MAX_PART_NUMBER))
            for number, part in enumerate(split_payload(body, size), start=1):
                tag: builtins.list[str] = []
                await self._call(
                    "PUT", key, part, query=upload_part_params(number, upload_id), etag=tag
                )
                parts.append((number, tag[0]))
            done = memoryview(build_complete_multipart(parts))
            reply = (
                await self._call(
                    "POST", key, done, query=complete_params(upload_id), keep_body=True
                )
            ).body
            self._parsed(parse_complete_multipart, reply)  # a 200 can still carry an <Error>
        except BaseException:
            with contextlib.suppress(OpError):
                await self._call("DELETE", key, query=abort_params(upload_id))
            raise

    async def get(self, key: str) -> OpResult:
        # _call's steps inline: each coroutine layer between the engine and the connection's
        # future costs every op (the hot GET and PUT; the rest go through _call).
        target, headers, head = self._read_request("GET", key)
        reply = await self._http.request("GET", target, headers, error_body=ERROR_BODY, head=head)
        if reply.status >= 300:
            raise _failure(reply)
        return reply.received, reply.first_byte_ns

    async def get_range(self, key: str, offset: int, length: int) -> OpResult:
        """GET ``length`` bytes from ``offset`` (a 206); the bytes read are fewer than
        ``length`` when the range runs past the end of the object."""
        got, first_byte, _ = await self.read_range(key, offset, length)
        return got, first_byte

    async def read_range(self, key: str, offset: int, length: int) -> RangeRead:
        """``get_range`` plus the Content-Range header (range_engine learns the size from it)."""
        rng = (("range", f"bytes={offset}-{offset + length - 1}"),)
        reply = await self._call("GET", key, extra=rng, header=b"content-range")
        return reply.received, reply.first_byte_ns, reply.header

    async def head(self, key: str) -> OpResult:
        # As get: the cached head is sent (through _call it was built again every op).
        target, headers, head = self._read_request("HEAD", key)
        reply = await self._http.request("HEAD", target, headers, error_body=ERROR_BODY, head=head)
        if reply.status >= 300:
            raise _failure(reply)
        return reply.received, reply.first_byte_ns

    async def delete(self, key: str) -> OpResult:
        return 0, (await self._call("DELETE", key)).first_byte_ns

    async def list(self, prefix: str, *, recursive: bool = True) -> builtins.list[ObjectInfo]:
        out: builtins.list[ObjectInfo] = []
        token: str | None = None
        while True:
            params = list_v2_params(
                prefix, delimiter=None if recursive else "/", continuation_token=token
            )
            reply = await self._call("GET", None, query=params, keep_body=True)
            page = self._parsed(parse_list_v2, reply.body)
            out.extend(page.objects)
            if not page.is_truncated:
                return out
            token = page.next_continuation_token

    async def delete_many(self, keys: Sequence[str]) -> builtins.list[tuple[str, str, str]]:
        """DeleteObjects for up to 1,000 keys in one request (quiet mode).

        Returns (key, code, message) for each key S3 failed to delete; every other key is gone.
        """
        body, md5 = build_delete_objects(keys, quiet=True)
        extra = [("content-md5", md5), ("content-type", "application/xml")]
        reply = await self._call(
            "POST",
            None,
            memoryview(body),
            query=delete_objects_params(),
            extra=extra,
            keep_body=True,
        )
        _, failed = self._parsed(parse_delete_result, reply.body)
        return failed

    async def create_bucket(self, region: str = "") -> None:
        """CreateBucket (the mock server and test set-ups); an existing bucket is fine."""
        try:
            await self._call("PUT", None, memoryview(build_create_bucket(region)))
        except OpError as exc:
            if "BucketAlreadyOwnedByYou" not in exc.detail:
                raise


def _failure(reply: Reply) -> OpError:
    """The OpError of a non-2xx reply: outcome from the status and the error XML's code."""
    err = parse_error(reply.body)
    return OpError(
        outcome_for(reply.status, err.code if err else None), describe(reply.status, err)
    )
