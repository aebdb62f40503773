"""GCS JSON API shapes: request targets, the JSON replies we read, and what an error means.

Owns the URL forms of the Cloud Storage JSON API v1 (objects insert/get/delete/list, bucket
insert, resumable upload sessions), the object-name encoding they need, the list and object
JSON we parse, the error JSON, and the one table that turns a status and reason into an
``Outcome``.

Rules:
- Pure. No socket, no clock, no environment.
- An object name is one path segment: everything outside the unreserved set is
  percent-encoded, ``/`` included (``a/b`` -> ``a%2Fb``), non-ASCII as UTF-8. The same
  encoding is used in query values, where it is also valid; nothing else is ever encoded twice.
- ``Targets`` joins the constant part of every target once per bucket, so an op pays for the
  name's encoding and one concatenation.
- A body that is not the document expected raises ``GcsMalformedResponse`` (Outcome.PROTOCOL).
"""

from __future__ import annotations

import http
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final
from urllib.parse import quote, urlsplit

import msgspec

from sai3bench.outcome import MalformedResponse, OpError, Outcome, status_outcome

DEFAULT_ENDPOINT: Final = "https://storage.googleapis.com"
#: Resumable chunks (all but the last) must be a multiple of this many bytes.
CHUNK_GRANULE: Final = 256 * 1024
#: objects.list returns at most this many entries (items + prefixes) per page.
MAX_LIST_RESULTS: Final = 1000
#: The partial response a listing asks for: only what ObjectInfo needs, and the page token.
LIST_FIELDS: Final = "items(name,size),prefixes,nextPageToken"
#: ``describe`` cuts server messages here: one line in a log, not a page.
_MAX_MESSAGE: Final = 200

_PLAIN: Final = re.compile(r"[A-Za-z0-9._~/-]*").fullmatch
_RESUME_RANGE: Final = re.compile(rb"\s*bytes=0-(\d+)\s*\Z")


# --- names and targets -----------------------------------------------------------------------


def encode_name(name: str) -> str:
    """``name`` as one percent-encoded path segment (or query value).

    Plain ASCII names (letters, digits, ``._~-`` and ``/``), which is what a benchmark writes,
    skip ``quote``: 0.2 us instead of 1.5 us for a 40-character key.
    """
    if _PLAIN(name) is not None:
        return name.replace("/", "%2F")
    return quote(name, safe="")


def encode_query(params: Mapping[str, str | int]) -> str:
    """``a=1&b=x%2Fy`` in the given order; every value encoded as ``encode_name`` does."""
    return "&".join(f"{k}={encode_name(str(v))}" for k, v in params.items())


class Targets:
    """The request targets of one bucket's objects, with the constant parts joined once."""

    __slots__ = ("_media", "_object", "_objects", "_resumable", "bucket")

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        b = encode_name(bucket)
        self._objects = f"/storage/v1/b/{b}/o"
        self._object = self._objects + "/"
        self._media = f"/upload/storage/v1/b/{b}/o?uploadType=media&name="
        self._resumable = f"/upload/storage/v1/b/{b}/o?uploadType=resumable&name="

    def __repr__(self) -> str:
        return f"<Targets {self.bucket}>"

    def object(self, name: str) -> str:
        """objects.get (metadata) and objects.delete: ``/storage/v1/b/B/o/NAME``."""
        return self._object + encode_name(name)

    def metadata(self, name: str, fields: str = "size") -> str:
        """objects.get trimmed to ``fields`` (a partial response; one field is a few bytes)."""
        return f"{self._object}{encode_name(name)}?fields={encode_name(fields)}"

    def download(self, name: str) -> str:
        """objects.get of the data: ``/storage/v1/b/B/o/NAME?alt=media``."""
        return self._object + encode_name(name) + "?alt=media"

    def media_upload(self, name: str) -> str:
        """objects.insert, the whole body in one request (``uploadType=media``)."""
        return self._media + encode_name(name)

    def resumable_upload(self, name: str) -> str:
        """objects.insert starting a resumable session; the reply's Location is the session."""
        return self._resumable + encode_name(name)

    def list(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
        fields: str | None = LIST_FIELDS,
    ) -> str:
        """objects.list for one page."""
        params: dict[str, str | int] = {}
        if prefix:
            params["prefix"] = prefix
        if delimiter:
            params["delimiter"] = delimiter
        if max_results is not None:
            if not 0 < max_results <= MAX_LIST_RESULTS:
                raise ValueError(f"max_results must be 1..{MAX_LIST_RESULTS}, not {max_results}")
            params["maxResults"] = max_results
        if page_token:
            params["pageToken"] = page_token
        if fields:
            params["fields"] = fields
        return f"{self._objects}?{encode_query(params)}" if params else self._objects


def bucket_insert_target(project: str | None) -> str:
    """buckets.insert: ``/storage/v1/b?project=P`` (emulators accept it without a project)."""
    return f"/storage/v1/b?project={encode_name(project)}" if project else "/storage/v1/b"


def bucket_insert_body(bucket: str) -> bytes:
    """The buckets.insert body: the bucket resource with its name only."""
    return msgspec.json.encode({"name": bucket})


# --- resumable uploads -----------------------------------------------------------------------


def content_range(start: int, end: int, total: int) -> str:
    """The Content-Range of a chunk holding bytes [start, end) of ``total``.

    An empty chunk is ``bytes */total``: it asks the server to finish once it holds them all.
    """
    if not 0 <= start <= end <= total:
        raise ValueError(f"bad chunk [{start}, {end}) of {total}")
    return f"bytes {start}-{end - 1}/{total}" if end > start else f"bytes */{total}"


def resume_offset(range_header: bytes) -> int:
    """The next byte a 308 Resume Incomplete asks for: its ``Range: bytes=0-N`` plus one.

    No Range header means the server persisted nothing yet (0).
    """
    if not range_header:
        return 0
    m = _RESUME_RANGE.match(range_header)
    if m is None:
        raise GcsMalformedResponse(f"308 with an unreadable Range {range_header[:60]!r}")
    return int(m.group(1)) + 1


def session_target(location: bytes | str) -> str:
    """The request target (path and query) of a resumable session from its Location header.

    GCS returns an absolute URL on the host the session was started on; the session is then
    driven over the same connections.
    """
    text = location.decode("latin-1") if isinstance(location, bytes) else location
    text = text.strip()
    if text.startswith("/"):
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.path.startswith("/"):
        raise GcsMalformedResponse(f"resumable upload without a usable Location: {text[:80]!r}")
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# --- JSON replies ----------------------------------------------------------------------------


class GcsMalformedResponse(MalformedResponse):
    """The body is not the document the request expects (Outcome.PROTOCOL)."""


class ListedObject(msgspec.Struct, frozen=True, gc=False):
    """One entry of ``items``. GCS sends ``size`` as a decimal string (a uint64 in JSON)."""

    name: str
    size: int = -1


class ObjectList(msgspec.Struct, frozen=True, rename="camel"):
    """One objects.list page (only the fields ``LIST_FIELDS`` asks for)."""

    items: list[ListedObject] = []
    prefixes: list[str] = []
    next_page_token: str | None = None


class _ObjectSize(msgspec.Struct, frozen=True, gc=False):
    size: int


# strict=False turns GCS's decimal-string sizes into ints while decoding.
_LIST: Final = msgspec.json.Decoder(ObjectList, strict=False)
_SIZE: Final = msgspec.json.Decoder(_ObjectSize, strict=False)


def parse_list(body: bytes | bytearray) -> ObjectList:
    """An objects.list page."""
    try:
        return _LIST.decode(body)
    except msgspec.DecodeError as exc:
        raise GcsMalformedResponse(f"objects.list reply is not a list page: {exc}") from None


def parse_object_size(body: bytes | bytearray) -> int:
    """The ``size`` of an object resource (objects.get, objects.insert)."""
    try:
        return _SIZE.decode(body).size
    except msgspec.DecodeError as exc:
        raise GcsMalformedResponse(f"object resource without a size: {exc}") from None


# --- errors and outcomes ---------------------------------------------------------------------


class GcsErrorItem(msgspec.Struct, frozen=True, gc=False):
    reason: str = ""
    message: str = ""
    domain: str = ""


class GcsError(msgspec.Struct, frozen=True, gc=False):
    """The ``error`` member of a GCS error reply; ``reason`` is its first item's reason."""

    code: int = 0
    message: str = ""
    errors: list[GcsErrorItem] = []

    @property
    def reason(self) -> str | None:
        for item in self.errors:
            if item.reason:
                return item.reason
        return None


class _ErrorReply(msgspec.Struct, frozen=True, gc=False):
    error: GcsError


_ERROR: Final = msgspec.json.Decoder(_ErrorReply)


def parse_error(body: bytes | bytearray) -> GcsError | None:
    """The error JSON in ``body``, or None for anything else (HTML from a proxy, nothing)."""
    if body.lstrip()[:1] != b"{":
        return None
    try:
        return _ERROR.decode(body).error
    except msgspec.DecodeError:
        return None


#: The reason decides before the status: GCS has sent rate limits as 403 with these reasons.
REASON_OUTCOMES: Final[Mapping[str, Outcome]] = MappingProxyType(
    {
        "notFound": Outcome.NOT_FOUND,
        "forbidden": Outcome.PERMISSION,
        "insufficientPermissions": Outcome.PERMISSION,
        "authError": Outcome.PERMISSION,
        "accountDisabled": Outcome.PERMISSION,
        "rateLimitExceeded": Outcome.THROTTLED,
        "userRateLimitExceeded": Outcome.THROTTLED,
    }
)


def outcome_for(status: int, reason: str | None) -> Outcome:
    """The outcome class of one reply, from its status and its error reason if it had one.

    A known reason decides; otherwise the status: 2xx OK, 404 NOT_FOUND, 401/403 PERMISSION,
    408 TIMEOUT, 429 and 503 THROTTLED (GCS's back-off signals), other 5xx SERVER_ERROR, other
    3xx/4xx CLIENT_ERROR (a 308 outside a resumable upload, a 409, a 412).
    """
    if reason is not None:
        known = REASON_OUTCOMES.get(reason)
        if known is not None:
            return known
    return status_outcome(status)


def describe(status: int, err: GcsError | None) -> str:
    """One line for a person: ``404 notFound: No such object: bench/k``."""
    message = " ".join(err.message.split()) if err is not None else ""
    reason = err.reason if err is not None else None
    if not message and not reason:
        try:
            return f"{status} {http.HTTPStatus(status).phrase}"
        except ValueError:
            return f"{status} (no GCS error body)"
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    label = f"{status} {reason}" if reason else str(status)
    return f"{label}: {message}" if message else label


def error_of(status: int, body: bytes | bytearray) -> OpError:
    """The OpError for a non-2xx reply and its (kept) body."""
    err = parse_error(body)
    return OpError(outcome_for(status, err.reason if err else None), describe(status, err))
