"""SigV4 signer against botocore's S3SigV4Auth (the oracle) and AWS's documented vectors.

botocore is given the raw inputs (the unencoded object key, the raw query params, the headers as
given, the body) and does its own encoding, sorting, trimming and hashing; our signer is given
what our request builder sends. The Authorization headers must agree byte for byte.
"""

from __future__ import annotations

import datetime
import os
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from sai3bench.signers.base import Credential
from sai3bench.signers.sigv4 import (
    EMPTY_SHA256,
    KEY_CACHE_SIZE,
    UNSIGNED_PAYLOAD,
    SigV4Signer,
    amz_date_from_epoch,
    canonical_query,
    derive_signing_key,
    sha256_hex,
    uri_encode,
)

SEED = int(os.environ.get("SAI3_TEST_SEED", "20261128"))


def botocore_sign(
    *,
    method: str,
    host: str,
    bucket: str,
    key: str,
    params: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    body: bytes | None,
    region: str,
    epoch: int,
    credential: Credential,
) -> dict[str, str]:
    """Sign with botocore, time pinned; body None means UNSIGNED-PAYLOAD. Returns its headers."""
    # The path as botocore's serializer builds an S3 URI label: percent_encode(key, safe="/~").
    url = f"http://{host}/{bucket}/{percent_encode(key, safe='/~')}"
    request = AWSRequest(method=method, url=url, params=list(params), data=body or b"")
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    if body is None:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    creds = Credentials(credential.access_key, credential.secret_key, credential.token)
    # add_auth takes its time from botocore.auth.get_current_datetime (naive UTC); pin it.
    now = datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        S3SigV4Auth(creds, "s3", region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def our_sign(signer: SigV4Signer, *, method, host, bucket, key, params, headers, body, epoch, cred):
    payload_hash = UNSIGNED_PAYLOAD if body is None else sha256_hex(body)
    path = f"/{bucket}/{uri_encode(key, keep_slash=True)}"
    added = signer.sign(
        method,
        host,
        path,
        canonical_query(params),
        headers,
        payload_hash,
        amz_date_from_epoch(epoch),
        cred,
    )
    names = [name for name, _ in added]
    assert len(names) == len(set(names))
    return dict(added)


def assert_same(ours: dict[str, str], theirs: dict[str, str], token: str | None) -> None:
    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"]
    assert ours["x-amz-content-sha256"] == theirs["x-amz-content-sha256"]
    expected = {"authorization", "x-amz-date", "x-amz-content-sha256"}
    if token:
        assert ours["x-amz-security-token"] == theirs["x-amz-security-token"] == token
        expected.add("x-amz-security-token")
    assert set(ours) == expected


# ---- the property test --------------------------------------------------------------------

TEXT = st.characters(exclude_categories=["Cs"])  # any code point UTF-8 can encode
ASCII_VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\t")
SPACES = st.text(alphabet=st.sampled_from(" \t"), max_size=3)

access_keys = st.text(alphabet=ASCII_VISIBLE.filter(lambda c: c not in "/,"), min_size=1)
secrets = st.text(alphabet=TEXT, min_size=1, max_size=48)
tokens = st.none() | st.just("") | st.text(alphabet=ASCII_VISIBLE, min_size=1, max_size=300)
object_keys = st.sampled_from(
    ["a b", "a+b", "100%", "~x", "a//b", "dir/", "/lead", "ü/ß €", "a/./b/../c", "k=v&x?y#z"]
) | st.text(alphabet=TEXT, min_size=1, max_size=40)
query_names = st.sampled_from(
    ["uploadId", "partNumber", "uploads", "list-type", "prefix", "max-keys", "delimiter", "x-id"]
) | st.text(alphabet=TEXT, min_size=1, max_size=8)
query_values = st.sampled_from(["", "2", "a/b+c==", "x y", "%41", "~"]) | st.text(
    alphabet=TEXT, max_size=12
)
header_names = st.sampled_from(
    [
        "Content-Type",
        "content-type",
        "Range",
        "X-Amz-Meta-Foo",
        "x-amz-meta-foo",
        "x-amz-storage-class",
        "Content-MD5",
        "If-Match",
        "Cache-Control",
        "User-Agent",  # never signed: botocore's blacklist
        "Expect",
    ]
)
header_values = st.builds(
    lambda lead, core, trail: lead + core + trail,
    SPACES,
    st.text(alphabet=HEADER_CHARS, max_size=24),
    SPACES,
)


@seed(SEED)
@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    access_key=access_keys,
    secret=secrets,
    token=tokens,
    method=st.sampled_from(["GET", "PUT", "HEAD", "DELETE", "POST"]),
    host=st.sampled_from(
        ["examplebucket.s3.amazonaws.com", "s3.eu-west-1.amazonaws.com", "127.0.0.1:9000"]
    ),
    bucket=st.sampled_from(["bucket", "my.bucket-1"]),
    key=object_keys,
    params=st.lists(st.tuples(query_names, query_values), max_size=5),
    headers=st.lists(st.tuples(header_names, header_values), max_size=5),
    region=st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "auto", "us-gov-west-1"]),
    epoch=st.integers(min_value=0, max_value=4_102_444_799),
    body=st.none() | st.binary(max_size=64),
)
def test_matches_botocore(
    access_key, secret, token, method, host, bucket, key, params, headers, region, epoch, body
):
    cred = Credential(access_key, secret, token)
    theirs = botocore_sign(
        method=method,
        host=host,
        bucket=bucket,
        key=key,
        params=params,
        headers=headers,
        body=body,
        region=region,
        epoch=epoch,
        credential=cred,
    )
    signer = SigV4Signer(region)
    args = dict(method=method, host=host, bucket=bucket, key=key, params=params, body=body)
    ours = our_sign(signer, **args, headers=headers, epoch=epoch, cred=cred)
    assert_same(ours, theirs, token)
    # Twice: the second call is served from the key cache and must sign the same.
    assert our_sign(signer, **args, headers=headers, epoch=epoch, cred=cred) == ours
    assert signer.keys_derived == 1


# ---- AWS documented vectors ---------------------------------------------------------------

# From the Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
# Transferring Payload in a Single Chunk (AWS Signature Version 4)", section "Examples":
# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
# Every example signs with these keys at 20130524T000000Z in us-east-1.
AWS_DOC_CREDENTIAL = Credential("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
AWS_DOC_HOST = "examplebucket.s3.amazonaws.com"
AWS_DOC_DATE = "20130524T000000Z"
AWS_DOC_VECTORS = [
    pytest.param(
        "GET",
        "/test.txt",
        [],
        [("Range", "bytes=0-9")],
        EMPTY_SHA256,
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        id="get-object",
    ),
    pytest.param(
        "PUT",
        "/" + uri_encode("test$file.text", keep_slash=True),
        [],
        [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
        sha256_hex(b"Welcome to Amazon S3."),
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        id="put-object",
    ),
    pytest.param(
        "GET",
        "/",
        [("lifecycle", "")],
        [],
        EMPTY_SHA256,
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        id="get-bucket-lifecycle",
    ),
    pytest.param(
        "GET",
        "/",
        [("prefix", "J"), ("max-keys", "2")],
        [],
        EMPTY_SHA256,
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        id="list-objects",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "headers", "payload_hash", "signed", "signature"),
    AWS_DOC_VECTORS,
)
def test_aws_documented_examples(method, path, params, headers, payload_hash, signed, signature):
    added = SigV4Signer("us-east-1").sign(
        method,
        AWS_DOC_HOST,
        path,
        canonical_query(params),
        headers,
        payload_hash,
        AWS_DOC_DATE,
        AWS_DOC_CREDENTIAL,
    )
    assert added == [
        ("x-amz-date", AWS_DOC_DATE),
        ("x-amz-content-sha256", payload_hash),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            f"SignedHeaders={signed}, Signature={signature}",
        ),
    ]


def test_aws_documented_payload_hash():
    # The PUT example's x-amz-content-sha256, and the empty-body hash of the GET examples.
    assert sha256_hex(b"Welcome to Amazon S3.") == (
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    )
    assert sha256_hex(b"") == EMPTY_SHA256
    assert sha256_hex([memoryview(b"Welcome to "), memoryview(b"Amazon S3.")]) == sha256_hex(
        b"Welcome to Amazon S3."
    )


# ---- key cache ----------------------------------------------------------------------------


def test_key_cache_hit_on_second_call():
    signer = SigV4Signer("us-east-1")
    cred = Credential("AK", "secret")
    first = signer.sign("GET", "h", "/b/k", "", (), UNSIGNED_PAYLOAD, "20261128T123456Z", cred)
    assert repr(signer) == "<SigV4Signer us-east-1/s3 [1 keys cached, 1 derived]>"
    second = signer.sign("GET", "h", "/b/k", "", (), UNSIGNED_PAYLOAD, "20261128T235959Z", cred)
    assert repr(signer) == "<SigV4Signer us-east-1/s3 [1 keys cached, 1 derived]>"
    assert first != second  # same day, other second: same key, different signature
    # A new secret (rotation) or a new day derives a new key.
    signer.sign(
        "GET", "h", "/b/k", "", (), UNSIGNED_PAYLOAD, "20261128T235959Z", Credential("AK", "s2")
    )
    signer.sign("GET", "h", "/b/k", "", (), UNSIGNED_PAYLOAD, "20261129T000000Z", cred)
    assert repr(signer) == "<SigV4Signer us-east-1/s3 [3 keys cached, 3 derived]>"


def test_key_cache_is_bounded_and_evicted_keys_still_sign_right():
    signer = SigV4Signer("eu-west-1")
    cred = Credential("AK", "secret", "tok")
    days = [f"202611{day:02d}T000000Z" for day in range(1, 11)]
    first = [signer.sign("GET", "h", "/b/k", "", (), UNSIGNED_PAYLOAD, d, cred) for d in days]
    assert repr(signer) == f"<SigV4Signer eu-west-1/s3 [{KEY_CACHE_SIZE} keys cached, 10 derived]>"
    # Day 1 was evicted: signing it again re-derives the key and gives the same headers.
    again = signer.sign("GET", "h", "/b/k", "", (), UNSIGNED_PAYLOAD, days[0], cred)
    assert again == first[0]
    assert signer.keys_derived == 11


def test_derive_signing_key_matches_the_documented_recipe():
    # From the AWS General Reference "Examples of how to derive a signing key for Signature
    # Version 4": secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
    key = derive_signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


# ---- helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "keep_slash", "encoded"),
    [
        ("a-b_c.d~e", True, "a-b_c.d~e"),
        ("a b+c", True, "a%20b%2Bc"),
        ("a//b/", True, "a//b/"),
        ("a/b", False, "a%2Fb"),
        ("100%", True, "100%25"),
        ("é€", True, "%C3%A9%E2%82%AC"),
        ("!'()*", True, "%21%27%28%29%2A"),
    ],
)
def test_uri_encode(raw, keep_slash, encoded):
    assert uri_encode(raw, keep_slash=keep_slash) == encoded


@given(st.text(alphabet=TEXT, max_size=30))
@settings(database=None, derandomize=True)
def test_uri_encode_matches_botocore(s):
    assert uri_encode(s, keep_slash=True) == percent_encode(s, safe="/~")
    assert uri_encode(s, keep_slash=False) == percent_encode(s, safe="-_.~")


def test_canonical_query():
    assert canonical_query([]) == ""
    assert canonical_query([("uploads", "")]) == "uploads="
    assert canonical_query([("uploadId", "a/b+c=="), ("partNumber", "2")]) == (
        "partNumber=2&uploadId=a%2Fb%2Bc%3D%3D"
    )
    # Repeated names sort by value; encoded order, so "%20" (space) sorts before "a".
    assert canonical_query([("k", "b"), ("k", "a"), ("k", " ")]) == "k=%20&k=a&k=b"


@pytest.mark.parametrize(
    ("epoch", "amz_date"),
    [
        (0, "19700101T000000Z"),
        (1_369_353_600, "20130524T000000Z"),
        (951_782_400.999, "20000229T000000Z"),
        (4_102_444_799, "20991231T235959Z"),
    ],
)
def test_amz_date_from_epoch(epoch, amz_date):
    assert amz_date_from_epoch(epoch) == amz_date


def test_reserved_header_is_refused_and_unsignable_header_skipped():
    signer = SigV4Signer("us-east-1")
    cred = Credential("AK", "secret")
    with pytest.raises(ValueError, match="x-amz-date"):
        signer.sign(
            "GET", "h", "/", "", [("X-Amz-Date", "x")], UNSIGNED_PAYLOAD, AWS_DOC_DATE, cred
        )
    plain = signer.sign("GET", "h", "/", "", (), UNSIGNED_PAYLOAD, AWS_DOC_DATE, cred)
    with_agent = signer.sign(
        "GET", "h", "/", "", [("User-Agent", "sai3bench")], UNSIGNED_PAYLOAD, AWS_DOC_DATE, cred
    )
    assert with_agent == plain


def test_credential_repr_hides_secrets():
    credential = Credential("AKID", "s3cr3t", "t0k3n", 1.0)
    assert repr(credential) == (
        "Credential(access_key='AKID', secret_key='***', token='***', expires_at=1.0)"
    )
    assert "s3cr3t" not in str(list(credential.__rich_repr__()))
    assert repr(Credential("AKID", "s")) == (
        "Credential(access_key='AKID', secret_key='***', token=None, expires_at=None)"
    )


# ---- the per-second parts of plain requests -----------------------------------------------

_PLAIN_CREDS = [
    Credential("AK", "secret"),
    Credential("AK", "secret", "tok en"),
    Credential("AK2", "other"),
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["GET", "PUT", "HEAD", "DELETE"]),
            st.sampled_from(["/b/k", "/b/dir/k%201", "/"]),
            st.sampled_from(["", "a=1&b="]),
            st.sampled_from(["h", "127.0.0.1:9000"]),
            st.sampled_from(
                [
                    UNSIGNED_PAYLOAD,
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                ]
            ),
            st.sampled_from(["20261128T123456Z", "20261128T123457Z", "20261129T000000Z"]),
            st.sampled_from(range(len(_PLAIN_CREDS))),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_plain_requests_sign_as_the_general_path(requests):
    """A signer reused over any sequence of requests without extra headers (the path that
    keeps each second's constant parts) signs each exactly as a fresh signer's general path."""
    reused = SigV4Signer("us-east-1")
    for method, path, query, host, payload, amz_date, c in requests:
        args = (method, host, path, query, (), payload, amz_date, _PLAIN_CREDS[c])
        assert reused.sign(*args) == SigV4Signer("us-east-1").sign(*args)  # fresh: the general path
