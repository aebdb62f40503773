"""s3://host:port/bucket/ names its endpoint: a bad port is refused at once, in one line."""

from __future__ import annotations

import pytest

from sai3bench.backends.registry import Backends
from sai3bench.errors import ConfigError


@pytest.mark.parametrize("port", ["99999", "0", "65536", "abc", ""])
def test_bad_port_in_the_uri_names_the_port_and_the_range(port: str) -> None:
    uri = f"s3://127.0.0.1:{port}/b/"
    with pytest.raises(ConfigError) as err:
        Backends(concurrency=1).for_uri(uri)
    assert err.value.msg == f"bad port {port!r} in {uri}: a TCP port is a number from 1 to 65535"
    assert err.value.exit_code == 2


def test_bad_port_in_aws_endpoint_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:70000")
    with pytest.raises(ConfigError) as err:
        Backends(concurrency=1).for_uri("s3://bucket/k")
    assert "bad port '70000' in AWS_ENDPOINT_URL" in err.value.msg
