"""config.uri: each scheme, the aliases, each refusal, and joining paths to the target."""

from __future__ import annotations

import pytest

from sai3bench.config.uri import ParsedUri, join_target, normalize_uri, parse_uri


@pytest.mark.parametrize(
    ("uri", "scheme", "authority", "path"),
    [
        ("file:///tmp/data/", "file", "", "/tmp/data/"),
        ("file:///", "file", "", "/"),
        ("direct:///mnt/nvme/x.dat", "direct", "", "/mnt/nvme/x.dat"),
        ("s3://bucket/prefix/obj", "s3", "bucket", "prefix/obj"),
        ("s3://bucket", "s3", "bucket", ""),
        ("s3://10.9.0.17:80/bucket/", "s3", "10.9.0.17:80", "bucket/"),
        ("gs://bucket/p/", "gs", "bucket", "p/"),
        ("gcs://bucket/p/", "gs", "bucket", "p/"),
        ("az://acct/cont/p", "az", "acct", "cont/p"),
        ("azure://acct/cont/", "az", "acct", "cont/"),
        ("S3://bucket/x", "s3", "bucket", "x"),
        ("s3://bucket/data/*", "s3", "bucket", "data/*"),
    ],
)
def test_parse_uri(uri, scheme, authority, path):
    assert parse_uri(uri) == ParsedUri(scheme=scheme, authority=authority, path=path)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("", "empty URI"),
        ("/tmp/data", "no scheme"),
        ("data/", "no scheme"),
        ("://x", "no scheme"),
        ("http://host/x", "unknown scheme 'http'.*file, direct, s3, gs, az"),
        ("ftp://x/y", "unknown scheme"),
        ("file://relative/x", "must be absolute.*file:///relative/x"),
        ("direct://mnt/x", "must be absolute"),
        ("file://", "must be absolute"),
        ("s3://", "has no bucket: expected s3://BUCKET/prefix"),
        ("s3:///key", "has no bucket"),
        ("gs:///key", "has no bucket: expected gs://BUCKET/prefix"),
        ("az:///cont/x", "has no account: expected az://ACCOUNT/CONTAINER/path"),
        ("az://acct", "no container"),
        ("az://acct/", "no container"),
    ],
)
def test_parse_uri_refuses(uri, reason):
    with pytest.raises(ValueError, match=reason):
        parse_uri(uri)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("gcs://b/x", "gs://b/x"),
        ("GCS://b/x", "gs://b/x"),
        ("azure://a/c/x", "az://a/c/x"),
        ("S3://b/X", "s3://b/X"),
        ("http://h/x", "http://h/x"),
        ("data/x", "data/x"),
    ],
)
def test_normalize_uri(uri, expected):
    assert normalize_uri(uri) == expected


@pytest.mark.parametrize(
    ("target", "path", "expected"),
    [
        ("file:///t/", "data", "file:///t/data"),
        ("file:///t", "data", "file:///t/data"),
        ("file:///t/", "/data", "file:///t/data"),
        ("file:///t", "/data", "file:///t/data"),
        ("file:///t", "/", "file:///t/"),
        ("file:///t/", "data/*", "file:///t/data/*"),
        ("file:///t/", "", "file:///t/"),
        ("s3://b/bench", "", "s3://b/bench"),
        ("s3://b/bench/", "smoke/", "s3://b/bench/smoke/"),
        ("gcs://b/", "x", "gs://b/x"),
        ("azure://a/c", "x", "az://a/c/x"),
        # an absolute path ignores the target, with or without one
        ("s3://b/", "file:///abs/x", "file:///abs/x"),
        (None, "s3://b/x", "s3://b/x"),
        (None, "gcs://b/x", "gs://b/x"),
        (None, "azure://a/c/x", "az://a/c/x"),
    ],
)
def test_join_target(target, path, expected):
    assert join_target(target, path) == expected


@pytest.mark.parametrize("path", ["data/", "/data", ""])
def test_join_target_relative_without_target(path):
    with pytest.raises(ValueError, match="relative path needs a top-level target"):
        join_target(None, path)


@pytest.mark.parametrize(
    "uri",
    ["file:///tmp/a\0b/", "s3://b\0x/k", "gs://b/k\0", "az://a/c/\0", "direct:///\0"],
)
def test_a_nul_character_is_refused_everywhere(uri: str) -> None:
    """Issue 8 item 9: a NUL in a target path ended in a traceback (open() raises ValueError)."""
    with pytest.raises(ValueError, match=r"contains a NUL character \(at position \d+\)"):
        parse_uri(uri)


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x01", "\x7f"])
def test_control_characters_are_refused_in_cloud_keys_only(char: str) -> None:
    for scheme in ("s3", "gs"):
        with pytest.raises(ValueError, match="contains the control character"):
            parse_uri(f"{scheme}://bucket/a{char}b")
    assert parse_uri(f"file:///tmp/a{char}b").path == f"/tmp/a{char}b"
