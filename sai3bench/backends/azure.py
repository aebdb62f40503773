"""az:// backend: Azure Blob Storage over our own HTTP client, no SDK on the hot path.

Per op: one Shared Key signature from a per-second string-to-sign template (or a cached bearer
header, or a SAS query), one pooled connection through ``HttpClient``. Non-2xx responses are
read up to 4 KiB (the error XML; HEAD: the ``x-ms-error-code`` header) and mapped to an Outcome
once, here.

Addressing: real Azure is host-style, ``https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB``;
emulators and custom endpoints are path-style, ``http://127.0.0.1:10000/ACCOUNT/CONTAINER/BLOB``.
The Shared Key canonicalized resource is ``/ACCOUNT`` + the path as sent either way, so a
path-style request signs ``/devstoreaccount1/devstoreaccount1/container/blob`` (as the SDK and
Azurite do).
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlsplit

from sai3bench.backends.azureshapes import (
    MAX_BLOCKS,
    block_id,
    block_list_params,
    build_block_list,
    container_params,
    describe,
    list_blobs_params,
    outcome_for,
    parse_error,
    parse_list_blobs,
    put_block_params,
)
from sai3bench.backends.base import ObjectInfo, OpResult
from sai3bench.backends.cloud import CloudBackend
from sai3bench.backends.ranged import RangeRead
from sai3bench.errors import ConfigError
from sai3bench.http.client import HttpClient, Reply, content_length
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT, Endpoint, endpoint_from_url
from sai3bench.outcome import OpError
from sai3bench.payload import Payload, payload_length, split_payload
from sai3bench.signers.azure import (
    MARK,
    AzureCredentials,
    BearerTokenProvider,
    SasCredentials,
    SharedKeyCredentials,
    SharedKeySigner,
    StsTemplate,
    credentials_from_env,
    rfc1123_date,
)
from sai3bench.signers.sigv4 import canonical_query as encode_query
from sai3bench.signers.sigv4 import uri_encode

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

#: The REST version pinned on every request (Azurite 3.35 accepts it without flags).
API_VERSION: Final = "2021-08-06"
#: Bytes of a response body kept for error XML; the rest of a GET body is counted and dropped.
ERROR_BODY: Final = 4096
#: PUTs larger than this go up as Put Block + Put Block List, in blocks of BLOCK_SIZE bytes.
BLOCK_THRESHOLD: Final = 64 * 1024 * 1024
BLOCK_SIZE: Final = 16 * 1024 * 1024

_ERROR_CODE: Final = b"x-ms-error-code"
_ENDPOINT_VARS: Final = ("AZURE_STORAGE_ENDPOINT", "AZURE_BLOB_ENDPOINT_URL")


def blob_endpoint(
    account: str, url: str | None, *, insecure: bool = False, source: str = "the endpoint"
) -> tuple[Endpoint, str]:
    """(endpoint, base path) for an account: the base path is what precedes ``/CONTAINER``.

    No URL: ``https://ACCOUNT.blob.core.windows.net``, base "". A URL with a path keeps it as
    the base (``http://127.0.0.1:10000/devstoreaccount1``). A URL without one is host-style when
    its first host label is the account (``https://ACCOUNT.blob.core.chinacloudapi.cn``), else
    path-style with base ``/ACCOUNT`` (``http://127.0.0.1:10000``).

    Raises:
        ConfigError: the URL is not http(s)://host[:port][/path], naming ``source``.
    """
    if not url:
        url = f"https://{account}.blob.core.windows.net"
    try:
        endpoint = endpoint_from_url(url, insecure=insecure)
        parts = urlsplit(url)
    except (ConfigError, ValueError):
        raise ConfigError(
            f"{source}={url!r} is not an Azure Blob endpoint URL",
            hint=f"set {source} to http://host:port or https://ACCOUNT.blob.core.windows.net",
        ) from None
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{source}={url!r} carries a query or fragment",
            hint="give the endpoint alone; put a SAS token in AZURE_STORAGE_SAS_TOKEN",
        )
    base = parts.path.rstrip("/")
    if not base and (parts.hostname or "").split(".", 1)[0].lower() != account.lower():
        base = "/" + account
    return endpoint, base


class AzureBackend(CloudBackend):
    """One container. Keys are blob names (no leading slash)."""

    dialect = "Azure Blob"

    def __init__(
        self,
        account: str,
        container: str,
        *,
        endpoint: Endpoint,
        credentials: AzureCredentials,
        base_path: str = "",
        max_connections: int = 64,
        timeout: float = 120.0,
        http2: bool = False,
        h2_connections: int = 2,
        block_threshold: int = BLOCK_THRESHOLD,
        block_size: int = BLOCK_SIZE,
        list_page_size: int | None = None,
    ) -> None:
        """``base_path`` precedes ``/CONTAINER`` in every path ("" host-style, ``/ACCOUNT``
        path-style; see ``blob_endpoint``). ``list_page_size`` is List Blobs' maxresults
        (None: the service default, 5,000)."""
        self.account = account
        self.container = container
        self.root_uri = f"az://{account}/{container}/"
        self.timeout = timeout
        self.block_threshold = block_threshold
        self.block_size = max(block_size, 1)
        self.list_page_size = list_page_size
        #: Refreshed by the engine once a second (needs_refresh / refresh_if_needed).
        self.credentials = credentials
        self._cpath = f"{base_path}/{quote(container, safe='')}"
        self._bpath = self._cpath + "/"
        self._http = HttpClient(
            endpoint,
            max_connections=max_connections,
            http2=http2,
            h2_connections=h2_connections,
            timeout=timeout,
        )
        # Exactly one of the three is set.
        self._signer: SharedKeySigner | None = None
        self._bearer: BearerTokenProvider | None = None
        self._sas = ""
        if isinstance(credentials, SharedKeyCredentials):
            self._signer = credentials.signer
            if self._signer.account != account:
                raise ConfigError(
                    f"the account key is for {self._signer.account!r}, not {account!r}",
                    hint="use the key of the account the az:// URI names",
                )
        elif isinstance(credentials, SasCredentials):
            self._sas = credentials.query
        else:
            self._bearer = credentials
        self._second = -1
        # Per-second state (x-ms-date changes): the fixed headers of each hot-path request
        # shape and, for Shared Key, its string-to-sign template.
        self._h_plain: list[tuple[str, str]] = []
        self._h_put: list[tuple[str, str]] = []
        self._t: dict[str, StsTemplate] = {}

    # -- request building ---------------------------------------------------------------------

    def _tick(self, now: int) -> None:
        """A new second: a new x-ms-date, so new fixed headers and templates."""
        self._second = now
        common = [("x-ms-date", rfc1123_date(now)), ("x-ms-version", API_VERSION)]
        self._h_plain = common
        self._h_put = [("x-ms-blob-type", "BlockBlob"), *common]
        signer = self._signer
        if signer is not None:
            bpath = self._bpath
            self._t = {
                "GET": signer.template("GET", bpath, common),
                "HEAD": signer.template("HEAD", bpath, common),
                "DELETE": signer.template("DELETE", bpath, common),
                "PUT": signer.template("PUT", bpath, [*self._h_put, ("content-length", MARK)]),
                "RANGE": signer.template("GET", bpath, [*common, ("x-ms-range", MARK)]),
            }

    def _blob(
        self, method: str, key: str, value: str = "", shape: str = ""
    ) -> tuple[str, builtins.list[tuple[str, str]]]:
        """(target, headers) of a blob request without a query: the hot path.

        ``value`` is the shape's one variable signed value (PUT: the Content-Length, "" for 0;
        RANGE: the x-ms-range), ``shape`` the template name when it differs from ``method``.
        """
        now = int(time.time())
        if now != self._second:
            self._tick(now)
        path = uri_encode(key, keep_slash=True)
        headers = [*(self._h_put if method == "PUT" else self._h_plain)]
        signer = self._signer
        if signer is not None:
            sts = self._t[shape or method].fill(value, path)
            headers.append(("authorization", signer.authorization(sts)))
            return self._bpath + path, headers
        bearer = self._bearer
        if bearer is not None:
            headers.append(("authorization", bearer.header))
            return self._bpath + path, headers
        return f"{self._bpath}{path}?{self._sas}", headers

    def _signed(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        extra: Sequence[tuple[str, str]],
        length: int | None,
    ) -> tuple[str, builtins.list[tuple[str, str]]]:
        """(target, headers) of any request: ``extra``, the date and version, then the auth."""
        now = int(time.time())
        if now != self._second:
            self._tick(now)
        headers = [*extra, *self._h_plain]
        qs = encode_query(query) if query else ""
        signer = self._signer
        if signer is not None:
            signed = [*headers, ("content-length", str(length))] if length else headers
            headers.append(("authorization", signer.sign(method, path, query, signed)))
        elif self._bearer is not None:
            headers.append(("authorization", self._bearer.header))
        else:
            qs = f"{qs}&{self._sas}" if qs else self._sas
        return (f"{path}?{qs}" if qs else path), headers

    async def _call(
        self,
        method: str,
        path: str,
        body: Payload | None = None,
        *,
        query: Sequence[tuple[str, str]] = (),
        extra: Sequence[tuple[str, str]] = (),
        keep_body: bool | int = ERROR_BODY,
    ) -> Reply:
        """One request off the hot path (lists, blocks, containers). Raises OpError on non-2xx."""
        length = content_length(method, body)
        target, headers = self._signed(method, path, query, extra, length)
        reply = await self._http.request(
            method,
            target,
            headers,
            body,
            length=length,
            keep_body=keep_body,
            header=_ERROR_CODE if method == "HEAD" else None,
        )
        if reply.status >= 300:
            raise _failure(reply)
        return reply

    # -- Backend ------------------------------------------------------------------------------

    async def put(self, key: str, body: Payload) -> OpResult:
        n = payload_length(body)
        if n > self.block_threshold:
            await self._put_blocks(key, body, n)
            return n, 0  # several requests: no one time to first byte
        target, headers = self._blob("PUT", key, str(n) if n else "")
        reply = await self._http.request(
            "PUT", target, headers, body, length=n, keep_body=ERROR_BODY
        )
        if reply.status >= 300:
            raise _failure(reply)
        return n, reply.first_byte_ns

    async def _put_blocks(self, key: str, body: Payload, n: int) -> None:
        """Put Block one after another (this op is one worker's one request in flight), then
        Put Block List. Blocks of a failed upload are never committed; the service drops them
        (after a week, or at the next commit to this blob)."""
        size = max(self.block_size, -(-n // MAX_BLOCKS))
        path = self._bpath + uri_encode(key, keep_slash=True)
        ids: builtins.list[str] = []
        for index, part in enumerate(split_payload(body, size)):
            block = block_id(index)
            await self._call("PUT", path, part, query=put_block_params(block))
            ids.append(block)
        await self._call("PUT", path, memoryview(build_block_list(ids)), query=block_list_params())

    async def get(self, key: str) -> OpResult:
        target, headers = self._blob("GET", key)
        reply = await self._http.request("GET", target, headers, keep_body=ERROR_BODY)
        if reply.status >= 300:
            raise _failure(reply)
        return reply.received, reply.first_byte_ns

    async def get_range(self, key: str, offset: int, length: int) -> OpResult:
        """Read ``length`` bytes from ``offset`` (x-ms-range). Returns bytes read (fewer at the
        end of the blob; a range starting past the end is OpError CLIENT_ERROR, 416)."""
        got, first_byte, _ = await self.read_range(key, offset, length)
        return got, first_byte

    async def read_range(self, key: str, offset: int, length: int) -> RangeRead:
        """``get_range`` plus the Content-Range header (range_engine learns the size from it)."""
        if offset < 0 or length < 1:
            raise ValueError(f"bad range: offset {offset}, length {length}")
        rng = f"bytes={offset}-{offset + length - 1}"
        target, headers = self._blob("GET", key, rng, "RANGE")
        headers.append(("x-ms-range", rng))
        reply = await self._http.request(
            "GET", target, headers, keep_body=ERROR_BODY, header=b"content-range"
        )
        if reply.status >= 300:
            raise _failure(reply)
        return reply.received, reply.first_byte_ns, reply.header

    async def head(self, key: str) -> OpResult:
        target, headers = self._blob("HEAD", key)
        reply = await self._http.request("HEAD", target, headers, header=_ERROR_CODE)
        if reply.status >= 300:
            raise _failure(reply)
        return reply.received, reply.first_byte_ns

    async def delete(self, key: str) -> OpResult:
        target, headers = self._blob("DELETE", key)
        reply = await self._http.request("DELETE", target, headers, keep_body=ERROR_BODY)
        if reply.status >= 300:
            raise _failure(reply)
        return 0, reply.first_byte_ns

    async def list(self, prefix: str, *, recursive: bool = True) -> builtins.list[ObjectInfo]:
        out: builtins.list[ObjectInfo] = []
        marker: str | None = None
        while True:
            params = list_blobs_params(
                prefix,
                delimiter=None if recursive else "/",
                max_results=self.list_page_size,
                marker=marker,
            )
            reply = await self._call("GET", self._cpath, query=params, keep_body=True)
            page = self._parsed(parse_list_blobs, reply.body)
            out.extend(page.blobs)
            if page.next_marker is None:
                return out
            marker = page.next_marker

    async def create_container(self) -> None:
        """Create Container (tests, the mock server); an existing container is fine."""
        try:
            await self._call("PUT", self._cpath, query=container_params())
        except OpError as exc:
            if "ContainerAlreadyExists" not in exc.detail:
                raise


def _failure(reply: Reply) -> OpError:
    err = parse_error(reply.body, reply.header)
    return OpError(
        outcome_for(reply.status, err.code if err else None), describe(reply.status, err)
    )


def azure_backend_from_env(
    account: str,
    container: str,
    *,
    max_connections: int,
    insecure: bool = False,
    http2: bool = False,
    first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
    token_credential: TokenCredential | None = None,
    env: Mapping[str, str] | None = None,
) -> AzureBackend:
    """The backend for ``az://account/container/``, configured from the environment.

    Credentials: see ``signers.azure.credentials_from_env`` (``token_credential`` is the
    bearer-token fallback). Endpoint: AZURE_STORAGE_ENDPOINT or AZURE_BLOB_ENDPOINT_URL
    (``http://127.0.0.1:10000`` or ``.../devstoreaccount1``), else the connection string's,
    else ``https://ACCOUNT.blob.core.windows.net``. Blocking when a token credential must fetch
    its first token: call it before the clock starts.

    Raises:
        ConfigError: a bad account or container name or endpoint URL.
        CredentialError: no usable credentials (one line naming the variables).
    """
    _check_names(account, container)
    env = os.environ if env is None else env
    auth = credentials_from_env(env, account, token_credential=token_credential)
    var = next((v for v in _ENDPOINT_VARS if env.get(v, "").strip()), None)
    url = env[var].strip() if var else auth.endpoint
    source = var or "the BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING"
    endpoint, base = blob_endpoint(account, url, insecure=insecure, source=source)
    endpoint = endpoint._replace(first_byte_timeout=first_byte_timeout)
    return AzureBackend(
        account,
        container,
        endpoint=endpoint,
        base_path=base,
        credentials=auth.credentials,
        max_connections=max_connections,
        http2=http2,
    )


def _check_names(account: str, container: str) -> None:
    if not (3 <= len(account) <= 24 and all(c.isdigit() or c.islower() for c in account)):
        raise ConfigError(
            f"{account!r} is not an Azure storage account name",
            hint="account names are 3-24 lower-case letters and digits: az://ACCOUNT/CONTAINER/",
        )
    if container.startswith("$"):  # $root, $web, $logs
        return
    ok = (
        3 <= len(container) <= 63
        and container.isascii()
        and container[0].isalnum()
        and container[-1].isalnum()
        and "--" not in container
        and all(c.isdigit() or c.islower() or c == "-" for c in container)
    )
    if not ok:
        raise ConfigError(
            f"{container!r} is not an Azure container name",
            hint="container names are 3-63 lower-case letters, digits and single hyphens",
        )
