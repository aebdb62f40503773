"""S3Backend reuses a plain GET/HEAD signature within one second and one credential only."""

from __future__ import annotations

import asyncio

import pytest

from sai3bench.backends import s3
from sai3bench.backends.s3 import S3Backend
from sai3bench.http.client import Reply
from sai3bench.http.endpoint import Endpoint
from sai3bench.signers.base import Credential
from sai3bench.signers.sigv4 import UNSIGNED_PAYLOAD, SigV4Signer, amz_date_from_epoch


class Creds:
    def __init__(self) -> None:
        self.cred = Credential("AKID", "secret")

    def current(self) -> Credential:
        return self.cred

    def needs_refresh(self, now: float) -> bool:
        return False

    async def refresh_if_needed(self, now: float) -> None:
        return None


def test_reuse_within_a_second_and_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_700_000_000.2]
    monkeypatch.setattr(s3.time, "time", lambda: clock[0])
    creds = Creds()
    b = S3Backend(
        "bkt", endpoint=Endpoint("127.0.0.1", 9000), region="us-east-1", credentials=creds
    )
    first = b._signed("GET", "dir/k 1", (), ())
    assert b._signed("GET", "dir/k 1", (), ())[1] is first[1]  # same second: reused
    assert b._signed("HEAD", "dir/k 1", (), ())[1] is not first[1]  # another method signs anew
    fresh = SigV4Signer("us-east-1").sign(
        "GET",
        "127.0.0.1:9000",
        "/bkt/dir/k%201",
        "",
        (),
        UNSIGNED_PAYLOAD,
        amz_date_from_epoch(1_700_000_000),
        creds.cred,
    )
    assert first == ("/bkt/dir/k%201", fresh)  # the cached value is the real signature
    ranged = b._signed("GET", "dir/k 1", (), (("range", "bytes=0-1"),))
    assert ranged[1] is not first[1] and ("range", "bytes=0-1") in ranged[1]
    clock[0] += 1.0
    assert b._signed("GET", "dir/k 1", (), ()) != first  # next second: new x-amz-date
    second = b._signed("GET", "dir/k 1", (), ())
    creds.cred = Credential("AKID2", "other")  # a refresh swaps the snapshot
    assert b._signed("GET", "dir/k 1", (), ()) != second


def test_a_cached_read_keeps_its_head_with_its_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP/1.1 head of a cached plain read is the one the client builds from the cached
    target and headers, kept with them: reused within the second, rebuilt with them after."""
    clock = [1_700_000_000.2]
    monkeypatch.setattr(s3.time, "time", lambda: clock[0])
    b = S3Backend(
        "bkt", endpoint=Endpoint("127.0.0.1", 9000), region="us-east-1", credentials=Creds()
    )
    target, headers, head = b._read_request("GET", "dir/k 1")
    assert head == b._http.head_of("GET", target, headers)
    assert head.startswith(b"GET /bkt/dir/k%201 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n")
    assert b._read_request("GET", "dir/k 1")[2] is head
    clock[0] += 1.0
    target2, headers2, head2 = b._read_request("GET", "dir/k 1")
    assert head2 != head and head2 == b._http.head_of("GET", target2, headers2)


def test_head_sends_the_cached_head_and_http2_builds_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A HEAD (STAT) sends its cached HTTP/1.1 head as GET does (it was built again each op);
    over HTTP/2 no head is built (none is sent)."""
    monkeypatch.setattr(s3.time, "time", lambda: 1_700_000_000.2)
    b = S3Backend(
        "bkt", endpoint=Endpoint("127.0.0.1", 9000), region="us-east-1", credentials=Creds()
    )
    sent: list[bytes | None] = []

    async def request(method: str, target: str, headers: object, *a: object, **kw: object) -> Reply:
        sent.append(kw.get("head"))  # type: ignore[arg-type]
        return Reply(200, 7, b"", b"", 1)

    monkeypatch.setattr(b._http, "request", request)
    assert asyncio.run(b.head("dir/k")) == (7, 1)
    assert sent == [b._read_request("HEAD", "dir/k")[2]] and sent[0] is not None
    h2 = S3Backend(
        "bkt",
        endpoint=Endpoint("127.0.0.1", 9000),
        region="us-east-1",
        credentials=Creds(),
        http2=True,
    )
    assert h2._read_request("GET", "dir/k")[2] is None
