"""The mock server's GCS dialect, called directly: requests in, responses out, no sockets."""

from __future__ import annotations

import json

import pytest

from sai3bench.mock.app import Response
from sai3bench.mock.gcsapp import GcsApp
from sai3bench.mock.store import MemoryStore

HOST = [(b"host", b"127.0.0.1:9")]


def body_of(resp: Response) -> bytes:
    return resp.body if isinstance(resp.body, bytes) else b"".join(bytes(v) for v in resp.body)


def doc_of(resp: Response) -> dict[str, object]:
    return json.loads(body_of(resp))  # type: ignore[no-any-return]


def reason_of(resp: Response) -> str:
    return doc_of(resp)["error"]["errors"][0]["reason"]  # type: ignore[index]


@pytest.fixture
def app() -> GcsApp:
    a = GcsApp(MemoryStore())
    a.store.create_bucket("bench")
    return a


def put(app: GcsApp, name: str, data: bytes) -> Response:
    target = f"/upload/storage/v1/b/bench/o?uploadType=media&name={name}"
    return app.handle("POST", target, HOST, data, len(data))


def get(app: GcsApp, target: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return app.handle("GET", target, headers or [], b"", 0)


def test_bucket_insert_and_conflict():
    app = GcsApp(MemoryStore())
    resp = app.handle("POST", "/storage/v1/b?project=p", [], b'{"name":"new"}', 14)
    assert resp.status == 200 and doc_of(resp)["name"] == "new"
    assert app.store.has_bucket("new")
    again = app.handle("POST", "/storage/v1/b?project=p", [], b'{"name":"new"}', 14)
    assert again.status == 409 and reason_of(again) == "conflict"
    assert app.handle("POST", "/storage/v1/b", [], b"{", 1).status == 400
    assert reason_of(app.handle("POST", "/storage/v1/b", [], b"{}", 2)) == "required"
    assert get(app, "/storage/v1/b/new").status == 200


def test_media_upload_then_read_back(app):
    resp = put(app, "dir%2Fa%20b%C3%BC", b"hello world")
    assert resp.status == 200
    assert doc_of(resp)["size"] == "11" and doc_of(resp)["name"] == "dir/a bü"
    assert app.store.size("bench", "dir/a bü") == 11
    data = get(app, "/storage/v1/b/bench/o/dir%2Fa%20b%C3%BC?alt=media")
    assert (data.status, body_of(data), data.length) == (200, b"hello world", 11)
    same = get(app, "/download/storage/v1/b/bench/o/dir%2Fa%20b%C3%BC")
    assert body_of(same) == b"hello world"
    meta = get(app, "/storage/v1/b/bench/o/dir%2Fa%20b%C3%BC?fields=size")
    assert meta.status == 200 and doc_of(meta)["size"] == "11"  # fields accepted, not applied


@pytest.mark.parametrize(
    ("spec", "status", "content", "content_range"),
    [
        (b"bytes=0-4", 206, b"hello", "bytes 0-4/11"),
        (b"bytes=6-", 206, b"world", "bytes 6-10/11"),
        (b"bytes=-5", 206, b"world", "bytes 6-10/11"),
        (b"bytes=6-100", 206, b"world", "bytes 6-10/11"),
        (b"bytes=11-", 416, None, None),
        (b"bytes=x", 416, None, None),
    ],
)
def test_ranged_get(app, spec, status, content, content_range):
    put(app, "k", b"hello world")
    resp = get(app, "/storage/v1/b/bench/o/k?alt=media", [(b"range", spec)])
    assert resp.status == status
    if content is not None:
        assert body_of(resp) == content
        assert dict(resp.headers)["Content-Range"] == content_range
    else:
        assert reason_of(resp) == "requestedRangeNotSatisfiable"


def test_delete(app):
    put(app, "k", b"x")
    assert app.handle("DELETE", "/storage/v1/b/bench/o/k", [], b"", 0).status == 204
    gone = app.handle("DELETE", "/storage/v1/b/bench/o/k", [], b"", 0)
    assert gone.status == 404 and reason_of(gone) == "notFound"
    assert get(app, "/storage/v1/b/bench/o/k?alt=media").status == 404


def test_missing_bucket_and_bad_paths(app):
    resp = get(app, "/storage/v1/b/nope/o/k?alt=media")
    assert resp.status == 404 and "bucket does not exist" in doc_of(resp)["error"]["message"]  # type: ignore[index]
    assert get(app, "/elsewhere").status == 404
    assert get(app, "/storage/v1/b/bench/x").status == 404
    assert app.handle("PUT", "/storage/v1/b/bench/o/k", [], b"", 0).status == 405


def test_list_pages_and_prefixes(app):
    names = [f"p/{i:02}" for i in range(5)] + ["p/sub/a", "p/sub/b", "q"]
    for n in names:
        put(app, n.replace("/", "%2F"), b"xy")
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        query = "prefix=p%2F&maxResults=2&fields=items(name%2Csize)%2CnextPageToken"
        resp = get(app, f"/storage/v1/b/bench/o?{query}" + (f"&pageToken={token}" if token else ""))
        doc = doc_of(resp)
        seen += [item["name"] for item in doc.get("items", [])]  # type: ignore[attr-defined]
        assert all(item["size"] == "2" for item in doc.get("items", []))  # type: ignore[attr-defined]
        pages += 1
        token = doc.get("nextPageToken", "")  # type: ignore[assignment]
        if not token:
            break
    assert seen == names[:-1] and pages == 4
    one_level = doc_of(get(app, "/storage/v1/b/bench/o?prefix=p%2F&delimiter=%2F"))
    assert [i["name"] for i in one_level["items"]] == names[:5]  # type: ignore[attr-defined]
    assert one_level["prefixes"] == ["p/sub/"]
    assert "items" not in doc_of(get(app, "/storage/v1/b/bench/o?prefix=zzz"))
    assert get(app, "/storage/v1/b/bench/o?pageToken=A").status == 400


def start_session(app: GcsApp, name: str = "big") -> str:
    target = f"/upload/storage/v1/b/bench/o?uploadType=resumable&name={name}"
    resp = app.handle("POST", target, HOST, b"", 0)
    assert resp.status == 200 and resp.length == 0
    location = dict(resp.headers)["Location"]
    assert location.startswith("http://127.0.0.1:9/upload/storage/v1/b/bench/o?")
    return location.removeprefix("http://127.0.0.1:9")


def chunk(app: GcsApp, session: str, data: bytes, spec: str, size: int | None = None) -> Response:
    headers = [(b"content-range", spec.encode())]
    return app.handle("PUT", session, headers, data, len(data) if size is None else size)


def test_resumable_upload(app):
    session = start_session(app, "a%2Fbig")
    data = bytes(range(256)) * 10
    first = chunk(app, session, data[:1024], "bytes 0-1023/2560")
    assert first.status == 308 and dict(first.headers)["Range"] == "bytes=0-1023"
    # A resend that overlaps what the server holds is accepted; only the new bytes count.
    second = chunk(app, session, data[512:2048], "bytes 512-2047/2560")
    assert second.status == 308 and dict(second.headers)["Range"] == "bytes=0-2047"
    assert app.store.size("bench", "a/big") is None  # nothing visible before the last byte
    last = chunk(app, session, data[2048:], "bytes 2048-2559/2560")
    assert last.status == 200 and doc_of(last)["size"] == "2560"
    assert body_of(get(app, "/storage/v1/b/bench/o/a%2Fbig?alt=media")) == data
    assert app._uploads == {}
    assert chunk(app, session, b"x", "bytes 0-0/1").status == 404  # the session is over


def test_resumable_unknown_total_then_finish(app):
    session = start_session(app)
    resp = chunk(app, session, b"abc", "bytes 0-2/*")
    assert resp.status == 308 and dict(resp.headers)["Range"] == "bytes=0-2"
    done = chunk(app, session, b"", "bytes */3")
    assert done.status == 200 and app.store.size("bench", "big") == 3


def test_resumable_refusals(app):
    session = start_session(app)
    empty = chunk(app, session, b"", "bytes */*")
    assert empty.status == 308 and "Range" not in dict(empty.headers)  # nothing received yet
    assert chunk(app, session, b"ab", "bytes 5-6/10").status == 400  # a gap
    assert chunk(app, session, b"ab", "bytes 0-2/10").status == 400  # length mismatch
    assert chunk(app, session, b"ab", "nonsense").status == 400
    assert app.handle("DELETE", session, [], b"", 0).status == 499  # cancelled
    assert app._uploads == {}
    assert app.handle("PUT", session, [], b"", 0).status == 404


def test_sink_mode_counts_sizes():
    app = GcsApp(MemoryStore(sink=True))
    app.store.create_bucket("bench")
    resp = app.handle("POST", "/upload/storage/v1/b/bench/o?uploadType=media&name=s", [], b"", 4096)
    assert resp.status == 200 and app.store.size("bench", "s") == 4096
    session = start_session(app, "r")
    assert chunk(app, session, b"", "bytes 0-262143/300000", size=262144).status == 308
    assert chunk(app, session, b"", "bytes 262144-299999/300000", size=37856).status == 200
    assert app.store.size("bench", "r") == 300000
    assert get(app, "/storage/v1/b/bench/o/r?alt=media").length == 300000


def test_fault_is_gcs_error_json(app):
    resp = app.fault(503, "/x", [])
    assert resp.status == 503 and reason_of(resp) == "backendError"
    assert reason_of(app.fault(429, "/x", [])) == "rateLimitExceeded"


def test_upload_refusals(app):
    base = "/upload/storage/v1/b/bench/o"
    assert app.handle("POST", f"{base}?uploadType=media", [], b"", 0).status == 400
    assert app.handle("POST", f"{base}?uploadType=multipart&name=k", [], b"", 0).status == 400
    assert app.handle("GET", f"{base}?uploadType=media&name=k", [], b"", 0).status == 405
    assert app.handle("POST", "/upload/storage/v1/b/bench/x", [], b"", 0).status == 404
    assert app.handle("POST", "/upload/storage/v1/b", [], b'{"name":"x"}', 12).status == 404
    assert not app.store.has_bucket("x")
