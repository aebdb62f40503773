"""The mock server's Azure Blob dialect as a pure function: a parsed request in, a response out.

Path-style addressing only (``/ACCOUNT/CONTAINER/BLOB``; any account; the container is the
store's bucket). Operations: Create Container, Get Container Properties, List Blobs (prefix,
delimiter, maxresults, marker), Put Blob (BlockBlob), Put Block and Put Block List, Get Blob
(``x-ms-range`` or ``Range``), Get Blob Properties (HEAD) and Delete Blob. Errors come back as
Azure words them: the <Error> XML and an ``x-ms-error-code`` header (HEAD: the header alone).
Optional Shared Key checking recomputes the signature with the project's own signer from what
arrived on the wire.

Put Blob and Get Blob parse no XML and compile nothing: a dict lookup of the query, a scan of
the headers, the store call.
"""

from __future__ import annotations

import hmac
import re
from typing import Final
from urllib.parse import quote, unquote

from sai3bench.backends.azureshapes import MAX_RESULTS, AzureMalformedResponse, parse_block_list
from sai3bench.backends.xmltext import XML_ESCAPES, XML_ILLEGAL
from sai3bench.mock.app import Headers, Response, header
from sai3bench.mock.store import ListResult, MemoryStore, ObjectStore, list_page
from sai3bench.signers.azure import SharedKeySigner, string_to_sign

_RANGE: Final = re.compile(r"bytes=(\d+)-(\d*)\Z")
_ETAG: Final = [("ETag", '"0x8D0MOCK"')]
_BLOB_HEADERS: Final = [("x-ms-blob-type", "BlockBlob"), ("ETag", '"0x8D0MOCK"')]
_EMPTY_QUERY: Final[dict[str, str]] = {}
_AUTH_MESSAGE: Final = (
    "Server failed to authenticate the request. Make sure the value of Authorization header is "
    "formed correctly including the signature."
)


def error(status: int, code: str, message: str, *, head: bool = False) -> Response:
    """An Azure error: the <Error> document plus ``x-ms-error-code`` (HEAD: header only)."""
    headers = [("x-ms-error-code", code)]
    if head:
        return Response(status, headers, b"", 0)
    esc = _esc(message)
    data = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{esc}\nRequestId:mock\nTime:mock</Message></Error>"
    ).encode()
    headers.append(("Content-Type", "application/xml"))
    return Response(status, headers, data, len(data))


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _empty(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, headers or [], b"", 0)


class AzureApp:
    """Answers Blob requests from a store; ``key`` (with ``account``) enables Shared Key checks."""

    def __init__(
        self,
        store: ObjectStore | None = None,
        *,
        account: str | None = None,
        key: str | None = None,
    ) -> None:
        if key is not None and not account:
            raise ValueError("Shared Key checking needs the account name as well as the key")
        self.store = store or MemoryStore()
        self.account = account
        self._signer = SharedKeySigner(account, key) if key is not None and account else None
        #: (container, blob) -> {block id: body bytes, or its size in sink mode}
        self._blocks: dict[tuple[str, str], dict[str, bytes | int]] = {}

    def __repr__(self) -> str:
        return f"<AzureApp {self.store!r} auth={'on' if self._signer else 'off'}>"

    def fault(self, status: int, target: str, headers: Headers) -> Response:
        """An injected fault as Azure words it: ServerBusy for 503, InternalError otherwise."""
        if status == 503:
            return error(503, "ServerBusy", "The server is busy.")
        return error(status, "InternalError", "The server encountered an internal error.")

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        """One request. ``body`` is what was kept; ``size`` the body's full length."""
        path, _, query = target.partition("?")
        head = method == "HEAD"
        params = dict(_pairs(query)) if query else _EMPTY_QUERY
        if self._signer is not None:
            refused = self._check_auth(method, path, params, headers)
            if refused is not None:
                return error(403, "AuthenticationFailed", refused, head=head)
        _account, _, rest = path.lstrip("/").partition("/")
        raw_container, _, raw_blob = rest.partition("/")
        container = unquote(raw_container)
        if not container:
            return error(400, "InvalidUri", "path-style only: /ACCOUNT/CONTAINER/BLOB", head=head)
        if not raw_blob:
            return self._container_op(method, container, params, head)
        if not self.store.has_bucket(container):
            return error(
                404, "ContainerNotFound", "The specified container does not exist.", head=head
            )
        blob = unquote(raw_blob)
        comp = params.get("comp")
        if comp is not None:
            if method != "PUT" or comp not in ("block", "blocklist"):
                return error(400, "UnsupportedQueryParameter", f"comp={comp} on a blob", head=head)
            if comp == "block":
                return self._put_block(container, blob, params.get("blockid", ""), body, size)
            return self._put_block_list(container, blob, body, size)
        return self._blob_op(method, container, blob, headers, body, size)

    def _container_op(
        self, method: str, container: str, params: dict[str, str], head: bool
    ) -> Response:
        store = self.store
        if params.get("restype") != "container":
            return error(400, "InvalidQueryParameterValue", "restype=container expected", head=head)
        if method == "PUT":
            if not store.create_bucket(container):
                return error(
                    409, "ContainerAlreadyExists", "The specified container already exists."
                )
            return _empty(201, _ETAG)
        if not store.has_bucket(container):
            return error(
                404, "ContainerNotFound", "The specified container does not exist.", head=head
            )
        if method == "GET" and params.get("comp") == "list":
            return self._list(container, params)
        if method in ("GET", "HEAD") and "comp" not in params:
            return _empty(200, _ETAG)
        return error(
            405, "UnsupportedHttpVerb", f"{method} on a container is not supported", head=head
        )

    def _blob_op(
        self,
        method: str,
        container: str,
        blob: str,
        headers: Headers,
        body: bytes | bytearray,
        size: int,
    ) -> Response:
        store = self.store
        if method == "PUT":
            kind = header(headers, b"x-ms-blob-type")
            if kind != b"BlockBlob":
                what = "missing" if kind is None else f"{kind.decode('latin-1')!r}, not supported"
                return error(400, "MissingRequiredHeader", f"x-ms-blob-type is {what}")
            if len(body) == size:
                store.put(container, blob, body)
            else:
                store.put_size(container, blob, size)  # sink: counted, not kept
            self._blocks.pop((container, blob), None)
            return _empty(201, _ETAG)
        head = method == "HEAD"
        if method == "DELETE":
            if not store.delete(container, blob):
                return error(404, "BlobNotFound", "The specified blob does not exist.")
            return _empty(202)
        n = store.size(container, blob)
        if n is None:
            return error(404, "BlobNotFound", "The specified blob does not exist.", head=head)
        if head:
            return Response(200, _BLOB_HEADERS, b"", n)
        if method != "GET":
            return error(405, "UnsupportedHttpVerb", f"{method} on a blob is not supported")
        rng = header(headers, b"x-ms-range") or header(headers, b"range")
        if rng is None:
            return Response(200, _BLOB_HEADERS, store.read(container, blob, 0, n), n)
        m = _RANGE.match(rng.decode("latin-1"))
        if m is None:
            return error(400, "InvalidHeaderValue", "x-ms-range must be bytes=START-[END]")
        start = int(m.group(1))
        end = min(n, int(m.group(2)) + 1) if m.group(2) else n
        if start >= n or start >= end:
            return error(
                416,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.",
            )
        hdrs = [*_BLOB_HEADERS, ("Content-Range", f"bytes {start}-{end - 1}/{n}")]
        return Response(206, hdrs, store.read(container, blob, start, end), end - start)

    def _put_block(
        self, container: str, blob: str, block: str, body: bytes | bytearray, size: int
    ) -> Response:
        if not block:
            return error(400, "InvalidQueryParameterValue", "blockid is missing")
        blocks = self._blocks.setdefault((container, blob), {})
        if blocks and len(block) != len(next(iter(blocks))):
            return error(400, "InvalidBlobOrBlock", "block ids of one blob must have one length")
        blocks[block] = bytes(body) if len(body) == size else size
        return _empty(201)

    def _put_block_list(
        self, container: str, blob: str, body: bytes | bytearray, size: int
    ) -> Response:
        blocks = self._blocks.get((container, blob), {})
        if len(body) != size:  # sink mode keeps no body: commit every block in id order
            ids = sorted(blocks)
        else:
            try:
                ids = parse_block_list(body)
            except AzureMalformedResponse:
                return error(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")
        if any(b not in blocks for b in ids):
            return error(400, "InvalidBlockList", "The specified block list is invalid.")
        parts = [blocks[b] for b in ids]
        if all(isinstance(p, bytes) for p in parts):
            self.store.put(container, blob, b"".join(p for p in parts if isinstance(p, bytes)))
        else:
            total = sum(p if isinstance(p, int) else len(p) for p in parts)
            self.store.put_size(container, blob, total)
        self._blocks.pop((container, blob), None)
        return _empty(201, _ETAG)

    def _list(self, container: str, params: dict[str, str]) -> Response:
        try:
            max_results = int(params.get("maxresults", str(MAX_RESULTS)))
            if max_results < 1:
                raise ValueError("maxresults must be at least 1")
            page = list_page(
                self.store.keys(container),
                self.store.sizes(container),
                prefix=params.get("prefix", ""),
                delimiter=params.get("delimiter") or None,
                max_keys=min(max_results, MAX_RESULTS),
                token=params.get("marker") or None,
            )
        except ValueError as exc:
            return error(400, "OutOfRangeQueryParameterValue", str(exc))
        data = _list_xml(self.account or "", container, params, page).encode()
        return Response(200, [("Content-Type", "application/xml")], data, len(data))

    def _check_auth(
        self, method: str, path: str, params: dict[str, str], headers: Headers
    ) -> str | None:
        """None when the Shared Key signature checks out, else why not."""
        signer = self._signer
        assert signer is not None
        auth = header(headers, b"authorization")
        if auth is None:
            return "No Authorization header (this mock checks Shared Key)."
        scheme, _, credential = auth.decode("latin-1").partition(" ")
        account, _, signature = credential.partition(":")
        if scheme != "SharedKey" or not signature:
            return "The Authorization header is not SharedKey ACCOUNT:SIGNATURE."
        if account != signer.account:
            return f"{_AUTH_MESSAGE} Unknown account {account!r}."
        wire = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
        sts = string_to_sign(method, account, path, list(params.items()), wire)
        if not hmac.compare_digest(signer.signature(sts), signature):
            return _AUTH_MESSAGE
        return None


def _pairs(query: str) -> list[tuple[str, str]]:
    out = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.append((unquote(name), unquote(value)))
    return out


def _name_xml(name: str) -> str:
    if XML_ILLEGAL.search(name):
        return f'<Name Encoded="true">{quote(name, safe="/")}</Name>'
    return f"<Name>{name.translate(XML_ESCAPES)}</Name>"  # CR and LF as references too


def _list_xml(account: str, container: str, params: dict[str, str], page: ListResult) -> str:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<EnumerationResults ServiceEndpoint="http://127.0.0.1/{_esc(account)}" '
        f'ContainerName="{_esc(container)}">',
    ]
    for field, name in (("prefix", "Prefix"), ("marker", "Marker"), ("delimiter", "Delimiter")):
        if params.get(field):
            parts.append(f"<{name}>{_esc(params[field])}</{name}>")
    if "maxresults" in params:
        parts.append(f"<MaxResults>{_esc(params['maxresults'])}</MaxResults>")
    parts.append("<Blobs>")
    parts.extend(
        f"<Blob>{_name_xml(k)}<Properties><Content-Length>{n}</Content-Length>"
        "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType>"
        "</Properties><OrMetadata /></Blob>"
        for k, n in page.keys
    )
    parts.extend(f"<BlobPrefix>{_name_xml(p)}</BlobPrefix>" for p in page.common_prefixes)
    parts.append("</Blobs>")
    parts.append(
        f"<NextMarker>{page.next_token}</NextMarker>" if page.next_token else "<NextMarker />"
    )
    parts.append("</EnumerationResults>")
    return "".join(parts)
