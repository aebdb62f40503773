"""The one-line hint after a set-up failure names the variables of the storage in use."""

from __future__ import annotations

import pytest

from sai3bench.engine.runner import setup_hint
from sai3bench.outcome import Outcome


@pytest.mark.parametrize(
    ("outcome", "target", "needle"),
    [
        (Outcome.PERMISSION, "s3://b/p/", "AWS_ACCESS_KEY_ID"),
        (Outcome.PERMISSION, "gs://b/p/", "GOOGLE_APPLICATION_CREDENTIALS"),
        (Outcome.PERMISSION, "az://a/c/p/", "AZURE_STORAGE_KEY"),
        (Outcome.PERMISSION, "file:///data/", "file permissions"),
        (Outcome.CONNECTION, "s3://b/", "AWS_ENDPOINT_URL"),
        (Outcome.TIMEOUT, "gs://b/", "STORAGE_EMULATOR_HOST"),
        (Outcome.CONNECTION, "az://a/c/", "AZURE_STORAGE_ENDPOINT"),
        (Outcome.NOT_FOUND, "az://a/c/", "container"),
        (Outcome.SERVER_ERROR, "s3://b/", "the default"),
    ],
)
def test_hint_names_the_fix_for_the_scheme(outcome: Outcome, target: str, needle: str) -> None:
    hint = setup_hint(outcome, target, "the default")
    assert needle in hint and "\n" not in hint
    others = {"s3": "AWS_", "gs": "GOOGLE_", "az": "AZURE_"}
    scheme = target.partition("://")[0]
    assert not any(v in hint for k, v in others.items() if k != scheme)
