"""A 2xx body that is not the storage API's document names the endpoint that sent it.

A plain web server answering 200 with an HTML page is the usual cause: the person needs the
endpoint and "not speaking <API>", not only "body is not XML".
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from sai3bench.backends.azure import AzureBackend
from sai3bench.backends.azureshapes import AzureMalformedResponse, parse_list_blobs
from sai3bench.backends.cloud import CloudBackend
from sai3bench.backends.gcs import GcsBackend
from sai3bench.backends.gcsshapes import GcsMalformedResponse, parse_list
from sai3bench.backends.s3 import S3Backend
from sai3bench.backends.s3shapes import S3MalformedResponse, parse_list_v2
from sai3bench.http.endpoint import Endpoint
from sai3bench.outcome import MalformedResponse, Outcome

HTML = b"<html><body>Welcome to nginx!</body></html>"


@pytest.mark.parametrize(
    ("backend", "parse", "error", "dialect"),
    [
        (S3Backend, parse_list_v2, S3MalformedResponse, "S3"),
        (GcsBackend, parse_list, GcsMalformedResponse, "the GCS JSON API"),
        (AzureBackend, parse_list_blobs, AzureMalformedResponse, "Azure Blob"),
    ],
)
def test_a_web_page_instead_of_a_listing_names_the_endpoint(
    backend: type[CloudBackend],
    parse: Callable[[bytes], Any],
    error: type[MalformedResponse],
    dialect: str,
) -> None:
    b = object.__new__(backend)  # no credentials, no sockets: only the parse path
    b._http = SimpleNamespace(endpoint=Endpoint("127.0.0.1", 8080))  # type: ignore[assignment]
    with pytest.raises(error) as err:
        b._parsed(parse, HTML)
    assert err.value.outcome == Outcome.PROTOCOL
    assert err.value.detail.startswith(
        f"http://127.0.0.1:8080 is not speaking {dialect} as expected: "
    )
    assert err.value.permanent  # a whole body of the wrong kind: retrying gets the same page
    back = pickle.loads(pickle.dumps(err.value))
    assert type(back) is error and back.detail == err.value.detail and back.permanent
