"""endpoint_from_url: one parse of an endpoint URL, refusing what cannot be an endpoint."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from sai3bench.errors import ConfigError
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT, endpoint_from_url


@pytest.mark.parametrize("port", ["0", "65536", "99999", "abc", "", "-1", "80a"])
def test_a_port_outside_1_to_65535_is_refused_naming_it_and_the_range(port: str) -> None:
    with pytest.raises(ConfigError) as err:
        endpoint_from_url(f"http://127.0.0.1:{port}", source="s3://127.0.0.1:x/b/")
    assert f"bad port {port!r} in s3://127.0.0.1:x/b/" in err.value.msg
    assert "1 to 65535" in err.value.msg


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://127.0.0.1:1", "127.0.0.1", 1),
        ("http://127.0.0.1:65535", "127.0.0.1", 65535),
        ("https://h", "h", 443),
        ("http://h", "h", 80),
        ("http://[::1]:9000", "::1", 9000),
        ("http://user:pw@h:81", "h", 81),
    ],
)
def test_valid_ports(url: str, host: str, port: int) -> None:
    ep = endpoint_from_url(url)
    assert (ep.host, ep.port) == (host, port)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://h:9000", ""),
        ("http://h:9000/", ""),
        ("http://h/s3", "/s3"),
        ("http://h/a/b/", "/a/b"),
    ],
)
def test_a_path_is_kept_without_its_trailing_slash(url: str, path: str) -> None:
    assert endpoint_from_url(url).path == path


def test_first_byte_timeout_rides_on_the_endpoint() -> None:
    assert endpoint_from_url("http://h").first_byte_timeout == DEFAULT_FIRST_BYTE_TIMEOUT
    assert endpoint_from_url("http://h", first_byte_timeout=2.5).first_byte_timeout == 2.5


def test_ca_bundle_replaces_the_system_cas(tmp_path: Path) -> None:
    from tests.integration.tlscerts import make_certs

    certs = make_certs(tmp_path)
    tls = endpoint_from_url("https://h", ca_bundle=str(certs.ca)).tls
    assert tls is not None and tls.verify_mode == ssl.CERT_REQUIRED
    (ca,) = tls.get_ca_certs()
    assert (("commonName", "sai3bench test CA"),) in ca["subject"]


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_an_unusable_ca_bundle_is_one_config_error(tmp_path: Path, content: bytes | None) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        endpoint_from_url("https://h", ca_bundle=str(bundle))
    assert f"the CA bundle {str(bundle)!r} cannot be used" in err.value.msg


def test_insecure_ignores_the_bundle_and_checks_nothing(tmp_path: Path) -> None:
    tls = endpoint_from_url("https://h", insecure=True, ca_bundle=str(tmp_path / "none")).tls
    assert tls is not None and tls.verify_mode == ssl.CERT_NONE and not tls.check_hostname


def test_a_url_without_scheme_names_where_it_came_from() -> None:
    with pytest.raises(ConfigError) as err:
        endpoint_from_url("localhost:9000", source="AWS_ENDPOINT_URL")
    assert err.value.msg == "AWS_ENDPOINT_URL='localhost:9000' is not an endpoint URL"
    assert err.value.hint == "set AWS_ENDPOINT_URL to http://host:port or https://host"


@pytest.mark.parametrize("url", ["http://[::1", "http://[not-ipv6]:9000"])
def test_a_broken_ipv6_literal_is_one_config_error(url: str) -> None:
    """urlsplit raises ValueError ("Invalid IPv6 URL") for these: a traceback before."""
    with pytest.raises(ConfigError) as err:
        endpoint_from_url(url, source="AWS_ENDPOINT_URL")
    assert err.value.msg == f"AWS_ENDPOINT_URL={url!r} is not an endpoint URL"
