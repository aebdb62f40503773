"""The mock server's S3 dialect as a pure function: a parsed request in, a response out.

Path-style addressing only (``/bucket/key``). Operations: CreateBucket, HeadBucket, PUT, GET
(with ``Range: bytes=a-b``), HEAD, DELETE, ListObjectsV2 (prefix, delimiter, max-keys,
continuation-token, start-after, encoding-type=url) and DeleteObjects. Optional SigV4 checking
recomputes the signature with the project's own signer from what arrived on the wire.
"""

from __future__ import annotations

import hmac
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote

from sai3bench.mock.app import Headers, Response, header
from sai3bench.mock.store import ListResult, MemoryStore, ObjectStore, list_page
from sai3bench.signers.base import Credential
from sai3bench.signers.sigv4 import SigV4Signer, canonical_query

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})\Z"
)


def _xml(status: int, body: str) -> Response:
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
    return Response(status, [("Content-Type", "application/xml")], data, len(data))


def error(status: int, code: str, message: str, resource: str = "") -> Response:
    esc = _esc
    return _xml(
        status,
        f"<Error><Code>{code}</Code><Message>{esc(message)}</Message>"
        f"<Resource>{esc(resource)}</Resource><RequestId>mock</RequestId></Error>",
    )


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _empty(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, headers or [], b"", 0)


class S3App:
    """Answers S3 requests from a store; ``auth`` enables SigV4 verification."""

    def __init__(
        self,
        store: ObjectStore | None = None,
        auth: Credential | None = None,
        path_prefix: str = "",
    ) -> None:
        self.store = store or MemoryStore()
        self.auth = auth
        #: A gateway's base path (``/s3``) in front of /bucket/key: signed, then stripped.
        self.path_prefix = path_prefix.rstrip("/")
        self._signers: dict[str, SigV4Signer] = {}
        #: upload id -> (bucket, key, {part number: body bytes, or its size in sink mode})
        self._uploads: dict[str, tuple[str, str, dict[int, bytes | int]]] = {}

    def __repr__(self) -> str:
        return f"<S3App {self.store!r} auth={'on' if self.auth else 'off'}>"

    def fault(self, status: int, target: str, headers: Headers) -> Response:
        """An injected fault as S3 words it: SlowDown for 503, InternalError otherwise."""
        return error(status, "SlowDown" if status == 503 else "InternalError", "injected fault")

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        """One request. ``body`` is what was kept; ``size`` the body's full length."""
        path, _, query = target.partition("?")
        if self.auth is not None:
            refused = self._check_auth(method, path, query, headers)
            if refused is not None:
                return refused
        if self.path_prefix:
            if not path.startswith(self.path_prefix + "/"):
                return error(404, "NoSuchBucket", f"not under {self.path_prefix}/", path)
            path = path[len(self.path_prefix) :]
        bucket, _, raw_key = path.lstrip("/").partition("/")
        bucket = unquote(bucket)
        key = unquote(raw_key)
        params = dict(_pairs(query))
        if not bucket:
            return error(400, "InvalidRequest", "path-style addressing only: /bucket/key")
        if not key:
            return self._bucket_op(method, bucket, params, body)
        if not self.store.has_bucket(bucket):
            return error(404, "NoSuchBucket", "The specified bucket does not exist", bucket)
        if "uploads" in params or "uploadId" in params:
            return self._multipart(method, bucket, key, params, body, size)
        return self._object_op(method, bucket, key, headers, body, size)

    def _bucket_op(
        self, method: str, bucket: str, params: dict[str, str], body: bytes | bytearray
    ) -> Response:
        store = self.store
        if method == "PUT":
            store.create_bucket(bucket)
            return _empty(200)
        if not store.has_bucket(bucket):
            return error(404, "NoSuchBucket", "The specified bucket does not exist", bucket)
        if method == "HEAD":
            return _empty(200)
        if method == "GET" and params.get("list-type") == "2":
            return self._list(bucket, params)
        if method == "POST" and "delete" in params:
            return self._delete_many(bucket, bytes(body))
        return error(405, "MethodNotAllowed", f"{method} on a bucket is not supported")

    def _object_op(
        self,
        method: str,
        bucket: str,
        key: str,
        headers: Headers,
        body: bytes | bytearray,
        size: int,
    ) -> Response:
        store = self.store
        if method == "PUT":
            if len(body) == size:
                store.put(bucket, key, body)
            else:
                store.put_size(bucket, key, size)  # sink: counted, not kept
            return _empty(200, [("ETag", '"mock"')])
        if method == "DELETE":
            store.delete(bucket, key)
            return _empty(204)
        n = store.size(bucket, key)
        if n is None:
            return error(404, "NoSuchKey", "The specified key does not exist.", key)
        if method == "HEAD":
            return Response(200, [("ETag", '"mock"')], b"", n)
        if method != "GET":
            return error(405, "MethodNotAllowed", f"{method} on an object is not supported")
        start, end = 0, n
        rng = header(headers, b"range")
        if rng is not None:
            m = _RANGE.match(rng.decode("latin-1"))
            if m is None or (not m.group(1) and not m.group(2)):
                return error(416, "InvalidRange", "The requested range is not satisfiable")
            if m.group(1):
                start = int(m.group(1))
                end = min(n, int(m.group(2)) + 1) if m.group(2) else n
            else:
                start = max(0, n - int(m.group(2)))
            if start >= n or start >= end:
                return error(416, "InvalidRange", "The requested range is not satisfiable")
            hdrs = [("Content-Range", f"bytes {start}-{end - 1}/{n}")]
            return Response(206, hdrs, store.read(bucket, key, start, end), end - start)
        return Response(200, [("ETag", '"mock"')], store.read(bucket, key, 0, n), n)

    def _multipart(
        self,
        method: str,
        bucket: str,
        key: str,
        params: dict[str, str],
        body: bytes | bytearray,
        size: int,
    ) -> Response:
        """CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload."""
        if method == "POST" and "uploads" in params:
            upload_id = f"mock-{len(self._uploads) + 1}-{abs(hash(key)) % 10**8}"
            self._uploads[upload_id] = (bucket, key, {})
            return _xml(
                200,
                f'<InitiateMultipartUploadResult xmlns="{_XMLNS}"><Bucket>{_esc(bucket)}</Bucket>'
                f"<Key>{_esc(key)}</Key><UploadId>{upload_id}</UploadId>"
                "</InitiateMultipartUploadResult>",
            )
        upload = self._uploads.get(params.get("uploadId", ""))
        if upload is None or upload[:2] != (bucket, key):
            return error(404, "NoSuchUpload", "The specified upload does not exist.", key)
        parts = upload[2]
        if method == "PUT":
            number = int(params.get("partNumber", "0"))
            if not 1 <= number <= 10000:
                return error(400, "InvalidArgument", "partNumber must be 1..10000")
            parts[number] = bytes(body) if len(body) == size else size
            return _empty(200, [("ETag", f'"part{number}"')])
        if method == "DELETE":
            del self._uploads[params["uploadId"]]
            return _empty(204)
        if method == "POST":
            del self._uploads[params["uploadId"]]
            ordered = [parts[n] for n in sorted(parts)]
            if all(isinstance(p, bytes) for p in ordered):
                self.store.put(bucket, key, b"".join(p for p in ordered if isinstance(p, bytes)))
            else:
                total = sum(p if isinstance(p, int) else len(p) for p in ordered)
                self.store.put_size(bucket, key, total)
            return _xml(
                200,
                f'<CompleteMultipartUploadResult xmlns="{_XMLNS}"><Bucket>{_esc(bucket)}'
                f"</Bucket><Key>{_esc(key)}</Key><ETag>&quot;mock-{len(parts)}&quot;</ETag>"
                "</CompleteMultipartUploadResult>",
            )
        return error(405, "MethodNotAllowed", f"{method} on an upload is not supported")

    def _list(self, bucket: str, params: dict[str, str]) -> Response:
        try:
            max_keys = int(params.get("max-keys", "1000"))
            page = list_page(
                self.store.keys(bucket),
                self.store.sizes(bucket),
                prefix=params.get("prefix", ""),
                delimiter=params.get("delimiter") or None,
                max_keys=max(0, min(max_keys, 1000)),
                token=params.get("continuation-token"),
                start_after=params.get("start-after"),
            )
        except ValueError as exc:
            return error(400, "InvalidArgument", str(exc))
        return _xml(200, _list_xml(bucket, params, page))

    def _delete_many(self, bucket: str, body: bytes) -> Response:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return error(400, "MalformedXML", "The XML you provided was not well-formed")
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        keys = [el.text or "" for el in root.iter(f"{ns}Key")]
        if len(keys) > 1000:
            return error(400, "MalformedXML", "more than 1000 keys")
        quiet = (root.findtext(f"{ns}Quiet") or "").strip().lower() == "true"
        parts = [f'<DeleteResult xmlns="{_XMLNS}">']
        for key in keys:
            self.store.delete(bucket, key)
            if not quiet:
                parts.append(f"<Deleted><Key>{_esc(key)}</Key></Deleted>")
        parts.append("</DeleteResult>")
        return _xml(200, "".join(parts))

    def _check_auth(self, method: str, path: str, query: str, headers: Headers) -> Response | None:
        assert self.auth is not None
        auth = header(headers, b"authorization")
        m = _AUTH.match(auth.decode("latin-1")) if auth else None
        if m is None:
            return error(403, "AccessDenied", "missing or malformed SigV4 Authorization")
        access_key, _date, region, service, signed, signature = m.groups()
        if access_key != self.auth.access_key:
            return error(403, "InvalidAccessKeyId", "The AWS Access Key Id does not exist")
        amz_date = (header(headers, b"x-amz-date") or b"").decode("latin-1")
        payload = (header(headers, b"x-amz-content-sha256") or b"").decode("latin-1")
        reserved = {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}
        extra = [
            (n.decode("latin-1"), v.decode("latin-1"))
            for n, v in headers
            if n.decode("latin-1") in signed.split(";") and n.decode("latin-1") not in reserved
        ]
        host = (header(headers, b"host") or b"").decode("latin-1")
        signer = self._signers.setdefault(f"{region}/{service}", SigV4Signer(region, service))
        token = header(headers, b"x-amz-security-token")
        cred = Credential(
            self.auth.access_key, self.auth.secret_key, token.decode() if token else None
        )
        try:
            expected = signer.sign(
                method, host, path, canonical_query(_pairs(query)), extra, payload, amz_date, cred
            )
        except ValueError:
            return error(403, "SignatureDoesNotMatch", "could not recompute the signature")
        want = dict(expected)["authorization"].rsplit("Signature=", 1)[1]
        if not hmac.compare_digest(want, signature):
            return error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None


def _pairs(query: str) -> list[tuple[str, str]]:
    out = []
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        out.append((unquote(name), unquote(value)))
    return out


def _list_xml(bucket: str, params: dict[str, str], page: ListResult) -> str:
    url = params.get("encoding-type") == "url"

    def enc(s: str) -> str:
        return quote(s, safe="/") if url else _esc(s)

    parts = [
        f'<ListBucketResult xmlns="{_XMLNS}"><Name>{_esc(bucket)}</Name>',
        f"<Prefix>{enc(params.get('prefix', ''))}</Prefix>",
        f"<KeyCount>{len(page.keys) + len(page.common_prefixes)}</KeyCount>",
        f"<MaxKeys>{params.get('max-keys', '1000')}</MaxKeys>",
        f"<IsTruncated>{'true' if page.is_truncated else 'false'}</IsTruncated>",
    ]
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    if params.get("delimiter"):
        parts.append(f"<Delimiter>{enc(params['delimiter'])}</Delimiter>")
    if params.get("continuation-token"):
        parts.append(f"<ContinuationToken>{params['continuation-token']}</ContinuationToken>")
    if page.next_token:
        parts.append(f"<NextContinuationToken>{page.next_token}</NextContinuationToken>")
    parts.extend(
        f"<Contents><Key>{enc(k)}</Key><Size>{n}</Size><ETag>&quot;mock&quot;</ETag>"
        f"<StorageClass>STANDARD</StorageClass></Contents>"
        for k, n in page.keys
    )
    parts.extend(
        f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in page.common_prefixes
    )
    parts.append("</ListBucketResult>")
    return "".join(parts)
