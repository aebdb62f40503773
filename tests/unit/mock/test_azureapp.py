"""The mock server's Azure Blob dialect, called directly: request in, response out."""

from __future__ import annotations

import pytest

from sai3bench.backends.azureshapes import block_id, build_block_list, parse_error, parse_list_blobs
from sai3bench.backends.base import ObjectInfo
from sai3bench.mock.app import Response, header
from sai3bench.mock.azureapp import AzureApp
from sai3bench.mock.store import MemoryStore
from sai3bench.signers.azure import DEV_KEY, SharedKeySigner
from sai3bench.signers.sigv4 import canonical_query

ACCT = "devstoreaccount1"
DATE = "Sat, 28 Nov 2026 12:34:56 GMT"
PUT = [(b"x-ms-blob-type", b"BlockBlob")]


def body_of(resp: Response) -> bytes:
    return resp.body if isinstance(resp.body, bytes) else b"".join(resp.body)


def code_of(resp: Response) -> str | None:
    value = header([(n.lower().encode(), v.encode()) for n, v in resp.headers], b"x-ms-error-code")
    return value.decode() if value is not None else None


@pytest.fixture
def app() -> AzureApp:
    a = AzureApp(MemoryStore())
    assert a.handle("PUT", f"/{ACCT}/c?restype=container", [], b"", 0).status == 201
    return a


def test_container_create_exists_and_properties(app: AzureApp) -> None:
    again = app.handle("PUT", "/any/c?restype=container", [], b"", 0)
    assert again.status == 409 and code_of(again) == "ContainerAlreadyExists"
    assert app.handle("HEAD", "/any/c?restype=container", [], b"", 0).status == 200
    missing = app.handle("GET", "/any/nope?restype=container&comp=list", [], b"", 0)
    assert missing.status == 404 and code_of(missing) == "ContainerNotFound"
    err = parse_error(body_of(missing))
    assert err is not None and err.code == "ContainerNotFound"


def test_put_get_head_delete(app: AzureApp) -> None:
    path = f"/{ACCT}/c/dir/a%20b%C3%A4"
    assert app.handle("PUT", path, PUT, b"hello", 5).status == 201
    assert app.store.size("c", "dir/a bä") == 5
    got = app.handle("GET", path, [], b"", 0)
    assert (got.status, body_of(got)) == (200, b"hello")
    head = app.handle("HEAD", path, [], b"", 0)
    assert (head.status, head.length, head.body) == (200, 5, b"")
    assert ("x-ms-blob-type", "BlockBlob") in head.headers
    assert app.handle("DELETE", path, [], b"", 0).status == 202
    gone = app.handle("DELETE", path, [], b"", 0)
    assert gone.status == 404 and code_of(gone) == "BlobNotFound"


def test_head_errors_have_no_body(app: AzureApp) -> None:
    resp = app.handle("HEAD", f"/{ACCT}/c/missing", [], b"", 0)
    assert (resp.status, resp.body, resp.length, code_of(resp)) == (404, b"", 0, "BlobNotFound")
    resp = app.handle("HEAD", f"/{ACCT}/nope/x", [], b"", 0)
    assert (resp.status, resp.body, code_of(resp)) == (404, b"", "ContainerNotFound")


def test_put_needs_the_blob_type(app: AzureApp) -> None:
    resp = app.handle("PUT", f"/{ACCT}/c/k", [], b"x", 1)
    assert resp.status == 400 and code_of(resp) == "MissingRequiredHeader"
    resp = app.handle("PUT", f"/{ACCT}/c/k", [(b"x-ms-blob-type", b"PageBlob")], b"x", 1)
    assert resp.status == 400 and b"not supported" in body_of(resp)


@pytest.mark.parametrize("name", [b"x-ms-range", b"range"])
def test_ranges(app: AzureApp, name: bytes) -> None:
    app.handle("PUT", f"/{ACCT}/c/k", PUT, b"0123456789", 10)
    resp = app.handle("GET", f"/{ACCT}/c/k", [(name, b"bytes=2-4")], b"", 0)
    assert (resp.status, body_of(resp)) == (206, b"234")
    assert ("Content-Range", "bytes 2-4/10") in resp.headers
    resp = app.handle("GET", f"/{ACCT}/c/k", [(name, b"bytes=7-")], b"", 0)
    assert body_of(resp) == b"789"
    resp = app.handle("GET", f"/{ACCT}/c/k", [(name, b"bytes=8-100")], b"", 0)
    assert body_of(resp) == b"89"
    resp = app.handle("GET", f"/{ACCT}/c/k", [(name, b"bytes=10-11")], b"", 0)
    assert resp.status == 416 and code_of(resp) == "InvalidRange"
    resp = app.handle("GET", f"/{ACCT}/c/k", [(name, b"bytes=-3")], b"", 0)
    assert resp.status == 400


def test_x_ms_range_wins(app: AzureApp) -> None:
    app.handle("PUT", f"/{ACCT}/c/k", PUT, b"0123456789", 10)
    hdrs = [(b"range", b"bytes=0-0"), (b"x-ms-range", b"bytes=9-9")]
    assert body_of(app.handle("GET", f"/{ACCT}/c/k", hdrs, b"", 0)) == b"9"


def test_blocks_commit_in_list_order(app: AzureApp) -> None:
    ids = [block_id(i) for i in range(3)]
    for bid, data in zip(ids, (b"aa", b"bb", b"cc"), strict=True):
        query = canonical_query([("comp", "block"), ("blockid", bid)])
        assert app.handle("PUT", f"/{ACCT}/c/big?{query}", [], data, len(data)).status == 201
    assert app.store.size("c", "big") is None  # nothing visible before the commit
    order = build_block_list([ids[2], ids[0], ids[1]])
    resp = app.handle("PUT", f"/{ACCT}/c/big?comp=blocklist", [], order, len(order))
    assert resp.status == 201
    assert body_of(app.handle("GET", f"/{ACCT}/c/big", [], b"", 0)) == b"ccaabb"
    assert app._blocks == {}


def test_block_list_errors(app: AzureApp) -> None:
    body = build_block_list([block_id(5)])
    resp = app.handle("PUT", f"/{ACCT}/c/k?comp=blocklist", [], body, len(body))
    assert resp.status == 400 and code_of(resp) == "InvalidBlockList"
    resp = app.handle("PUT", f"/{ACCT}/c/k?comp=blocklist", [], b"<nope", 5)
    assert resp.status == 400 and code_of(resp) == "InvalidXmlDocument"
    resp = app.handle("PUT", f"/{ACCT}/c/k?comp=block", [], b"x", 1)
    assert resp.status == 400  # no blockid
    app.handle("PUT", f"/{ACCT}/c/k?comp=block&blockid=YWJj", [], b"x", 1)
    resp = app.handle("PUT", f"/{ACCT}/c/k?comp=block&blockid=YWJjZA%3D%3D", [], b"x", 1)
    assert resp.status == 400 and code_of(resp) == "InvalidBlobOrBlock"


def test_sink_mode_keeps_sizes_only() -> None:
    store = MemoryStore(sink=True)
    app = AzureApp(store)
    app.handle("PUT", f"/{ACCT}/c?restype=container", [], b"", 0)
    assert app.handle("PUT", f"/{ACCT}/c/k", PUT, b"", 4096).status == 201
    assert store.size("c", "k") == 4096
    ids = [block_id(0), block_id(1)]
    for bid in ids:
        app.handle(
            "PUT",
            f"/{ACCT}/c/big?{canonical_query([('comp', 'block'), ('blockid', bid)])}",
            [],
            b"",
            1000,
        )
    body = build_block_list(ids)
    assert app.handle("PUT", f"/{ACCT}/c/big?comp=blocklist", [], body, len(body)).status == 201
    assert store.size("c", "big") == 2000
    got = app.handle("GET", f"/{ACCT}/c/big", [], b"", 0)
    assert got.length == 2000 and len(body_of(got)) == 2000


def test_list_pages_prefix_and_delimiter(app: AzureApp) -> None:
    for name in ("a/1", "a/2", "a/3", "b/1", "top"):
        app.handle("PUT", f"/{ACCT}/c/{name}", PUT, b"xy", 2)
    listed: list[ObjectInfo] = []
    marker = ""
    pages = 0
    while True:
        query = "restype=container&comp=list&prefix=a%2F&maxresults=2"
        if marker:
            query += "&marker=" + marker
        resp = app.handle("GET", f"/{ACCT}/c?{query}", [], b"", 0)
        page = parse_list_blobs(body_of(resp))
        listed += page.blobs
        pages += 1
        if page.next_marker is None:
            break
        marker = page.next_marker
    assert pages == 2 and listed == [ObjectInfo(f"a/{i}", 2) for i in (1, 2, 3)]
    resp = app.handle("GET", f"/{ACCT}/c?restype=container&comp=list&delimiter=%2F", [], b"", 0)
    page = parse_list_blobs(body_of(resp))
    assert page.blobs == [ObjectInfo("top", 2)] and page.prefixes == ["a/", "b/"]
    bad = app.handle("GET", f"/{ACCT}/c?restype=container&comp=list&marker=A", [], b"", 0)
    assert bad.status == 400


def test_fault_wording() -> None:
    app = AzureApp()
    busy = app.fault(503, "/a/c/k", [])
    assert busy.status == 503 and code_of(busy) == "ServerBusy"
    assert code_of(app.fault(500, "/a/c/k", [])) == "InternalError"


# --- Shared Key checking -------------------------------------------------------------------


def signed(
    signer: SharedKeySigner, method: str, path: str, query: list[tuple[str, str]], length: int = 0
) -> tuple[str, list[tuple[bytes, bytes]]]:
    headers = [("x-ms-date", DATE), ("x-ms-version", "2021-08-06")]
    if method == "PUT":
        headers.append(("x-ms-blob-type", "BlockBlob"))
    wire = [*headers, ("content-length", str(length))] if length else headers
    auth = signer.sign(method, path, query, wire)
    target = f"{path}?{canonical_query(query)}" if query else path
    sent = [*wire, ("authorization", auth)]
    return target, [(n.lower().encode(), v.encode()) for n, v in sent]


def test_shared_key_is_checked() -> None:
    app = AzureApp(account=ACCT, key=DEV_KEY)
    good = SharedKeySigner(ACCT, DEV_KEY)
    target, hdrs = signed(good, "PUT", f"/{ACCT}/c", [("restype", "container")])
    assert app.handle("PUT", target, hdrs, b"", 0).status == 201
    target, hdrs = signed(good, "PUT", f"/{ACCT}/c/a%20b", [], 3)
    assert app.handle("PUT", target, hdrs, b"abc", 3).status == 201
    query = [("restype", "container"), ("comp", "list"), ("prefix", "a b/ä")]
    target, hdrs = signed(good, "GET", f"/{ACCT}/c", query)
    assert app.handle("GET", target, hdrs, b"", 0).status == 200

    wrong = SharedKeySigner(ACCT, "AAAA" + DEV_KEY[4:])
    target, hdrs = signed(wrong, "GET", f"/{ACCT}/c/a%20b", [])
    resp = app.handle("GET", target, hdrs, b"", 0)
    assert resp.status == 403 and code_of(resp) == "AuthenticationFailed"
    assert b"Server failed to authenticate" in body_of(resp)
    head = app.handle("HEAD", target, hdrs, b"", 0)
    assert (head.status, head.body, code_of(head)) == (403, b"", "AuthenticationFailed")

    target, hdrs = signed(good, "GET", f"/{ACCT}/c/a%20b", [])
    tampered = [(n, v) for n, v in hdrs if n != b"x-ms-date"] + [(b"x-ms-date", b"later")]
    assert app.handle("GET", target, tampered, b"", 0).status == 403
    assert app.handle("GET", target.replace("a%20b", "other"), hdrs, b"", 0).status == 403
    no_auth = [(n, v) for n, v in hdrs if n != b"authorization"]
    assert app.handle("GET", target, no_auth, b"", 0).status == 403
    other = SharedKeySigner("someone", DEV_KEY)
    target, hdrs = signed(other, "GET", f"/{ACCT}/c/a%20b", [])
    assert app.handle("GET", target, hdrs, b"", 0).status == 403


def test_key_needs_an_account() -> None:
    with pytest.raises(ValueError, match="account"):
        AzureApp(key=DEV_KEY)
