"""Azure Blob request and response shapes: query parameters, XML bodies, what an error means.

Owns the documents the Blob REST API defines that this project uses (List Blobs'
EnumerationResults, Put Block List's BlockList, the <Error> document), block ids, and the one
table that turns a status and an Azure error code into an ``Outcome``.

Rules:
- Pure. No socket, no clock, no environment. Query parameters leave as plain (name, value)
  pairs: the request builder encodes them for the wire and the signer canonicalizes the raw
  values, so nothing here encodes.
- A HEAD reply has no body; its error code arrives in the ``x-ms-error-code`` header, and
  ``outcome_for`` takes a code from either place.
- A body that is not the document expected raises ``AzureMalformedResponse`` (Outcome.PROTOCOL),
  an ``OpError``, so the engine counts it like any failed op.
"""

from __future__ import annotations

import base64
import http
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final
from urllib.parse import unquote

import msgspec

from sai3bench.backends.base import ObjectInfo

# The S3 fast path's entity decoding, which defers to ElementTree on anything it cannot prove
# (an unknown entity, a reference to a character XML 1.0 cannot carry).
from sai3bench.backends.xmltext import FastPathDefer, fast_frame_ok, unescape
from sai3bench.outcome import MalformedResponse, Outcome, status_outcome

#: List Blobs returns at most this many entries per page (the service's default and maximum).
MAX_RESULTS: Final = 5000
#: A blob holds at most this many committed blocks.
MAX_BLOCKS: Final = 50_000
#: ``describe`` cuts server messages here: one line in a log, not a page.
_MAX_MESSAGE: Final = 200


# --- query parameters ----------------------------------------------------------------------


def container_params() -> list[tuple[str, str]]:
    """Query of Create Container (PUT) and Delete Container (DELETE)."""
    return [("restype", "container")]


def list_blobs_params(
    prefix: str,
    *,
    delimiter: str | None = None,
    max_results: int | None = None,
    marker: str | None = None,
) -> list[tuple[str, str]]:
    """Query parameters of one List Blobs page (``marker`` is the last page's NextMarker)."""
    params = [("restype", "container"), ("comp", "list")]
    if prefix:
        params.append(("prefix", prefix))
    if delimiter:
        params.append(("delimiter", delimiter))
    if max_results is not None:
        if not 1 <= max_results <= MAX_RESULTS:
            raise ValueError(f"max_results must be 1..{MAX_RESULTS}, not {max_results}")
        params.append(("maxresults", str(max_results)))
    if marker:
        params.append(("marker", marker))
    return params


def block_id(index: int) -> str:
    """The block id of block ``index`` (0-based): base64 of a fixed-width name.

    Every id of one blob must have the same length before encoding; 18 bytes encode to 24
    characters without padding.
    """
    if not 0 <= index < MAX_BLOCKS:
        raise ValueError(f"block index {index} is outside 0..{MAX_BLOCKS - 1}")
    return base64.b64encode(f"block-{index:012d}".encode()).decode("ascii")


def put_block_params(block: str) -> list[tuple[str, str]]:
    """Query of a Put Block (``block`` from ``block_id``)."""
    return [("comp", "block"), ("blockid", block)]


def block_list_params() -> list[tuple[str, str]]:
    """Query of a Put Block List."""
    return [("comp", "blocklist")]


def build_block_list(blocks: Sequence[str]) -> bytes:
    """The Put Block List body committing ``blocks`` (uncommitted or committed: ``Latest``)."""
    if not blocks:
        raise ValueError("Put Block List needs at least one block")
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"a blob takes at most {MAX_BLOCKS} blocks, got {len(blocks)}")
    ids = "".join(f"<Latest>{_block_xml(b)}</Latest>" for b in blocks)
    return f'<?xml version="1.0" encoding="utf-8"?><BlockList>{ids}</BlockList>'.encode()


_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")


def _block_xml(block: str) -> str:
    if not _BASE64.match(block):
        raise ValueError(f"block id {block!r} is not base64")
    return block


def parse_block_list(body: bytes | bytearray) -> list[str]:
    """The block ids of a Put Block List body, in order (the mock server reads it).

    Raises:
        AzureMalformedResponse: the body is not a BlockList document.
    """
    try:
        root = ET.fromstring(bytes(body))
    except ET.ParseError as exc:
        raise AzureMalformedResponse(f"BlockList is not XML: {exc}") from None
    if root.tag != "BlockList":
        raise AzureMalformedResponse(f"<BlockList> expected, got <{root.tag}>")
    return [(el.text or "").strip() for el in root if el.tag in _BLOCK_TAGS]


_BLOCK_TAGS: Final = frozenset({"Latest", "Committed", "Uncommitted"})


# --- errors and outcomes -------------------------------------------------------------------


class AzureError(msgspec.Struct, frozen=True, gc=False):
    """The fields of an Azure <Error> document (or an x-ms-error-code header) a person needs."""

    code: str
    message: str = ""
    #: AuthenticationErrorDetail of a 403: why the signature was refused.
    detail: str = ""


class AzureMalformedResponse(MalformedResponse):
    """The body is not the document the request expects (Outcome.PROTOCOL)."""


#: Codes that mean the credentials themselves were refused: every later request fails the same
#: way. AuthorizationPermissionMismatch is not here: valid credentials lacking one permission.
#: AuthorizationFailure is: Azure sends it when a firewall or policy refuses the caller, and
#: Azurite when a Shared Key signature is wrong.
AUTH_FAILURE_CODES: Final = frozenset(
    {
        "AuthenticationFailed",
        "AuthorizationFailure",
        "InvalidAuthenticationInfo",
        "NoAuthenticationInformation",
        "AccountIsDisabled",
        "InvalidSignature",
    }
)

#: The code decides before the status. Azure says throttling is 503 ServerBusy or
#: 500 OperationTimedOut ("Scalability and performance targets for Blob storage").
CODE_OUTCOMES: Final[Mapping[str, Outcome]] = MappingProxyType(
    {
        "BlobNotFound": Outcome.NOT_FOUND,
        "ContainerNotFound": Outcome.NOT_FOUND,
        "ResourceNotFound": Outcome.NOT_FOUND,
        "AuthorizationPermissionMismatch": Outcome.PERMISSION,
        "AuthorizationResourceTypeMismatch": Outcome.PERMISSION,
        "AuthorizationSourceIPMismatch": Outcome.PERMISSION,
        "AuthorizationProtocolMismatch": Outcome.PERMISSION,
        "InsufficientAccountPermissions": Outcome.PERMISSION,
        **dict.fromkeys(AUTH_FAILURE_CODES, Outcome.PERMISSION),
        "ServerBusy": Outcome.THROTTLED,
        "OperationTimedOut": Outcome.THROTTLED,
        "TooManyRequests": Outcome.THROTTLED,
    }
)


def outcome_for(status: int, code: str | None) -> Outcome:
    """The outcome class of one reply, from its status and Azure error code if it had one.

    A known code decides; otherwise the status does: 404 NOT_FOUND, 401/403 PERMISSION,
    408 TIMEOUT, 429 and 503 THROTTLED (Azure's 503 is ServerBusy), other 5xx SERVER_ERROR,
    other 3xx/4xx CLIENT_ERROR, 2xx OK (SERVER_ERROR with a code: an error under 200).
    """
    if code:
        known = CODE_OUTCOMES.get(code)
        if known is not None:
            return known
    if 200 <= status < 300 and code:
        return Outcome.SERVER_ERROR  # an error document under 200
    return status_outcome(status)


def is_auth_failure(status: int, code: str | None) -> bool:
    """True when the server refused the credentials, not one action: the run cannot succeed."""
    return status == 401 or code in AUTH_FAILURE_CODES


def describe(status: int, err: AzureError | None) -> str:
    """One line for a person: ``403 AuthenticationFailed: Server failed to authenticate ...``.

    Azure's messages carry ``RequestId:...`` and ``Time:...`` on their own lines; only the
    first line is kept, then the AuthenticationErrorDetail if there is one.
    """
    if err is None:
        try:
            return f"{status} {http.HTTPStatus(status).phrase}"
        except ValueError:
            return f"{status} (no Azure error body)"
    message = err.message.strip().split("\n", 1)[0]
    if err.detail:
        message = f"{message} ({err.detail})" if message else err.detail
    message = " ".join(message.split())
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{status} {err.code}: {message}" if message else f"{status} {err.code}"


def parse_error(body: bytes | bytearray, header_code: bytes = b"") -> AzureError | None:
    """The Azure <Error> document in ``body``, else the ``x-ms-error-code`` value, else None.

    Proxies and load balancers answer with HTML or nothing; those give the header's code or
    None, and the caller falls back to the status alone.
    """
    data = bytes(body).lstrip()
    if data.startswith(b"\xef\xbb\xbf"):  # Azure may send a UTF-8 byte-order mark
        data = data[3:].lstrip()
    if data.startswith(b"<"):
        try:
            root = ET.fromstring(data)
        except ET.ParseError:
            root = None
        if root is not None and root.tag == "Error":
            fields = {child.tag: child.text or "" for child in root}
            code = fields.get("Code", "").strip()
            if code:
                return AzureError(
                    code, fields.get("Message", ""), fields.get("AuthenticationErrorDetail", "")
                )
    if header_code:
        return AzureError(header_code.decode("latin-1").strip())
    return None


# --- List Blobs ----------------------------------------------------------------------------


class BlobPage(msgspec.Struct, frozen=True, gc=False):
    """One List Blobs page. ``next_marker`` is None on the last page."""

    blobs: list[ObjectInfo]
    prefixes: list[str]
    next_marker: str | None


def parse_list_blobs(body: bytes | bytearray) -> BlobPage:
    """Parse one EnumerationResults page, decoding ``Encoded="true"`` names.

    Raises AzureMalformedResponse for a body that is not a whole page.
    """
    # Same shape of fast path as s3shapes.parse_list_v2: regular expressions whose match counts
    # prove they saw every element; anything unproven defers to ElementTree. Markup words are
    # safe to count here: the document has no namespaces, and '<' inside a name is escaped.
    data = bytes(body).lstrip()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:].lstrip()
    page = _fast_list(data)
    if page is not None:
        return page
    return _tree_list(data)


def _tree_list(data: bytes) -> BlobPage:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise AzureMalformedResponse(
            f"<EnumerationResults> expected, body is not XML: {exc}"
        ) from None
    if root.tag != "EnumerationResults":
        raise AzureMalformedResponse(f"<EnumerationResults> expected, got <{root.tag}>")
    blobs: list[ObjectInfo] = []
    prefixes: list[str] = []
    container = root.find("Blobs")
    for entry in container if container is not None else ():
        if entry.tag == "Blob":
            blobs.append(ObjectInfo(_tree_name(entry), _tree_size(entry)))
        elif entry.tag == "BlobPrefix":
            prefixes.append(_tree_name(entry))
    marker = (root.findtext("NextMarker") or "").strip()
    return BlobPage(blobs, prefixes, marker or None)


def _tree_name(entry: ET.Element) -> str:
    name = entry.find("Name")
    if name is None:
        raise AzureMalformedResponse(f"<{entry.tag}> without <Name>")
    text = name.text or ""
    if name.get("Encoded", "").lower() == "true":
        try:
            return unquote(text, errors="strict")
        except UnicodeDecodeError as exc:
            raise AzureMalformedResponse(f"encoded blob name is not UTF-8: {exc}") from None
    return text


def _tree_size(entry: ET.Element) -> int:
    text = entry.findtext("Properties/Content-Length")
    if text is None:
        return -1
    try:
        return int(text)
    except ValueError:
        raise AzureMalformedResponse(f"Content-Length is not an integer: {text!r}") from None


_FAST_BLOB: Final = re.compile(r"<Blob>\s*<Name>([^<]*)</Name>")
_FAST_SIZE: Final = re.compile(r"<Content-Length>([0-9]+)</Content-Length>")
_FAST_PREFIX: Final = re.compile(r"<BlobPrefix>\s*<Name>([^<]*)</Name>\s*</BlobPrefix>")
_FAST_MARKER: Final = re.compile(r"<NextMarker>([^<]*)</NextMarker>|<NextMarker\s*/>")
_FAST_ROOT: Final = re.compile(r"\s*<EnumerationResults[\s>]")
_FAST_END: Final = "</EnumerationResults>"


def _fast_list(data: bytes) -> BlobPage | None:
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    if not fast_frame_ok(text, _FAST_ROOT, _FAST_END):
        return None
    names = _FAST_BLOB.findall(text)
    sizes = _FAST_SIZE.findall(text)
    n = len(names)
    # One plain <Name> first in every <Blob> (an Encoded name has an attribute: no match), one
    # plain <Content-Length> per blob and none elsewhere, so the i-th size is the i-th blob's.
    if text.count("<Blob>") != n or text.count("<Blob ") or len(sizes) != n:
        return None
    if text.count("<Content-Length") != n:
        return None
    prefixes = _FAST_PREFIX.findall(text) if "<BlobPrefix" in text else []
    if text.count("<BlobPrefix") != len(prefixes):
        return None
    markers = _FAST_MARKER.findall(text)
    if len(markers) > 1 or text.count("<NextMarker") != len(markers):
        return None
    try:
        if "&" in text:
            names = [unescape(k) for k in names]
            prefixes = [unescape(p) for p in prefixes]
        marker = unescape(markers[0]).strip() if markers else ""
        blobs = list(map(ObjectInfo, names, map(int, sizes)))
    except (FastPathDefer, ValueError):
        return None
    return BlobPage(blobs, prefixes, marker or None)
