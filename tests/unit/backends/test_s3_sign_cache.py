"""S3Backend reuses a plain GET/HEAD signature within one second and one credential only."""

from __future__ import annotations

import pytest

from sai3bench.backends import s3
from sai3bench.backends.s3 import S3Backend
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
    assert b._signed("GET", "dir/k 1", (), ()) is first  # same second: reused
    assert b._signed("HEAD", "dir/k 1", (), ()) is not first  # another method signs anew
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
    assert ranged is not first and ("range", "bytes=0-1") in ranged[1]
    clock[0] += 1.0
    assert b._signed("GET", "dir/k 1", (), ()) != first  # next second: new x-amz-date
    second = b._signed("GET", "dir/k 1", (), ())
    creds.cred = Credential("AKID2", "other")  # a refresh swaps the snapshot
    assert b._signed("GET", "dir/k 1", (), ()) != second
