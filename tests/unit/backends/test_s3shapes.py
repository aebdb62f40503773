"""S3 shapes: golden replies, round trips of the bodies we build, the outcome table.

The golden files under tests/data/s3/ were written from the S3 API reference's documented
examples and field lists. The ListObjectsV2 parser has a regex fast path and an ElementTree
path; every page here goes through both, and the fast path must either agree or defer.
"""

from __future__ import annotations

import base64
import hashlib
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote_plus
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.backends.base import ObjectInfo
from sai3bench.backends.s3shapes import (
    AUTH_FAILURE_CODES,
    CODE_OUTCOMES,
    S3_NS,
    ListPage,
    S3EmbeddedError,
    S3Error,
    S3MalformedResponse,
    _fast_list,
    _result_root,
    _tree_list,
    abort_params,
    build_complete_multipart,
    build_create_bucket,
    build_delete_objects,
    complete_params,
    delete_objects_params,
    describe,
    initiate_params,
    is_auth_failure,
    list_v2_params,
    outcome_for,
    parse_complete_multipart,
    parse_delete_result,
    parse_error,
    parse_initiate_multipart,
    parse_list_v2,
    upload_part_params,
)
from sai3bench.outcome import OpError, Outcome

DATA = Path(__file__).parents[2] / "data" / "s3"
NS = f"{{{S3_NS}}}"
# Deterministic property tests: same examples every run, nothing written to .hypothesis/.
PROPERTY = settings(derandomize=True, database=None, max_examples=50, deadline=None)


def golden(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parse_both(body: bytes) -> tuple[ListPage, bool]:
    """Parse through the public entry; check the ElementTree path agrees; say if fast was used."""
    page = parse_list_v2(body)
    assert _tree_list(_result_root(body, "ListBucketResult")) == page
    fast = _fast_list(body.lstrip())
    assert fast is None or fast == page
    assert parse_list_v2(bytearray(body)) == page
    return page, fast is not None


def objs(*pairs: tuple[str, int]) -> list[ObjectInfo]:
    return [ObjectInfo(k, s) for k, s in pairs]


# --- query parameters ----------------------------------------------------------------------


def test_list_v2_params_minimal_and_full():
    assert list_v2_params("") == [("list-type", "2"), ("encoding-type", "url")]
    assert list_v2_params("run1/", url_keys=False) == [("list-type", "2"), ("prefix", "run1/")]
    assert list_v2_params(
        "a b/",
        delimiter="/",
        max_keys=0,
        continuation_token="tok/+=",
        start_after="a b/k",
    ) == [
        ("list-type", "2"),
        ("prefix", "a b/"),
        ("delimiter", "/"),
        ("max-keys", "0"),
        ("continuation-token", "tok/+="),
        ("start-after", "a b/k"),
        ("encoding-type", "url"),
    ]
    with pytest.raises(ValueError, match="max_keys"):
        list_v2_params("", max_keys=-1)


def test_other_params():
    assert delete_objects_params() == [("delete", "")]
    assert initiate_params() == [("uploads", "")]
    assert upload_part_params(1, "up/id+") == [("partNumber", "1"), ("uploadId", "up/id+")]
    assert upload_part_params(10_000, "u") == [("partNumber", "10000"), ("uploadId", "u")]
    assert complete_params("u") == [("uploadId", "u")]
    assert abort_params("u") == [("uploadId", "u")]
    for bad in (0, -1, 10_001):
        with pytest.raises(ValueError, match="part number"):
            upload_part_params(bad, "u")


# --- ListObjectsV2 golden pages ------------------------------------------------------------

LIST_GOLDEN = {
    "list_v2_namespace.xml": ListPage(
        objects=objs(
            ("run1/prepared-00000000.dat", 1048576),
            ("run1/prepared-00000001.dat", 10485760),
            ("run1/empty.dat", 0),
        ),
        common_prefixes=[],
        is_truncated=False,
        next_continuation_token=None,
        key_count=3,
    ),
    "list_v2_no_namespace.xml": ListPage(objs(("a.dat", 1), ("b.dat", 4096)), [], False, None, 2),
    "list_v2_truncated.xml": ListPage(
        objs(("run1/prepared-00000002.dat", 4096), ("run1/prepared-00000003.dat", 4096)),
        [],
        True,
        "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
        2,
    ),
    "list_v2_delimiter.xml": ListPage(
        objs(("photos/2024/index.html", 512)),
        ["photos/2024/january/", "photos/2024/february/"],
        False,
        None,
        3,
    ),
    "list_v2_empty.xml": ListPage([], [], False, None, 0),
    "list_v2_url_encoded.xml": ListPage(
        objs(
            ("odd/with space.dat", 1),
            ("odd/a+b&c.dat", 2),
            ("odd/ctrl\x01\r\n.dat", 3),
            ("odd/café-日本-📦.dat", 4),
        ),
        ["odd/sub dir/"],
        False,
        None,
        5,
    ),
    "list_v2_entities.xml": ListPage(
        objs(
            ("fish & chips <b> \"q\" 'a'.dat", 10),
            ("tab\tcr\rlf\n.dat", 11),
            ("été café 日本語 📦.dat", 12),
            ("raw>gt and ]].dat", 13),
            ("  spaces  ", 14),
        ),
        [],
        False,
        None,
        5,
    ),
}


@pytest.mark.parametrize("name", sorted(LIST_GOLDEN))
def test_list_golden(name):
    page, fast = parse_both(golden(name))
    assert page == LIST_GOLDEN[name]
    assert fast, "every golden page is plain S3 output: the fast path must take it"


@pytest.mark.parametrize("name", sorted(LIST_GOLDEN))
def test_list_cut_anywhere_never_parses(name):
    """A body cut short (a dropped connection) raises; it never reads as a shorter page."""
    body = golden(name)
    end = body.rindex(b"</ListBucketResult>") + len(b"</ListBucketResult>")
    for cut in range(end):
        with pytest.raises(S3MalformedResponse):
            parse_list_v2(body[:cut])
    assert parse_list_v2(body[:end]) == LIST_GOLDEN[name]


def test_list_trailing_junk_and_leading_whitespace():
    body = golden("list_v2_truncated.xml")
    assert parse_list_v2(b" \r\n\t " + body) == LIST_GOLDEN["list_v2_truncated.xml"]
    with pytest.raises(S3MalformedResponse):
        parse_list_v2(body + b"<ListBucketResult/>")


def page_xml(contents: str, fields: str = "<IsTruncated>false</IsTruncated>") -> bytes:
    return f'<ListBucketResult xmlns="{S3_NS}">{fields}{contents}</ListBucketResult>'.encode()


DEFERRED = {
    "comment": (
        page_xml("<!-- <Contents><Key>x</Key><Size>1</Size></Contents> -->"),
        ListPage([], [], False, None, 0),
    ),
    "cdata": (
        page_xml("<Contents><Key><![CDATA[a<b&c]]></Key><Size>1</Size></Contents>"),
        ListPage(objs(("a<b&c", 1)), [], False, None, 1),
    ),
    "key not first": (
        page_xml("<Contents><ETag>e</ETag><Key>k</Key><Size>1</Size></Contents>"),
        ListPage(objs(("k", 1)), [], False, None, 1),
    ),
    "no size": (
        page_xml("<Contents><Key>k</Key></Contents>"),
        ListPage(objs(("k", -1)), [], False, None, 1),
    ),
    "size with spaces": (
        page_xml("<Contents><Key>k</Key><Size> 7 </Size></Contents>"),
        ListPage(objs(("k", 7)), [], False, None, 1),
    ),
    "word Size in a key": (
        page_xml("<Contents><Key>Size&gt;</Key><Size>2</Size></Contents>"),
        ListPage(objs(("Size>", 2)), [], False, None, 1),
    ),
    "prefixed names": (
        f'<s3:ListBucketResult xmlns:s3="{S3_NS}"><s3:IsTruncated>true</s3:IsTruncated>'
        "<s3:NextContinuationToken>t</s3:NextContinuationToken><s3:Contents><s3:Key>k</s3:Key>"
        "<s3:Size>3</s3:Size></s3:Contents></s3:ListBucketResult>".encode(),
        ListPage(objs(("k", 3)), [], True, "t", 1),
    ),
    "prefixed field in a plain page": (
        page_xml(
            "<Contents><Key>k</Key><Size>3</Size></Contents>",
            f'<x:IsTruncated xmlns:x="{S3_NS}">true</x:IsTruncated>'
            "<NextContinuationToken>t</NextContinuationToken>",
        ),
        ListPage(objs(("k", 3)), [], True, "t", 1),
    ),
    "self-closed token": (
        page_xml("", "<IsTruncated>false</IsTruncated><NextContinuationToken/>"),
        ListPage([], [], False, None, 0),
    ),
    "raw CR in a key": (
        page_xml("<Contents><Key>a\r\nb\rc</Key><Size>1</Size></Contents>"),
        ListPage(objs(("a\nb\nc", 1)), [], False, None, 1),
    ),
    # Bytes C3 A9: "Ã©" in latin-1, and also valid UTF-8 (for "é") - only the declaration tells.
    "latin-1 declaration": (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        + page_xml("<Contents><Key>\u00c3\u00a9</Key><Size>1</Size></Contents>")
        .decode()
        .encode("latin-1"),
        ListPage(objs(("\u00c3\u00a9", 1)), [], False, None, 1),
    ),
    "contents with an attribute": (
        page_xml(
            "<Contents><Key>a</Key><Size>1</Size></Contents>"
            '<Contents id="2"><Key>b</Key></Contents>'
        ),
        ListPage(objs(("a", 1), ("b", -1)), [], False, None, 2),
    ),
    "element inside a field": (
        page_xml("", "<IsTruncated>false</IsTruncated><EncodingType><u>url</u></EncodingType>"),
        ListPage([], [], False, None, 0),
    ),
    "self-closed common prefix": (
        page_xml("<CommonPrefixes/><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"),
        ListPage([], ["p/"], False, None, 1),
    ),
    "repeated field": (
        page_xml(
            "",
            "<IsTruncated>false</IsTruncated><NextContinuationToken>t</NextContinuationToken>"
            "<IsTruncated>true</IsTruncated>",
        ),
        ListPage([], [], True, "t", 0),
    ),
}


@pytest.mark.parametrize("case", sorted(DEFERRED))
def test_fast_path_defers_what_it_cannot_prove(case):
    body, expected = DEFERRED[case]
    assert _fast_list(body) is None
    assert parse_list_v2(body) == expected


@pytest.mark.parametrize(
    ("contents", "fields", "match"),
    [
        ("<Contents><Key>&nbsp;</Key><Size>1</Size></Contents>", None, "not XML"),
        ("<Contents><Key>&#1;</Key><Size>1</Size></Contents>", None, "not XML"),
        ("<Contents><Key>a &amp b</Key><Size>1</Size></Contents>", None, "not XML"),
        ("<Contents><Key>a &amp</Key><Size>1</Size></Contents>", None, "not XML"),
        ("<Contents><Size>1</Size></Contents>", None, "without <Key>"),
        ("<Contents><Key>k</Key><Size>x</Size></Contents>", None, "Size is not an integer"),
        ("", "<IsTruncated>true</IsTruncated>", "NextContinuationToken is missing"),
        ("", "<IsTruncated>maybe</IsTruncated>", "IsTruncated"),
        ("", "<IsTruncated>false</IsTruncated><KeyCount>many</KeyCount>", "KeyCount"),
        (
            "<Contents><Key>%FF</Key><Size>1</Size></Contents>",
            "<EncodingType>url</EncodingType>",
            "not UTF-8",
        ),
    ],
)
def test_list_malformed(contents, fields, match):
    body = page_xml(contents, fields) if fields else page_xml(contents)
    with pytest.raises(S3MalformedResponse, match=match) as info:
        parse_list_v2(body)
    assert info.value.outcome is Outcome.PROTOCOL


def test_list_other_documents():
    with pytest.raises(S3EmbeddedError) as info:
        parse_list_v2(golden("error_slow_down.xml"))
    assert info.value.outcome is Outcome.THROTTLED
    for body in (b"", golden("error_nginx_502.html"), b"<DeleteResult/>"):
        with pytest.raises(S3MalformedResponse):
            parse_list_v2(body)


def test_list_key_count_defaults_to_what_was_listed():
    body = page_xml("<Contents><Key>k</Key><Size>1</Size></Contents>", "")
    assert parse_both(body) == (ListPage(objs(("k", 1)), [], False, None, 1), True)


def aws_page(n: int) -> bytes:
    """A page as AWS writes it: every field of each object, one object per line."""
    rows = "".join(
        f"<Contents><Key>bench/prepared-{i:08d}.dat</Key>"
        "<LastModified>2024-06-01T12:00:00.000Z</LastModified>"
        "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>"
        f"<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><Size>{i * 7}</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>\n"
        for i in range(n)
    )
    fields = f"<Name>b</Name><KeyCount>{n}</KeyCount><MaxKeys>1000</MaxKeys>"
    fields += "<IsTruncated>true</IsTruncated><NextContinuationToken>t==</NextContinuationToken>"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + page_xml(rows, fields)


def test_list_thousand_keys():
    page, fast = parse_both(aws_page(1000))
    assert fast
    assert page.key_count == len(page.objects) == 1000
    assert page.objects[999] == ObjectInfo("bench/prepared-00000999.dat", 999 * 7)
    assert (page.is_truncated, page.next_continuation_token) == (True, "t==")


# --- ListObjectsV2 property: both paths against the page we wrote ---------------------------

XML_ILLEGAL = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"]
legal_char = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters=XML_ILLEGAL),
    st.sampled_from("\t\n\r &<>\"';%+/"),
)
legal_text = st.text(legal_char, min_size=1, max_size=24)


def xml_text(value: str, refs: bool) -> str:
    """Escape like a server would; ``refs`` writes non-ASCII as numeric references."""
    out = escape(value, {"\r": "&#13;"})
    if refs:
        out = "".join(c if c.isascii() else f"&#x{ord(c):X};" for c in out)
    return out


@PROPERTY
@given(
    keys=st.lists(legal_text, max_size=12),
    sizes=st.data(),
    prefixes=st.lists(legal_text, max_size=3),
    token=st.one_of(st.none(), legal_text),
    namespace=st.booleans(),
    url=st.booleans(),
    refs=st.booleans(),
    sep=st.sampled_from(["", "\n", "\n  "]),
)
def test_list_both_paths_match_what_was_written(
    keys, sizes, prefixes, token, namespace, url, refs, sep
):
    size_list = sizes.draw(st.lists(st.integers(0, 2**62), min_size=len(keys), max_size=len(keys)))

    def enc(value: str) -> str:
        return xml_text(quote_plus(value, safe="/") if url else value, refs)

    parts = [f"<IsTruncated>{'true' if token else 'false'}</IsTruncated>"]
    if token:
        parts.append(f"<NextContinuationToken>{xml_text(token, refs)}</NextContinuationToken>")
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    parts += [
        f"<Contents>{sep}<Key>{enc(k)}</Key>{sep}<ETag>&quot;e&quot;</ETag>{sep}"
        f"<Size>{s}</Size>{sep}</Contents>"
        for k, s in zip(keys, size_list, strict=True)
    ]
    parts += [f"<CommonPrefixes>{sep}<Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in prefixes]
    xmlns = f' xmlns="{S3_NS}"' if namespace else ""
    body = f"<ListBucketResult{xmlns}>{sep}{sep.join(parts)}</ListBucketResult>".encode()

    expected = ListPage(
        objs(*zip(keys, size_list, strict=True)),
        prefixes,
        bool(token),
        token or None,
        len(keys) + len(prefixes),
    )
    page, fast = parse_both(body)
    assert page == expected
    markers = ("Contents", "Size", "CommonPrefixes", "IsTruncated", "NextContinuationToken")
    texts = [*keys, *prefixes, token or ""]
    if not any(m in t for m in markers for t in texts):
        assert fast, "a plain page must take the fast path"


# --- errors --------------------------------------------------------------------------------

ERROR_GOLDEN = {
    "error_no_such_key.xml": S3Error(
        "NoSuchKey",
        "The specified key does not exist.",
        "run1/prepared-00000042.dat",
        "4442587FB7D0A2F9",
    ),
    "error_signature_does_not_match.xml": S3Error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        None,
        "TX1234567890ABCDEF",
    ),
    "error_slow_down.xml": S3Error(
        "SlowDown", "Please reduce your request rate.", None, "K2H6N7ZGQT6WHCEG"
    ),
    "error_access_denied.xml": S3Error(
        "AccessDenied",
        "Access Denied",
        "/bench-bucket/run1/secret.dat",
        "656c76696e6727732072657175657374",
    ),
}


@pytest.mark.parametrize("name", sorted(ERROR_GOLDEN))
def test_error_golden(name):
    assert parse_error(golden(name)) == ERROR_GOLDEN[name]
    assert parse_error(bytearray(golden(name))) == ERROR_GOLDEN[name]


@pytest.mark.parametrize(
    "body",
    [
        golden("error_nginx_502.html"),
        b"",
        b"  \r\n",
        b"Bad Gateway",
        b"\x00\xff\xfe",
        b"<html><body>503</body></html>",
        b"<Error><Message>no code</Message></Error>",
        b"<Error><Code>  </Code></Error>",
        b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code>',
        golden("list_v2_empty.xml"),
    ],
)
def test_parse_error_refuses_anything_else(body):
    assert parse_error(body) is None


def test_describe():
    sig = ERROR_GOLDEN["error_signature_does_not_match.xml"]
    assert describe(403, sig) == (
        "403 SignatureDoesNotMatch: The request signature we calculated does not match the "
        "signature you provided. Check your key and signing method."
    )
    assert describe(404, S3Error("NoSuchKey", "", None, None)) == "404 NoSuchKey"
    assert describe(500, S3Error("X", "line one\n  line\ttwo ", None, None)) == (
        "500 X: line one line two"
    )
    long = describe(400, S3Error("Y", "word " * 100, None, None))
    assert len(long) == len("400 Y: ") + 200
    assert long.endswith("...")
    assert describe(502, None) == "502 Bad Gateway"
    assert describe(599, None) == "599 (no S3 error body)"


# Every code in the table, and what it must mean under any status.
CODE_ROWS = {
    "NoSuchKey": Outcome.NOT_FOUND,
    "NoSuchBucket": Outcome.NOT_FOUND,
    "NoSuchUpload": Outcome.NOT_FOUND,
    "AccessDenied": Outcome.PERMISSION,
    "SignatureDoesNotMatch": Outcome.PERMISSION,
    "InvalidAccessKeyId": Outcome.PERMISSION,
    "ExpiredToken": Outcome.PERMISSION,
    "InvalidToken": Outcome.PERMISSION,
    "TokenRefreshRequired": Outcome.PERMISSION,
    "AuthorizationHeaderMalformed": Outcome.PERMISSION,
    "RequestTimeTooSkewed": Outcome.PERMISSION,
    "SlowDown": Outcome.THROTTLED,
    "RequestLimitExceeded": Outcome.THROTTLED,
    "Throttling": Outcome.THROTTLED,
    "ThrottlingException": Outcome.THROTTLED,
    "TooManyRequestsException": Outcome.THROTTLED,
}


def test_code_table_is_fully_enumerated_here():
    assert dict(CODE_OUTCOMES) == CODE_ROWS


@pytest.mark.parametrize("code", sorted(CODE_ROWS))
@pytest.mark.parametrize("status", [200, 400, 403, 404, 409, 429, 500, 503])
def test_outcome_code_decides(status, code):
    assert outcome_for(status, code) is CODE_ROWS[code]


def status_rule(status: int) -> Outcome:
    """The status half of the table, written as data."""
    exact = {404: Outcome.NOT_FOUND, 401: Outcome.PERMISSION, 403: Outcome.PERMISSION}
    exact[429] = exact[503] = Outcome.THROTTLED
    exact[408] = Outcome.TIMEOUT
    if status in exact:
        return exact[status]
    for low, high, outcome in (
        (200, 300, Outcome.OK),
        (300, 500, Outcome.CLIENT_ERROR),
        (500, 600, Outcome.SERVER_ERROR),
    ):
        if low <= status < high:
            return outcome
    return Outcome.PROTOCOL


@pytest.mark.parametrize("code", [None, "InternalError", "InvalidArgument", "ServiceUnavailable"])
def test_outcome_status_decides_every_status(code):
    for status in range(0, 700):
        expected = status_rule(status)
        if code is not None and expected is Outcome.OK:
            expected = Outcome.SERVER_ERROR  # an error document under 2xx
        assert outcome_for(status, code) is expected, (status, code)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, None, Outcome.NOT_FOUND),
        (403, None, Outcome.PERMISSION),
        (400, "ExpiredToken", Outcome.PERMISSION),
        (503, "SlowDown", Outcome.THROTTLED),
        (503, None, Outcome.THROTTLED),  # a HEAD's SlowDown: no body, no code
        (429, None, Outcome.THROTTLED),
        (400, "Throttling", Outcome.THROTTLED),
        (500, "InternalError", Outcome.SERVER_ERROR),
        (501, "NotImplemented", Outcome.SERVER_ERROR),
        (301, "PermanentRedirect", Outcome.CLIENT_ERROR),
        (409, "BucketNotEmpty", Outcome.CLIENT_ERROR),
        (416, "InvalidRange", Outcome.CLIENT_ERROR),
        (200, None, Outcome.OK),
        (200, "InternalError", Outcome.SERVER_ERROR),
    ],
)
def test_outcome_brief_examples(status, code, expected):
    assert outcome_for(status, code) is expected


@pytest.mark.parametrize("code", sorted(AUTH_FAILURE_CODES))
def test_auth_failure_codes(code):
    assert is_auth_failure(403, code)
    assert is_auth_failure(400, code)
    assert outcome_for(403, code) is Outcome.PERMISSION


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, None, True),
        (403, None, False),  # a HEAD 403 has no body: cannot tell policy from credentials
        (403, "AccessDenied", False),
        (404, "NoSuchKey", False),
        (503, "SlowDown", False),
        (200, None, False),
    ],
)
def test_auth_failure_others(status, code, expected):
    assert is_auth_failure(status, code) is expected


# --- DeleteObjects -------------------------------------------------------------------------


def test_build_delete_objects_exact():
    body, md5 = build_delete_objects(["a", "b&c"])
    assert (
        body
        == (
            f'<Delete xmlns="{S3_NS}"><Object><Key>a</Key></Object>'
            "<Object><Key>b&amp;c</Key></Object><Quiet>true</Quiet></Delete>"
        ).encode()
    )
    assert md5 == base64.b64encode(hashlib.md5(body).digest()).decode()
    # The escapes the S3 guide lists for keys in XML requests; CR would not survive raw.
    body, _ = build_delete_objects(["&<>\"'", "x\r\ny\tz"])
    assert b"<Key>&amp;&lt;&gt;&quot;&apos;</Key>" in body
    assert b"<Key>x&#13;&#10;y\tz</Key>" in body
    loud, _ = build_delete_objects(["a"], quiet=False)
    assert b"Quiet" not in loud


def keys_of(body: bytes) -> list[str]:
    return [k.text or "" for k in ET.fromstring(body).iter(f"{NS}Key")]


@PROPERTY
@given(keys=st.lists(legal_text, min_size=1, max_size=40), quiet=st.booleans())
def test_delete_objects_round_trip(keys, quiet):
    body, md5 = build_delete_objects(keys, quiet=quiet)
    assert keys_of(body) == keys
    assert (ET.fromstring(body).findtext(f"{NS}Quiet") == "true") is quiet
    assert base64.b64decode(md5) == hashlib.md5(body).digest()


@PROPERTY
@given(key=legal_text, bad=st.sampled_from([*XML_ILLEGAL, "\ud800", "\udfff"]), at=st.data())
def test_delete_objects_refuses_xml_illegal(key, bad, at):
    i = at.draw(st.integers(0, len(key)))
    poisoned = key[:i] + bad + key[i:]
    with pytest.raises(ValueError, match="XML cannot carry") as info:
        build_delete_objects(["fine", poisoned])
    assert repr(poisoned) in str(info.value)


def test_delete_objects_limits():
    body, _ = build_delete_objects([f"k{i}" for i in range(1000)])
    assert len(keys_of(body)) == 1000
    with pytest.raises(ValueError, match="at most 1000"):
        build_delete_objects([f"k{i}" for i in range(1001)])
    with pytest.raises(ValueError, match="at least one"):
        build_delete_objects([])
    with pytest.raises(ValueError, match="empty key"):
        build_delete_objects(["a", ""])


def test_parse_delete_result():
    deleted, failed = parse_delete_result(golden("delete_result.xml"))
    assert deleted == ["run1/prepared-00000000.dat", "run1/fish & chips.dat"]
    assert failed == [
        ("run1/locked.dat", "AccessDenied", "Access Denied"),
        ("run1/busy.dat", "InternalError", "We encountered an internal error. Please try again."),
    ]
    assert parse_delete_result(f'<DeleteResult xmlns="{S3_NS}"/>'.encode()) == ([], [])
    with pytest.raises(S3EmbeddedError) as info:
        parse_delete_result(golden("error_access_denied.xml"))
    assert info.value.outcome is Outcome.PERMISSION
    with pytest.raises(S3MalformedResponse):
        parse_delete_result(golden("error_nginx_502.html"))


# --- multipart upload and CreateBucket -----------------------------------------------------


def test_parse_initiate_multipart():
    upload_id = parse_initiate_multipart(golden("initiate_multipart.xml"))
    assert upload_id == "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
    with pytest.raises(S3MalformedResponse, match="no UploadId"):
        parse_initiate_multipart(
            b"<InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>"
        )


def test_build_complete_multipart():
    body = build_complete_multipart([(1, '"a1"'), (2, '"b2"'), (7, '"c7-3"')])
    assert body.startswith(f'<CompleteMultipartUpload xmlns="{S3_NS}"><Part><PartNumber>1'.encode())
    root = ET.fromstring(body)
    parts = [(int(p.findtext(f"{NS}PartNumber") or 0), p.findtext(f"{NS}ETag")) for p in root]
    assert parts == [(1, '"a1"'), (2, '"b2"'), (7, '"c7-3"')]


@pytest.mark.parametrize(
    ("parts", "match"),
    [
        ([], "at least one"),
        ([(0, '"a"')], "ascend"),
        ([(2, '"a"'), (1, '"b"')], "ascend"),
        ([(1, '"a"'), (1, '"b"')], "ascend"),
        ([(10_001, '"a"')], "ascend"),
        ([(1, "")], "empty ETag"),
        ([(1, '"a\x00"')], "XML cannot carry"),
    ],
)
def test_build_complete_multipart_refuses(parts, match):
    with pytest.raises(ValueError, match=match):
        build_complete_multipart(parts)


def test_parse_complete_multipart():
    etag = parse_complete_multipart(golden("complete_multipart.xml"))
    assert etag == '"3858f62230ac3c915f300c664312c11f-9"'


def test_complete_multipart_200_with_error_body():
    body = golden("complete_multipart_error.xml")
    assert body.startswith(b"    \n"), "the golden keeps S3's keep-alive whitespace"
    with pytest.raises(S3EmbeddedError) as info:
        parse_complete_multipart(body)
    err = info.value
    assert isinstance(err, OpError)
    assert err.outcome is Outcome.SERVER_ERROR
    assert err.error.code == "InternalError"
    assert err.detail == "200 InternalError: We encountered an internal error. Please try again."
    again = pickle.loads(pickle.dumps(err))
    assert (again.error, again.outcome, again.detail) == (err.error, err.outcome, err.detail)


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"<CompleteMultipartUploadResult/>", golden("error_nginx_502.html")],
)
def test_parse_complete_multipart_malformed(body):
    with pytest.raises(S3MalformedResponse) as info:
        parse_complete_multipart(body)
    assert info.value.outcome is Outcome.PROTOCOL


def test_build_create_bucket():
    assert build_create_bucket("us-east-1") == b""
    assert build_create_bucket("") == b""
    root = ET.fromstring(build_create_bucket("eu-west-1"))
    assert root.tag == f"{NS}CreateBucketConfiguration"
    assert root.findtext(f"{NS}LocationConstraint") == "eu-west-1"
    with pytest.raises(ValueError, match="region"):
        build_create_bucket("eu\x00")
