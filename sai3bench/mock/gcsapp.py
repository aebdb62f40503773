"""The mock server's GCS dialect as a pure function: a parsed request in, a response out.

The JSON API v1 paths: ``/storage/v1/b`` (buckets.insert), ``/storage/v1/b/B`` (buckets.get),
``/storage/v1/b/B/o`` (objects.list: prefix, delimiter, maxResults, pageToken; ``fields`` is
accepted and ignored), ``/storage/v1/b/B/o/NAME`` (metadata GET, ``?alt=media`` data GET with
Range, DELETE), ``/download/storage/v1/b/B/o/NAME`` (data GET) and
``/upload/storage/v1/b/B/o`` (``uploadType=media``, and ``uploadType=resumable`` sessions:
chunk PUTs with Content-Range, 308 Resume Incomplete with a Range header until the last byte,
then 200 with the object resource; DELETE cancels with 499). Errors are GCS error JSON.

Lean by rule: the data GET and the media upload parse no JSON and build at most one small
object resource with orjson; only bucket insert reads a JSON body.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Final
from urllib.parse import unquote, unquote_plus

import orjson

from sai3bench.backends.gcsshapes import MAX_LIST_RESULTS, encode_name
from sai3bench.mock.app import Headers, Response, header
from sai3bench.mock.store import MemoryStore, ObjectStore, list_page

_JSON_TYPE: Final = [("Content-Type", "application/json; charset=UTF-8")]
_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)\Z")
_CONTENT_RANGE: Final = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)\Z")


def _json(status: int, doc: Any) -> Response:
    data = orjson.dumps(doc)
    return Response(status, _JSON_TYPE, data, len(data))  # the server never mutates headers


def error(status: int, reason: str, message: str) -> Response:
    """A GCS error reply: ``{"error": {"code", "message", "errors": [{reason, ...}]}}``."""
    item = {"domain": "global", "reason": reason, "message": message}
    return _json(status, {"error": {"code": status, "message": message, "errors": [item]}})


def _no_bucket(bucket: str) -> Response:
    return error(404, "notFound", f"The specified bucket does not exist: {bucket}")


def _no_object(bucket: str, name: str) -> Response:
    return error(404, "notFound", f"No such object: {bucket}/{name}")


def _resource(bucket: str, name: str, size: int) -> dict[str, Any]:
    return {
        "kind": "storage#object",
        "id": f"{bucket}/{name}",
        "name": name,
        "bucket": bucket,
        "size": str(size),
        "contentType": "application/octet-stream",
        "storageClass": "STANDARD",
    }


def _decode(text: str, *, plus: bool = False) -> str:
    """Percent-decode (``+`` as space in a query); names that escape only ``/`` take 0.15 us
    instead of unquote's 1.7 us."""
    if "%" not in text:
        return text.replace("+", " ") if plus and "+" in text else text
    if not (plus and "+" in text) and text.count("%") == text.count("%2F"):
        return text.replace("%2F", "/")
    return unquote_plus(text) if plus else unquote(text)


def _params(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        out[name if "%" not in name else unquote_plus(name)] = _decode(value, plus=True)
    return out


class _Upload:
    """One resumable session: where it writes and what it has received so far."""

    __slots__ = ("bucket", "chunks", "name", "received")

    def __init__(self, bucket: str, name: str) -> None:
        self.bucket = bucket
        self.name = name
        self.received = 0
        #: Kept chunk bodies, or their sizes where the body was counted, not kept (sink).
        self.chunks: list[bytes | int] = []


class GcsApp:
    """Answers GCS JSON API requests from a store (buckets are the store's buckets)."""

    def __init__(self, store: ObjectStore | None = None) -> None:
        self.store = store or MemoryStore()
        self._uploads: dict[str, _Upload] = {}
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<GcsApp {self.store!r} uploads={len(self._uploads)}>"

    def fault(self, status: int, target: str, headers: Headers) -> Response:
        """An injected fault as GCS words it: rateLimitExceeded for 429, backendError else."""
        reason = "rateLimitExceeded" if status == 429 else "backendError"
        return error(status, reason, "injected fault")

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        """One request. ``body`` is what was kept; ``size`` the body's full length."""
        path, _, query = target.partition("?")
        if path.startswith("/storage/v1/b"):
            rest = path[13:]
            upload = False
        elif path.startswith("/download/storage/v1/b"):
            rest = path[22:]
            upload = False
            query = "alt=media"
        elif path.startswith("/upload/storage/v1/b"):
            rest = path[20:]
            upload = True
        else:
            return error(404, "notFound", f"no such API path: {path[:100]}")
        if not rest or rest == "/":
            if path[1] != "s":  # /upload/... or /download/... has no bucket collection
                return error(404, "notFound", f"no such API path: {path[:100]}")
            return self._buckets(method, query, body)
        if rest[0] != "/":
            return error(404, "notFound", f"no such API path: {path[:100]}")
        bucket, _, tail = rest[1:].partition("/")
        bucket = _decode(bucket)
        if not self.store.has_bucket(bucket):
            return _no_bucket(bucket)
        if upload:
            if tail != "o":
                return error(404, "notFound", f"no such upload path: {path[:100]}")
            return self._upload(method, bucket, query, headers, body, size)
        if not tail:
            if method == "GET":
                return _json(200, {"kind": "storage#bucket", "id": bucket, "name": bucket})
            return error(405, "methodNotAllowed", f"{method} on a bucket is not supported")
        if tail == "o":
            if method == "GET":
                return self._list(bucket, _params(query))
            return error(405, "methodNotAllowed", f"{method} on objects is not supported")
        if not tail.startswith("o/"):
            return error(404, "notFound", f"no such API path: {path[:100]}")
        return self._object(method, bucket, _decode(tail[2:]), query, headers)

    # -- buckets ------------------------------------------------------------------------------

    def _buckets(self, method: str, query: str, body: bytes | bytearray) -> Response:
        if method != "POST":
            return error(405, "methodNotAllowed", f"{method} on buckets is not supported")
        try:
            doc = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return error(400, "parseError", "Parse Error")
        name = doc.get("name") if isinstance(doc, dict) else None
        if not isinstance(name, str) or not name:
            return error(400, "required", "Required: bucket name")
        if not self.store.create_bucket(name):
            return error(
                409,
                "conflict",
                "Your previous request to create the named bucket "
                "succeeded and you already own it.",
            )
        return _json(200, {"kind": "storage#bucket", "id": name, "name": name})

    # -- objects ------------------------------------------------------------------------------

    def _object(
        self, method: str, bucket: str, name: str, query: str, headers: Headers
    ) -> Response:
        store = self.store
        if method == "DELETE":
            if not store.delete(bucket, name):
                return _no_object(bucket, name)
            return Response(204, [], b"", 0)
        if method != "GET":
            return error(405, "methodNotAllowed", f"{method} on an object is not supported")
        n = store.size(bucket, name)
        if n is None:
            return _no_object(bucket, name)
        if query != "alt=media" and _params(query).get("alt") != "media":
            return _json(200, _resource(bucket, name, n))
        rng = header(headers, b"range")
        if rng is None:
            return Response(200, [], store.read(bucket, name, 0, n), n)
        m = _RANGE.match(rng.decode("latin-1"))
        if m is None or not (m.group(1) or m.group(2)):
            return error(
                416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied."
            )
        if m.group(1):
            start = int(m.group(1))
            end = min(n, int(m.group(2)) + 1) if m.group(2) else n
        else:
            start = max(0, n - int(m.group(2)))
            end = n
        if start >= n or start >= end:
            return error(
                416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied."
            )
        hdrs = [("Content-Range", f"bytes {start}-{end - 1}/{n}")]
        return Response(206, hdrs, store.read(bucket, name, start, end), end - start)

    def _list(self, bucket: str, params: dict[str, str]) -> Response:
        try:
            max_results = int(params.get("maxResults", MAX_LIST_RESULTS))
            page = list_page(
                self.store.keys(bucket),
                self.store.sizes(bucket),
                prefix=params.get("prefix", ""),
                delimiter=params.get("delimiter") or None,
                max_keys=max(1, min(max_results, MAX_LIST_RESULTS)),
                token=params.get("pageToken"),
            )
        except ValueError as exc:
            return error(400, "invalid", str(exc))
        doc: dict[str, Any] = {"kind": "storage#objects"}
        if page.keys:
            doc["items"] = [_resource(bucket, k, n) for k, n in page.keys]
        if page.common_prefixes:
            doc["prefixes"] = page.common_prefixes
        if page.next_token:
            doc["nextPageToken"] = page.next_token
        return _json(200, doc)

    # -- uploads ------------------------------------------------------------------------------

    def _upload(
        self,
        method: str,
        bucket: str,
        query: str,
        headers: Headers,
        body: bytes | bytearray,
        size: int,
    ) -> Response:
        params = _params(query)
        upload_id = params.get("upload_id")
        if upload_id is not None:
            return self._session(method, upload_id, headers, body, size)
        if method != "POST":
            return error(405, "methodNotAllowed", f"{method} on uploads is not supported")
        name = params.get("name")
        if not name:
            return error(400, "required", "Required: name")
        kind = params.get("uploadType")
        if kind == "media":
            store = self.store
            if len(body) == size:
                store.put(bucket, name, body)
            else:
                store.put_size(bucket, name, size)  # sink: counted, not kept
            return _json(200, _resource(bucket, name, size))
        if kind == "resumable":
            upload_id = f"mock-{next(self._ids)}"
            self._uploads[upload_id] = _Upload(bucket, name)
            host = (header(headers, b"host") or b"127.0.0.1").decode("latin-1")
            location = (
                f"http://{host}/upload/storage/v1/b/{encode_name(bucket)}/o?uploadType=resumable"
                f"&name={encode_name(name)}&upload_id={upload_id}"
            )
            return Response(200, [("Location", location)], b"", 0)
        return error(400, "invalid", f"uploadType {kind!r} is not supported")

    def _session(
        self, method: str, upload_id: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        up = self._uploads.get(upload_id)
        if up is None:
            return error(404, "notFound", "No such upload session")
        if method == "DELETE":
            del self._uploads[upload_id]
            return Response(499, [], b"", 0)
        if method != "PUT":
            return error(405, "methodNotAllowed", f"{method} on an upload session")
        spec = (header(headers, b"content-range") or b"").decode("latin-1")
        m = _CONTENT_RANGE.match(spec)
        if m is None:
            return error(400, "invalid", f"bad Content-Range {spec[:60]!r}")
        first, last, total_text = m.groups()
        if first is not None:
            start, stop = int(first), int(last) + 1
            if stop - start != size:
                return error(400, "invalid", "Content-Range does not match the body length")
            if start > up.received:
                return error(400, "invalid", f"chunk starts at {start}, have {up.received}")
            skip = up.received - start  # resent bytes the session already holds
            if stop > up.received:
                if len(body) == size:
                    up.chunks.append(bytes(body[skip:]))
                else:
                    up.chunks.append(stop - up.received)
                up.received = stop
        total = None if total_text == "*" else int(total_text)
        if total is None or up.received < total:
            if up.received == 0:
                return Response(308, [], b"", 0)
            return Response(308, [("Range", f"bytes=0-{up.received - 1}")], b"", 0)
        del self._uploads[upload_id]
        store = self.store
        if all(isinstance(c, bytes) for c in up.chunks):
            store.put(up.bucket, up.name, b"".join(c for c in up.chunks if isinstance(c, bytes)))
        else:
            store.put_size(up.bucket, up.name, up.received)
        return _json(200, _resource(up.bucket, up.name, up.received))
