"""DialectRouter: GCS by path, Azure by x-ms-version, S3 otherwise; faults in each dialect."""

from __future__ import annotations

from sai3bench.mock.app import Headers, Response
from sai3bench.mock.router import DialectRouter


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        return Response(200, [("x-app", self.name)], b"", 0)

    def fault(self, status: int, target: str, headers: Headers) -> Response:
        return Response(status, [("x-app", self.name)], b"", 0)


def _app(router: DialectRouter, target: str, headers: Headers = ()) -> str:
    return router.handle("GET", target, headers, b"", 0).headers[0][1]


def test_routes_by_path_and_header() -> None:
    r = DialectRouter(Named("s3"), Named("gcs"), Named("az"))  # type: ignore[arg-type]
    assert _app(r, "/storage/v1/b/bkt/o/k?alt=media") == "gcs"
    assert _app(r, "/upload/storage/v1/b/bkt/o?uploadType=media&name=k") == "gcs"
    assert _app(r, "/download/storage/v1/b/bkt/o/k") == "gcs"
    assert _app(r, "/acct/cont/blob", [(b"x-ms-version", b"2021-08-06")]) == "az"
    assert _app(r, "/bkt/storage/v1/key", [(b"host", b"h")]) == "s3"
    assert r.fault(503, "/storage/v1/b/x/o", ()).headers[0][1] == "gcs"


def test_missing_dialects_fall_back_to_s3() -> None:
    r = DialectRouter(Named("s3"))  # type: ignore[arg-type]
    assert _app(r, "/storage/v1/b/bkt/o/k") == "s3"
    assert _app(r, "/a/c/b", [(b"x-ms-version", b"1")]) == "s3"
