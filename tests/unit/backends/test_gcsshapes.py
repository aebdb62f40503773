"""GCS JSON API shapes: the documented URL forms, name encoding, JSON replies, the outcome table.

The expected targets are the forms the JSON API reference gives
(https://cloud.google.com/storage/docs/json_api/v1/objects): object names are URL-encoded as
one path segment (``pets/dog.png`` -> ``pets%2Fdog.png``), uploads go to ``/upload/storage/v1``
with ``uploadType`` and ``name`` in the query, data is ``alt=media`` on the object's path.
"""

from __future__ import annotations

import pickle
from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sai3bench.backends.gcsshapes import (
    LIST_FIELDS,
    GcsError,
    GcsErrorItem,
    GcsMalformedResponse,
    Targets,
    bucket_insert_body,
    bucket_insert_target,
    content_range,
    describe,
    encode_name,
    encode_query,
    error_of,
    outcome_for,
    parse_error,
    parse_list,
    parse_object_size,
    resume_offset,
    session_target,
)
from sai3bench.outcome import Outcome

# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("obj.dat", "obj.dat"),
        ("pets/dog.png", "pets%2Fdog.png"),  # the reference's own example
        ("run/data/prepared-00000001.dat", "run%2Fdata%2Fprepared-00000001.dat"),
        ("a b", "a%20b"),
        ("tilde~under_dash-dot.", "tilde~under_dash-dot."),
        ("ü/日本", "%C3%BC%2F%E6%97%A5%E6%9C%AC"),
        ("100%", "100%25"),
        ("what?", "what%3F"),
        ("frag#1", "frag%231"),
        ("a+b=c&d", "a%2Bb%3Dc%26d"),
        ("semi;colon:at@", "semi%3Bcolon%3Aat%40"),
        ("//", "%2F%2F"),
        ("", ""),
    ],
)
def test_encode_name(name, encoded):
    assert encode_name(name) == encoded
    assert unquote(encoded) == name


@given(st.text())
def test_encode_name_matches_quote_and_round_trips(name):
    # The fast path for plain names must agree with the general one, character for character.
    assert encode_name(name) == quote(name, safe="")
    assert unquote(encode_name(name)) == name


def test_encode_query_keeps_order_and_encodes_values():
    assert encode_query({"prefix": "a/b c", "maxResults": 7}) == "prefix=a%2Fb%20c&maxResults=7"


# --- targets ---------------------------------------------------------------------------------

T = Targets("bench")


def test_object_targets():
    assert T.object("dir/obj.dat") == "/storage/v1/b/bench/o/dir%2Fobj.dat"
    assert T.download("dir/obj.dat") == "/storage/v1/b/bench/o/dir%2Fobj.dat?alt=media"
    assert T.metadata("dir/obj.dat") == "/storage/v1/b/bench/o/dir%2Fobj.dat?fields=size"
    assert T.metadata("x", "name,size") == "/storage/v1/b/bench/o/x?fields=name%2Csize"


def test_upload_targets():
    assert (
        T.media_upload("pets/dog 1.png")
        == "/upload/storage/v1/b/bench/o?uploadType=media&name=pets%2Fdog%201.png"
    )
    assert (
        T.resumable_upload("ü?#")
        == "/upload/storage/v1/b/bench/o?uploadType=resumable&name=%C3%BC%3F%23"
    )


def test_every_target_is_a_clean_request_target():
    # No space, '#', or raw non-ASCII may reach the request line; '?' only opens the query.
    for name in ("a b", "a#b", "a?b", "ü", "%", "a/b/"):
        for target in (T.object(name), T.download(name), T.media_upload(name)):
            assert target.isascii() and " " not in target and "#" not in target
            assert target.count("?") <= 1
            path = urlsplit(target).path
            assert unquote(path.rsplit("/", 1)[1]) == name or "name=" in target


def test_list_target():
    assert T.list() == f"/storage/v1/b/bench/o?fields={quote(LIST_FIELDS, safe='')}"
    assert T.list(fields=None) == "/storage/v1/b/bench/o"
    target = T.list("run/data/", delimiter="/", max_results=7, page_token="tok=", fields=None)
    assert target == (
        "/storage/v1/b/bench/o?prefix=run%2Fdata%2F&delimiter=%2F&maxResults=7&pageToken=tok%3D"
    )
    with pytest.raises(ValueError, match="max_results"):
        T.list(max_results=0)
    with pytest.raises(ValueError, match="max_results"):
        T.list(max_results=1001)


def test_bucket_insert():
    assert bucket_insert_target("my-proj") == "/storage/v1/b?project=my-proj"
    assert bucket_insert_target(None) == "/storage/v1/b"
    assert bucket_insert_body("bench") == b'{"name":"bench"}'


def test_bucket_name_is_encoded_once_in_the_prefix():
    assert Targets("a.b_c-d").object("k") == "/storage/v1/b/a.b_c-d/o/k"


# --- resumable -------------------------------------------------------------------------------


def test_content_range():
    assert content_range(0, 262144, 1000000) == "bytes 0-262143/1000000"
    assert content_range(786432, 1000000, 1000000) == "bytes 786432-999999/1000000"
    assert content_range(1000000, 1000000, 1000000) == "bytes */1000000"
    for bad in ((5, 4, 10), (-1, 2, 10), (0, 11, 10)):
        with pytest.raises(ValueError):
            content_range(*bad)


def test_resume_offset():
    assert resume_offset(b"bytes=0-262143") == 262144
    assert resume_offset(b"") == 0  # no Range: nothing persisted yet
    with pytest.raises(GcsMalformedResponse):
        resume_offset(b"bytes=5-9")


def test_session_target():
    loc = (
        b"https://storage.googleapis.com/upload/storage/v1/b/bench/o?uploadType=resumable"
        b"&name=pets%2Fdog.png&upload_id=ADPycdu"
    )
    assert session_target(loc) == (
        "/upload/storage/v1/b/bench/o?uploadType=resumable&name=pets%2Fdog.png&upload_id=ADPycdu"
    )
    assert session_target("/upload/x?upload_id=1") == "/upload/x?upload_id=1"
    for bad in (b"", b"upload_id=1", b"ftp://h/x"):
        with pytest.raises(GcsMalformedResponse) as info:
            session_target(bad)
        assert info.value.outcome == Outcome.PROTOCOL


# --- JSON replies ----------------------------------------------------------------------------

LIST_PAGE = b"""{
 "kind": "storage#objects",
 "nextPageToken": "CgVhL2IvYw==",
 "prefixes": ["run/data/", "run/new/"],
 "items": [
  {"kind": "storage#object", "name": "run/a b", "bucket": "bench", "size": "1024",
   "generation": "1700000000000000", "contentType": "application/octet-stream"},
  {"name": "run/\\u00fc", "size": "5497558138880"}
 ]
}"""


def test_parse_list_page():
    page = parse_list(LIST_PAGE)
    assert [(o.name, o.size) for o in page.items] == [("run/a b", 1024), ("run/ü", 5 * 2**40)]
    assert page.prefixes == ["run/data/", "run/new/"]
    assert page.next_page_token == "CgVhL2IvYw=="


def test_parse_list_last_and_empty_pages():
    page = parse_list(b'{"kind": "storage#objects"}')  # GCS omits empty members
    assert page.items == [] and page.prefixes == [] and page.next_page_token is None
    assert parse_list(b'{"items": [{"name": "k", "size": 3}]}').items[0].size == 3


@pytest.mark.parametrize(
    "body", [b"", b"<html>", b'{"items": {}}', b'{"items": [{"size": "1"}]}', b"[]"]
)
def test_parse_list_malformed(body):
    with pytest.raises(GcsMalformedResponse) as info:
        parse_list(body)
    assert info.value.outcome == Outcome.PROTOCOL


def test_parse_object_size():
    assert parse_object_size(b'{"kind":"storage#object","name":"k","size":"42"}') == 42
    assert parse_object_size(b'{"size":"0"}') == 0
    with pytest.raises(GcsMalformedResponse):
        parse_object_size(b'{"name":"k"}')


ERROR_404 = b"""{
 "error": {
  "errors": [{"domain": "global", "reason": "notFound", "message": "No such object: bench/k"}],
  "code": 404,
  "message": "No such object: bench/k"
 }
}"""


def test_parse_error():
    err = parse_error(ERROR_404)
    item = GcsErrorItem("notFound", "No such object: bench/k", "global")
    assert err == GcsError(404, "No such object: bench/k", [item])
    assert err.reason == "notFound"
    assert parse_error(b'{"error": {"message": "bad"}}') == GcsError(0, "bad", [])
    for other in (b"", b"<html><body>502</body></html>", b'{"kind":"x"}', b"{broken"):
        assert parse_error(other) is None


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (200, None, Outcome.OK),
        (204, None, Outcome.OK),
        (404, "notFound", Outcome.NOT_FOUND),
        (404, None, Outcome.NOT_FOUND),
        (401, "authError", Outcome.PERMISSION),
        (401, "required", Outcome.PERMISSION),
        (403, "forbidden", Outcome.PERMISSION),
        (403, "insufficientPermissions", Outcome.PERMISSION),
        (403, "rateLimitExceeded", Outcome.THROTTLED),
        (403, "userRateLimitExceeded", Outcome.THROTTLED),
        (429, "rateLimitExceeded", Outcome.THROTTLED),
        (429, None, Outcome.THROTTLED),
        (503, "backendError", Outcome.THROTTLED),
        (503, None, Outcome.THROTTLED),
        (500, "backendError", Outcome.SERVER_ERROR),
        (502, None, Outcome.SERVER_ERROR),
        (408, None, Outcome.TIMEOUT),
        (409, "conflict", Outcome.CLIENT_ERROR),
        (412, "conditionNotMet", Outcome.CLIENT_ERROR),
        (400, "invalid", Outcome.CLIENT_ERROR),
        (308, None, Outcome.CLIENT_ERROR),
        (99, None, Outcome.PROTOCOL),
    ],
)
def test_outcome_for(status, reason, outcome):
    assert outcome_for(status, reason) == outcome


def test_describe_is_one_line():
    assert describe(404, parse_error(ERROR_404)) == "404 notFound: No such object: bench/k"
    assert describe(503, None) == "503 Service Unavailable"
    assert describe(599, None) == "599 (no GCS error body)"
    long = GcsError(500, "x\n" * 300, [GcsErrorItem("backendError")])
    line = describe(500, long)
    assert "\n" not in line and line.startswith("500 backendError: x x") and len(line) < 230
    assert describe(400, GcsError(400, "", [GcsErrorItem("invalid")])) == "400 invalid"


def test_error_of():
    err = error_of(404, ERROR_404)
    assert (
        err.outcome == Outcome.NOT_FOUND and err.detail == "404 notFound: No such object: bench/k"
    )
    throttled = error_of(403, b'{"error":{"code":403,"errors":[{"reason":"rateLimitExceeded"}]}}')
    assert throttled.outcome == Outcome.THROTTLED
    assert error_of(502, b"<html>").detail == "502 Bad Gateway"


def test_malformed_response_pickles():
    # Engine processes exchange op errors.
    err = pickle.loads(pickle.dumps(GcsMalformedResponse("bad page")))
    assert isinstance(err, GcsMalformedResponse)
    assert (err.outcome, err.detail) == (Outcome.PROTOCOL, "bad page")
