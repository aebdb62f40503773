"""Azure Blob request and response shapes: List Blobs pages (fast path against ElementTree),
block ids and lists, error documents and their outcomes."""

from __future__ import annotations

import base64
import os
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from sai3bench.backends import azureshapes
from sai3bench.backends.azureshapes import (
    MAX_BLOCKS,
    AzureError,
    AzureMalformedResponse,
    BlobPage,
    block_id,
    block_list_params,
    build_block_list,
    container_params,
    describe,
    is_auth_failure,
    list_blobs_params,
    outcome_for,
    parse_block_list,
    parse_error,
    parse_list_blobs,
    put_block_params,
)
from sai3bench.backends.base import ObjectInfo
from sai3bench.mock.azureapp import AzureApp
from sai3bench.mock.store import MemoryStore
from sai3bench.outcome import Outcome

SEED = int(os.environ.get("SAI3_TEST_SEED", "20261128"))

# As Azurite 3.35 writes a page (one blob, one prefix, a next marker), trimmed to two blobs.
AZURITE_PAGE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><EnumerationResults '
    b'ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="cont"><Prefix/>'
    b"<Marker/><MaxResults>2</MaxResults><Delimiter>/</Delimiter><Blobs><Blob><Name>a &amp; b"
    b"</Name><Properties><Creation-Time>Sat, 28 Nov 2026 11:13:44 GMT</Creation-Time>"
    b"<Etag>0x1DF63745BCE5920</Etag><Content-Length>11</Content-Length><Content-Type>"
    b"application/octet-stream</Content-Type><Content-MD5>XrY7u+Ae7tCTyyK7j1rNww==</Content-MD5>"
    b"<BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus></Properties></Blob>"
    b"<BlobPrefix><Name>dir/</Name></BlobPrefix></Blobs><NextMarker>2!64!MDAwMDI0</NextMarker>"
    b"</EnumerationResults>"
)

# As Azure documents it: indented, BOM, empty NextMarker, metadata and an Encoded name.
AZURE_PAGE = (
    "\ufeff<?xml version='1.0' encoding='utf-8'?>\n"
    '<EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" '
    'ContainerName="c">\n  <Blobs>\n    <Blob>\n      <Name>plain.txt</Name>\n'
    "      <Properties>\n        <Content-Length>0</Content-Length>\n      </Properties>\n"
    "      <Metadata><Name>not a blob</Name></Metadata>\n    </Blob>\n"
    '    <Blob>\n      <Name Encoded="true">odd%01name%C3%A4</Name>\n      <Properties>\n'
    "        <Content-Length>1024</Content-Length>\n      </Properties>\n    </Blob>\n"
    "  </Blobs>\n  <NextMarker />\n</EnumerationResults>\n"
).encode()


def tree(body: bytes) -> BlobPage:
    """The ElementTree path alone."""
    return azureshapes._tree_list(body.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip())


def test_azurite_page_takes_the_fast_path() -> None:
    with mock.patch.object(azureshapes, "_tree_list", side_effect=AssertionError):
        page = parse_list_blobs(AZURITE_PAGE)
    assert page == BlobPage([ObjectInfo("a & b", 11)], ["dir/"], "2!64!MDAwMDI0")
    assert tree(AZURITE_PAGE) == page


def test_encoded_names_defer_to_the_tree_and_decode() -> None:
    assert azureshapes._fast_list(AZURE_PAGE.removeprefix(b"\xef\xbb\xbf")) is None
    page = parse_list_blobs(AZURE_PAGE)
    assert page == BlobPage(
        [ObjectInfo("plain.txt", 0), ObjectInfo("odd\x01nameä", 1024)], [], None
    )


def test_empty_last_page() -> None:
    body = b'<?xml version="1.0"?><EnumerationResults><Blobs /><NextMarker /></EnumerationResults>'
    assert parse_list_blobs(body) == BlobPage([], [], None)
    assert tree(body) == BlobPage([], [], None)


def test_blob_without_a_size_lists_as_minus_one() -> None:
    body = b"<EnumerationResults><Blobs><Blob><Name>x</Name></Blob></Blobs></EnumerationResults>"
    assert parse_list_blobs(body) == BlobPage([ObjectInfo("x", -1)], [], None)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<EnumerationResults><Blobs><Blob><Name>x</Name>",  # cut off
        b"<Error><Code>X</Code></Error>",
        b"<EnumerationResults><Blobs><Blob><Name>x</Name><Properties><Content-Length>ten"
        b"</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
        b"<EnumerationResults><Blobs><Blob><Properties/></Blob></Blobs></EnumerationResults>",
    ],
)
def test_malformed_pages(body: bytes) -> None:
    with pytest.raises(AzureMalformedResponse) as err:
        parse_list_blobs(body)
    assert err.value.outcome == Outcome.PROTOCOL


@seed(SEED)
@settings(max_examples=120, deadline=None)
@given(
    names=st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=12), max_size=12),
    delimiter=st.booleans(),
    page_size=st.integers(1, 6),
)
def test_mock_pages_parse_the_same_both_ways(
    names: list[str], delimiter: bool, page_size: int
) -> None:
    """Every page the mock writes parses, by either path, to what the store holds."""
    store = MemoryStore()
    store.create_bucket("c")
    for i, name in enumerate(names):
        store.put("c", name, b"x" * i)
    app = AzureApp(store)
    seen: list[ObjectInfo] = []
    prefixes: list[str] = []
    marker = None
    while True:
        params = list_blobs_params(
            "", delimiter="/" if delimiter else None, max_results=page_size, marker=marker
        )
        query = "&".join(f"{n}={quote(v, safe='')}" for n, v in params)
        resp = app.handle("GET", f"/acct/c?{query}", [], b"", 0)
        assert resp.status == 200 and isinstance(resp.body, bytes)
        page = parse_list_blobs(resp.body)
        assert page == tree(resp.body)
        seen += page.blobs
        prefixes += page.prefixes
        if page.next_marker is None:
            break
        marker = page.next_marker
    expect = {n: len(b"x" * i) for i, n in enumerate(names)}
    if delimiter:
        expect = {n: s for n, s in expect.items() if "/" not in n}
        assert prefixes == sorted({n[: n.index("/") + 1] for n in names if "/" in n})
    assert seen == [ObjectInfo(n, expect[n]) for n in sorted(expect)]


# --- query parameters, blocks --------------------------------------------------------------


def test_list_params() -> None:
    assert list_blobs_params("") == [("restype", "container"), ("comp", "list")]
    assert list_blobs_params("p/", delimiter="/", max_results=5, marker="m") == [
        ("restype", "container"),
        ("comp", "list"),
        ("prefix", "p/"),
        ("delimiter", "/"),
        ("maxresults", "5"),
        ("marker", "m"),
    ]
    for bad in (0, 5001):
        with pytest.raises(ValueError, match="max_results"):
            list_blobs_params("", max_results=bad)
    assert container_params() == [("restype", "container")]
    assert block_list_params() == [("comp", "blocklist")]
    assert put_block_params("YQ==") == [("comp", "block"), ("blockid", "YQ==")]


def test_block_ids_are_fixed_width_base64_and_distinct() -> None:
    ids = [block_id(i) for i in (0, 1, 9, 10, MAX_BLOCKS - 1)]
    assert len(set(ids)) == len(ids)
    assert {len(i) for i in ids} == {24}
    assert base64.b64decode(ids[2]) == b"block-000000000009"
    with pytest.raises(ValueError):
        block_id(MAX_BLOCKS)
    with pytest.raises(ValueError):
        block_id(-1)


def test_block_list_round_trip() -> None:
    ids = [block_id(i) for i in range(3)]
    body = build_block_list(ids)
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>')
    assert parse_block_list(body) == ids
    assert parse_block_list(
        b"<BlockList><Committed>a</Committed><Uncommitted> b </Uncommitted></BlockList>"
    ) == ["a", "b"]
    with pytest.raises(ValueError):
        build_block_list([])
    with pytest.raises(ValueError, match="not base64"):
        build_block_list(["<x>"])
    for bad in (b"<Nope/>", b"junk"):
        with pytest.raises(AzureMalformedResponse):
            parse_block_list(bad)


# --- errors --------------------------------------------------------------------------------

AUTH_ERROR = (
    b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
    b"<Message>Server failed to authenticate the request. Make sure the value of Authorization "
    b"header is formed correctly including the signature.\nRequestId:0f1e\nTime:2026-11-28T12:"
    b"34:56.000Z</Message><AuthenticationErrorDetail>The MAC signature found in the HTTP request "
    b"'abc' is not the same as any computed signature.</AuthenticationErrorDetail></Error>"
)


def test_parse_error_and_describe() -> None:
    err = parse_error(AUTH_ERROR)
    assert err is not None and err.code == "AuthenticationFailed"
    line = describe(403, err)
    assert line.startswith("403 AuthenticationFailed: Server failed to authenticate the request.")
    assert "RequestId" not in line and "\n" not in line and len(line) <= 230
    assert "(The MAC signature" in line


def test_parse_error_falls_back_to_the_header_code() -> None:
    assert parse_error(b"", b"BlobNotFound") == AzureError("BlobNotFound")
    assert describe(404, AzureError("BlobNotFound")) == "404 BlobNotFound"
    assert parse_error(b"<html>bad gateway</html>", b"") is None
    assert parse_error(b"<Error><Code></Code></Error>") is None
    assert describe(502, None) == "502 Bad Gateway"
    assert describe(599, None) == "599 (no Azure error body)"


def test_describe_cuts_long_messages() -> None:
    line = describe(500, AzureError("InternalError", "x" * 1000))
    assert line.endswith("...") and len(line) < 230


@pytest.mark.parametrize(
    "status,code,outcome",
    [
        (404, "BlobNotFound", Outcome.NOT_FOUND),
        (404, "ContainerNotFound", Outcome.NOT_FOUND),
        (404, None, Outcome.NOT_FOUND),
        (403, "AuthenticationFailed", Outcome.PERMISSION),
        (403, "AuthorizationFailure", Outcome.PERMISSION),
        (403, "AuthorizationPermissionMismatch", Outcome.PERMISSION),
        (400, "InvalidAuthenticationInfo", Outcome.PERMISSION),
        (401, "NoAuthenticationInformation", Outcome.PERMISSION),
        (403, None, Outcome.PERMISSION),
        (503, "ServerBusy", Outcome.THROTTLED),
        (503, None, Outcome.THROTTLED),
        (500, "OperationTimedOut", Outcome.THROTTLED),
        (500, "InternalError", Outcome.SERVER_ERROR),
        (500, None, Outcome.SERVER_ERROR),
        (429, None, Outcome.THROTTLED),
        (408, None, Outcome.TIMEOUT),
        (409, "ContainerAlreadyExists", Outcome.CLIENT_ERROR),
        (416, "InvalidRange", Outcome.CLIENT_ERROR),
        (400, "InvalidHeaderValue", Outcome.CLIENT_ERROR),
        (200, None, Outcome.OK),
        (200, "InternalError", Outcome.SERVER_ERROR),
        (100, None, Outcome.PROTOCOL),
    ],
)
def test_outcomes(status: int, code: str | None, outcome: Outcome) -> None:
    assert outcome_for(status, code) == outcome


def test_auth_failures() -> None:
    assert is_auth_failure(403, "AuthenticationFailed")
    assert is_auth_failure(401, None)
    assert not is_auth_failure(403, "AuthorizationPermissionMismatch")
    assert not is_auth_failure(403, None)
