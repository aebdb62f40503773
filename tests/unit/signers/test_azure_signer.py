"""Shared Key signing against azure-storage-blob's SharedKeyCredentialPolicy (the oracle), and the
credentials Azure tools read from the environment.

The SDK policy is given an azure-core HttpRequest built from the raw inputs (the URL with the
blob name quoted as the SDK quotes it, the query encoded, the headers as sent) and signs it; its
string-to-sign is captured by wrapping the SDK's ``sign_string``. Ours is given what our request
builder sends. Strings and signatures must agree byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import threading
from typing import Any, NamedTuple
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from sai3bench.errors import CredentialError
from sai3bench.signers.azure import (
    DEV_ACCOUNT,
    DEV_BLOB_ENDPOINT,
    DEV_KEY,
    MARK,
    BearerTokenProvider,
    SasCredentials,
    SharedKeyCredentials,
    SharedKeySigner,
    credentials_from_env,
    decode_account_key,
    parse_connection_string,
    rfc1123_date,
    string_to_sign,
    xms_sort_key,
)
from sai3bench.signers.base import CredentialProvider
from sai3bench.signers.sigv4 import uri_encode

try:
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.pipeline.transport import HttpRequest
    from azure.storage.blob._shared import authentication as sdk_auth
except ImportError:  # pragma: no cover - the oracle is a test-only dependency
    if os.environ.get("CI") == "true":
        pytest.fail("azure-storage-blob (the signing oracle) is not installed", pytrace=False)
    pytest.skip("azure-storage-blob is not installed", allow_module_level=True)

SEED = int(os.environ.get("SAI3_TEST_SEED", "20261128"))
DATE = "Sat, 28 Nov 2026 12:34:56 GMT"
VERSION = ("x-ms-version", "2021-08-06")
OTHER_KEY = base64.b64encode(bytes(range(64))).decode()
UNPADDED_KEY = base64.b64encode(bytes(range(100, 163))).decode()  # 63 bytes: no '=' padding


class Signed(NamedTuple):
    sts: str
    authorization: str


def sdk_sign(
    account: str,
    key: str,
    method: str,
    base_url: str,
    name: str,
    params: list[tuple[str, str]],
    headers: list[tuple[str, str]],
) -> Signed:
    """The SDK's string-to-sign and Authorization for one request."""
    url = base_url + quote(name, safe="~/")  # as BlobClient builds a blob URL
    if params:
        url += "?" + "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in params)
    request = HttpRequest(method, url, headers=dict(headers))
    captured: list[str] = []
    real: Any = sdk_auth.sign_string  # type: ignore[attr-defined]

    def capture(k: str, sts: str, **kw: Any) -> str:
        captured.append(sts)
        return str(real(k, sts, **kw))

    with mock.patch.object(sdk_auth, "sign_string", capture):
        policy: Any = sdk_auth.SharedKeyCredentialPolicy(account, key)  # type: ignore[no-untyped-call]
        policy.on_request(PipelineRequest(request, PipelineContext(None)))
    return Signed(captured[0], request.headers["Authorization"])


def ours(
    account: str,
    key: str,
    method: str,
    base_path: str,
    name: str,
    params: list[tuple[str, str]],
    headers: list[tuple[str, str]],
) -> Signed:
    path = base_path + uri_encode(name, keep_slash=True)
    sts = string_to_sign(method, account, path, params, headers)
    return Signed(sts, SharedKeySigner(account, key).sign(method, path, params, headers))


def common(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [*extra, ("x-ms-date", DATE), VERSION]


ODD_BLOCK = "ab+/cd=="  # base64 with every character the query must encode

CASES = [
    # (method, name, params, headers)
    ("GET", "data/prepared-00000001.dat", [], common()),
    ("HEAD", "data/prepared-00000001.dat", [], common()),
    ("DELETE", "data/prepared-00000001.dat", [], common()),
    ("PUT", "k", [], common(("x-ms-blob-type", "BlockBlob"), ("Content-Length", "1024"))),
    ("PUT", "k", [], common(("x-ms-blob-type", "BlockBlob"), ("Content-Length", "0"))),
    ("GET", "k", [], common(("x-ms-range", "bytes=0-1023"))),
    ("GET", "dir/a b/ä€😀%2F+&=?#~.txt", [], common()),
    ("PUT", "k", [("comp", "block"), ("blockid", ODD_BLOCK)], common(("Content-Length", "5"))),
    ("PUT", "k", [("comp", "blocklist")], common(("Content-Length", "99"))),
    (
        "PUT",
        "k",
        [("comp", "blocklist")],
        common(
            ("Content-Type", "application/xml"),
            ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("Content-Length", "99"),
        ),
    ),
    (
        "GET",
        "",
        [
            ("restype", "container"),
            ("comp", "list"),
            ("prefix", "dir/ä b&c=d"),
            ("delimiter", "/"),
            ("maxresults", "7"),
            ("marker", "ZGF0YS8wMDA1=="),
        ],
        common(),
    ),
    ("PUT", "", [("restype", "container")], common(("Content-Length", "0"))),
    (
        "GET",
        "k",
        [],
        common(
            ("x-ms-client-request-id", "r-1"),
            ("x-ms-meta-a-b", "1"),
            ("x-ms-meta-ab", "2"),
            ("x-ms-meta-a", "3"),
            ("If-None-Match", '"0x1"'),
            ("If-Modified-Since", DATE),
        ),
    ),
    ("GET", "k", [], common(("Content-Encoding", "gzip"), ("Content-Language", "en"))),
    ("GET", "k", [], [("x-ms-date", DATE), VERSION, ("x-ms-blob-TYPE", "BlockBlob")]),
]


@pytest.mark.parametrize("method,name,params,headers", CASES)
@pytest.mark.parametrize(
    "account,key,base_url,base_path",
    [
        (
            DEV_ACCOUNT,
            DEV_KEY,
            "http://127.0.0.1:10000/devstoreaccount1/c/",
            "/devstoreaccount1/c/",
        ),
        ("acct", OTHER_KEY, "https://acct.blob.core.windows.net/c/", "/c/"),
    ],
    ids=["path-style", "host-style"],
)
def test_matches_the_sdk(
    account: str,
    key: str,
    base_url: str,
    base_path: str,
    method: str,
    name: str,
    params: list[tuple[str, str]],
    headers: list[tuple[str, str]],
) -> None:
    if not name:  # a container request: no trailing slash
        base_url, base_path = base_url[:-1], base_path[:-1]
    want = sdk_sign(account, key, method, base_url, name, params, headers)
    got = ours(account, key, method, base_path, name, params, headers)
    assert got == want


def test_path_style_resource_repeats_the_account() -> None:
    sts = sdk_sign(DEV_ACCOUNT, DEV_KEY, "GET", f"{DEV_BLOB_ENDPOINT}/c/", "b", [], common()).sts
    assert sts.endswith("\n/devstoreaccount1/devstoreaccount1/c/b")
    assert string_to_sign("GET", DEV_ACCOUNT, "/devstoreaccount1/c/b", (), common()) == sts


@seed(SEED)
@settings(max_examples=150, deadline=None)
@given(
    name=st.text(st.characters(codec="utf-8"), min_size=1),
    prefix=st.text(st.characters(codec="utf-8"), min_size=1),
    length=st.integers(0, 2**40),
)
def test_random_names_and_queries_match_the_sdk(name: str, prefix: str, length: int) -> None:
    headers = common(("Content-Length", str(length)))
    params = [("comp", "list"), ("restype", "container"), ("prefix", prefix)]
    base = "http://127.0.0.1:10000/devstoreaccount1/c/"
    want = sdk_sign(DEV_ACCOUNT, DEV_KEY, "PUT", base, name, params, headers)
    assert ours(DEV_ACCOUNT, DEV_KEY, "PUT", "/devstoreaccount1/c/", name, params, headers) == want


@seed(SEED)
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("ab1-._~", min_size=1, max_size=6), min_size=2, max_size=6, unique=True))
def test_header_order_is_the_services(names: list[str]) -> None:
    sdk = sorted(names, key=functools.cmp_to_key(sdk_auth.compare))
    assert sorted(names, key=xms_sort_key) == sdk


def test_standard_range_header_is_signed_in_its_slot() -> None:
    # The service and Azurite read Range into the last standard field; the SDK never sends one.
    sts = string_to_sign("GET", "a", "/c/b", (), [("Range", "bytes=0-9"), *common()])
    assert sts.split("\n")[11] == "bytes=0-9"


def test_repeated_query_names_join_sorted_values() -> None:
    sts = string_to_sign("GET", "a", "/c", [("Include", "snapshots"), ("include", "metadata")], ())
    assert sts.endswith("/a/c\ninclude:metadata,snapshots")


def test_header_values_are_trimmed_and_unfolded() -> None:
    sts = string_to_sign("GET", "a", "/c", (), [("X-MS-Meta-x", "  a \t b  ")])
    assert "\nx-ms-meta-x:a b\n" in sts


@pytest.mark.parametrize("length", [0, 1, 1024, 5 * 2**30])
def test_put_template_equals_the_general_path(length: int) -> None:
    signer = SharedKeySigner(DEV_ACCOUNT, DEV_KEY)
    fixed = common(("x-ms-blob-type", "BlockBlob"))
    tpl = signer.template("PUT", "/devstoreaccount1/c/", [*fixed, ("content-length", MARK)])
    name = uri_encode("dir/ä b.txt", keep_slash=True)
    filled = tpl.fill(str(length) if length else "", name)
    path = "/devstoreaccount1/c/" + name
    assert filled == string_to_sign(
        "PUT", DEV_ACCOUNT, path, (), [*fixed, ("content-length", str(length))]
    )


def test_range_and_plain_templates_equal_the_general_path() -> None:
    signer = SharedKeySigner("acct", OTHER_KEY)
    rng = signer.template("GET", "/c/", [*common(), ("x-ms-range", MARK)])
    sts = string_to_sign("GET", "acct", "/c/k", (), [*common(), ("x-ms-range", "bytes=5-9")])
    assert rng.fill("bytes=5-9", "k") == sts
    plain = signer.template("HEAD", "/c/", common())
    assert plain.fill("", "k") == string_to_sign("HEAD", "acct", "/c/k", (), common())
    with pytest.raises(ValueError, match="one variable"):
        signer.template("GET", "/c/", [("content-length", MARK), ("x-ms-range", MARK)])


def test_key_is_decoded_once() -> None:
    signer = SharedKeySigner("acct", OTHER_KEY)
    with mock.patch("sai3bench.signers.azure.decode_account_key", side_effect=AssertionError):
        first = signer.sign("GET", "/c/k", (), common())
        assert signer.sign("GET", "/c/k", (), common()) == first
    assert (
        first == sdk_sign("acct", OTHER_KEY, "GET", "https://h/c/", "k", [], common()).authorization
    )


def test_keys_longer_than_a_hash_block_match_the_sdk() -> None:
    key = base64.b64encode(bytes(range(100))).decode()  # HMAC hashes keys over 64 bytes first
    want = sdk_sign("acct", key, "GET", "https://h/c/", "k", [], common()).authorization
    assert SharedKeySigner("acct", key).sign("GET", "/c/k", (), common()) == want


@pytest.mark.parametrize("bad", ["", "not base64!", "abc", "===="])
def test_bad_key_is_a_credential_error(bad: str) -> None:
    with pytest.raises(CredentialError) as err:
        SharedKeySigner("acct", bad, source="AZURE_STORAGE_KEY")
    assert "AZURE_STORAGE_KEY is not a base64" in err.value.msg and "\n" not in err.value.msg
    assert err.value.hint


def test_decode_account_key_round_trips() -> None:
    assert decode_account_key(OTHER_KEY) == bytes(range(64))


def test_rfc1123_date() -> None:
    assert rfc1123_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert rfc1123_date(1795869296.9) == "Sat, 28 Nov 2026 12:34:56 GMT"


# --- connection strings and the environment ------------------------------------------------


def test_connection_string_from_the_portal() -> None:
    text = (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={OTHER_KEY};"
        "EndpointSuffix=core.chinacloudapi.cn"
    )
    auth = credentials_from_env({"AZURE_STORAGE_CONNECTION_STRING": text}, "acct")
    assert auth.account == "acct"
    assert auth.endpoint == "https://acct.blob.core.chinacloudapi.cn"
    assert isinstance(auth.credentials, SharedKeyCredentials)
    assert auth.credentials.signer.sign("GET", "/c/k", (), common()) == (
        sdk_sign("acct", OTHER_KEY, "GET", "https://h/c/", "k", [], common()).authorization
    )


def test_connection_string_names_are_case_insensitive_and_values_keep_equals() -> None:
    conn = parse_connection_string(f" accountname=a1b ; ACCOUNTKEY={OTHER_KEY};;")
    assert conn == {"ACCOUNTNAME": "a1b", "ACCOUNTKEY": OTHER_KEY}


def test_development_storage() -> None:
    auth = credentials_from_env({"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    assert (auth.account, auth.endpoint) == (DEV_ACCOUNT, DEV_BLOB_ENDPOINT)
    assert isinstance(auth.credentials, SharedKeyCredentials)
    assert auth.credentials.current().secret_key == DEV_KEY


def test_connection_string_with_blob_endpoint_and_sas() -> None:
    text = (
        "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2021&sig=a%2Bb="
    )
    auth = credentials_from_env({"AZURE_STORAGE_CONNECTION_STRING": text}, "acct")
    assert auth.endpoint == "https://acct.blob.core.windows.net/"
    assert isinstance(auth.credentials, SasCredentials)
    assert auth.credentials.query == "sv=2021&sig=a%2Bb="


def test_connection_string_with_a_local_blob_endpoint() -> None:
    text = f"AccountName=devstoreaccount1;AccountKey={DEV_KEY};BlobEndpoint=http://127.0.0.1:9/x"
    auth = credentials_from_env({"AZURE_STORAGE_CONNECTION_STRING": text})
    assert (auth.account, auth.endpoint) == (DEV_ACCOUNT, "http://127.0.0.1:9/x")


@pytest.mark.parametrize(
    "text,message",
    [
        ("AccountName", "part 1 of 1 of AZURE_STORAGE_CONNECTION_STRING has no '='"),
        ("AccountName=a;=x", "part 2 of 2 of AZURE_STORAGE_CONNECTION_STRING has no name"),
        (";;", "is empty"),
        (f"AccountKey={OTHER_KEY}", "names no AccountName"),
        ("AccountName=acct", "neither AccountKey nor SharedAccessSignature"),
        ("AccountName=acct;AccountKey=***", "AccountKey in AZURE_STORAGE_CONNECTION_STRING is not"),
    ],
)
def test_bad_connection_strings(text: str, message: str) -> None:
    with pytest.raises(CredentialError) as err:
        credentials_from_env({"AZURE_STORAGE_CONNECTION_STRING": text})
    assert message in err.value.msg and "\n" not in err.value.msg and err.value.hint


@pytest.mark.parametrize(
    "text",
    [
        f"AccountName=acct;{UNPADDED_KEY}",  # the key pasted without its AccountKey= name
        f"AccountName=acct;AccountKey;{UNPADDED_KEY}",
        f"AccountName=acct;={UNPADDED_KEY}",
        f"AccountName=acct;AccountKey=not base64 {UNPADDED_KEY}",
    ],
)
def test_a_bad_connection_string_never_echoes_its_parts(text: str) -> None:
    """Issue 8 item 11: the message named a malformed part by its first 40 characters, which
    can be the account key. No part of the value may appear in the message or the hint."""
    with pytest.raises(CredentialError) as err:
        credentials_from_env({"AZURE_STORAGE_CONNECTION_STRING": text})
    said = f"{err.value.msg}\n{err.value.hint}"
    for start in range(0, len(UNPADDED_KEY) - 8, 4):  # no 8 characters of the key, anywhere
        assert UNPADDED_KEY[start : start + 8] not in said, said
    assert "AZURE_STORAGE_CONNECTION_STRING" in err.value.msg


def test_account_key_variables() -> None:
    for var in ("AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY"):
        auth = credentials_from_env({"AZURE_STORAGE_ACCOUNT": "acct", var: OTHER_KEY})
        assert auth.account == "acct" and auth.endpoint is None
        assert isinstance(auth.credentials, SharedKeyCredentials)
    # The URI's account stands in for AZURE_STORAGE_ACCOUNT.
    auth = credentials_from_env({"AZURE_STORAGE_KEY": OTHER_KEY}, "fromuri")
    assert isinstance(auth.credentials, SharedKeyCredentials)
    assert auth.credentials.signer.account == "fromuri"


def test_connection_string_comes_first() -> None:
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "AZURE_STORAGE_KEY": OTHER_KEY,
        "AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x",
    }
    assert credentials_from_env(env).account == DEV_ACCOUNT


def test_sas_token_variable() -> None:
    auth = credentials_from_env({"AZURE_STORAGE_SAS_TOKEN": "?sv=2021&sig=x%3D"}, "acct")
    assert isinstance(auth.credentials, SasCredentials)
    assert auth.credentials.query == "sv=2021&sig=x%3D"
    with pytest.raises(CredentialError, match="not a SAS token"):
        credentials_from_env({"AZURE_STORAGE_SAS_TOKEN": "nonsense"}, "acct")


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(CredentialError) as err:
        credentials_from_env({"AZURE_STORAGE_ACCOUNT": "acct"}, "acct")
    assert err.value.msg == "no Azure credentials found"
    hint = err.value.hint or ""
    assert "\n" not in hint
    for var in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN"):
        assert var in hint


def test_key_without_any_account() -> None:
    with pytest.raises(CredentialError, match="no account is named"):
        credentials_from_env({"AZURE_STORAGE_KEY": OTHER_KEY})


def test_bad_key_variable_is_named() -> None:
    with pytest.raises(CredentialError, match="AZURE_STORAGE_ACCOUNT_KEY is not a base64"):
        credentials_from_env({"AZURE_STORAGE_ACCOUNT_KEY": "nope!"}, "acct")


@pytest.mark.parametrize(
    "env",
    [
        {"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"},
        {"AZURE_STORAGE_ACCOUNT": "other", "AZURE_STORAGE_KEY": OTHER_KEY},
        {"AZURE_STORAGE_ACCOUNT": "other", "AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"},
    ],
)
def test_credentials_for_another_account_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(CredentialError) as err:
        credentials_from_env(env, "acct")
    assert "the URI names account 'acct'" in err.value.msg


def test_static_credentials_are_providers() -> None:
    for provider in (SharedKeyCredentials("acct", OTHER_KEY), SasCredentials("sv=1&sig=x")):
        assert isinstance(provider, CredentialProvider)
        assert not provider.needs_refresh(1e12)
        asyncio.run(provider.refresh_if_needed(1e12))
    assert "***" in repr(SharedKeyCredentials("acct", OTHER_KEY).current())


# --- bearer tokens -------------------------------------------------------------------------


class FakeToken(NamedTuple):
    token: str
    expires_on: int


class FakeCredential:
    """A TokenCredential: hands out numbered tokens, or raises when told to."""

    def __init__(self, expires_on: int) -> None:
        self.expires_on = expires_on
        self.calls: list[tuple[tuple[str, ...], int]] = []
        self.fail: Exception | None = None

    def get_token(self, *scopes: str, **kwargs: Any) -> FakeToken:
        self.calls.append((scopes, threading.get_ident()))
        if self.fail is not None:
            raise self.fail
        return FakeToken(f"tok{len(self.calls)}", self.expires_on)


def test_bearer_token_is_cached_and_refreshed_in_a_thread() -> None:
    cred = FakeCredential(expires_on=10_000)
    provider = BearerTokenProvider(cred, refresh_margin=300)  # type: ignore[arg-type]
    assert isinstance(provider, CredentialProvider)
    assert cred.calls == [(("https://storage.azure.com/.default",), threading.get_ident())]
    header = provider.header
    assert header == "Bearer tok1" and provider.header is header  # one str, not rebuilt
    assert not provider.needs_refresh(9_699)
    assert provider.needs_refresh(9_700)
    cred.expires_on = 20_000
    asyncio.run(provider.refresh_if_needed(9_700))
    assert provider.header == "Bearer tok2" and provider.expires_at == 20_000
    assert cred.calls[-1][1] != threading.get_ident()  # the blocking call ran off the loop
    assert provider.current().token == "tok2"
    asyncio.run(provider.refresh_if_needed(9_800))  # not due: no call
    assert len(cred.calls) == 2


def test_bearer_refresh_failure_keeps_a_valid_token_then_raises_once_expired() -> None:
    cred = FakeCredential(expires_on=10_000)
    provider = BearerTokenProvider(cred, refresh_margin=300, retry_interval=10)  # type: ignore[arg-type]
    cred.fail = RuntimeError("identity endpoint\nunreachable")
    asyncio.run(provider.refresh_if_needed(9_800))
    assert provider.header == "Bearer tok1"
    assert not provider.needs_refresh(9_805)  # waiting for the retry
    assert provider.needs_refresh(9_810)
    with pytest.raises(CredentialError) as err:
        asyncio.run(provider.refresh_if_needed(10_001))
    assert "identity endpoint unreachable" in err.value.msg


def test_bearer_first_fetch_failure_is_a_credential_error() -> None:
    cred = FakeCredential(expires_on=1)
    cred.fail = RuntimeError("no az login")
    with pytest.raises(CredentialError, match="could not get an Azure Storage token: no az login"):
        BearerTokenProvider(cred)  # type: ignore[arg-type]


def test_token_credential_is_the_last_resort() -> None:
    cred = FakeCredential(expires_on=10_000)
    auth = credentials_from_env({}, "acct", token_credential=cred)  # type: ignore[arg-type]
    assert isinstance(auth.credentials, BearerTokenProvider)
    auth = credentials_from_env({"AZURE_STORAGE_KEY": OTHER_KEY}, "acct", token_credential=cred)  # type: ignore[arg-type]
    assert isinstance(auth.credentials, SharedKeyCredentials)


def test_default_token_credential_only_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-identity's DefaultAzureCredential is the fallback when installed and no key, SAS
    or connection string is set (a fake module stands in for the optional extra)."""
    import sys
    import types

    from sai3bench.signers.azure import default_token_credential

    fake = types.ModuleType("azure.identity")
    made: list[object] = []

    class DefaultAzureCredential:
        def __init__(self) -> None:
            made.append(self)

    fake.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity", fake)
    assert default_token_credential({"AZURE_STORAGE_KEY": "a2V5"}) is None
    assert default_token_credential({"AZURE_STORAGE_SAS_TOKEN": "sv=x"}) is None
    cred = default_token_credential({"AZURE_STORAGE_ACCOUNT": "acct"})
    assert cred is made[0]
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # not installed
    assert default_token_credential({}) is None
