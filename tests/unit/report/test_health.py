"""util health's table and hints (pure): the hint follows what the store said."""

from __future__ import annotations

from sai3bench.outcome import Outcome
from sai3bench.report.health import Step, format_table, hint_for


def test_table_rows_times_and_verdict() -> None:
    steps = [
        Step("resolve", True, 0.0001, "127.0.0.1"),
        Step("connect", True, 0.0005, "http://127.0.0.1:9000 (plain TCP)"),
        Step("credentials", False, 0.002, "403 SignatureDoesNotMatch: no"),
        Step("put", None, 0.0, "an earlier step failed"),
    ]
    lines = format_table("Health of s3://b/", steps).splitlines()
    assert lines[0] == "Health of s3://b/"
    assert lines[1].split() == ["STEP", "RESULT", "TIME", "DETAIL"]
    assert lines[2].split()[:4] == ["resolve", "ok", "0.10", "ms"]
    assert lines[4].split()[:4] == ["credentials", "FAILED", "2.00", "ms"]
    assert lines[5].split()[:3] == ["put", "skipped", "-"]
    assert lines[-1] == "Failed at credentials (2 of 4 steps passed)."
    ok = format_table("t", [Step("directory", True, 0.001), Step("put", True, 0.002)])
    assert ok.splitlines()[-1] == "All 2 steps passed in 3.00 ms."


def test_hints_name_the_cause() -> None:
    sig = hint_for("credentials", Outcome.PERMISSION, "403 SignatureDoesNotMatch: x")
    assert "check the secret key" in sig
    assert "AWS_ACCESS_KEY_ID" in hint_for(
        "credentials", Outcome.PERMISSION, "403 InvalidAccessKeyId"
    )
    assert "does not exist" in hint_for("credentials", Outcome.NOT_FOUND, "404 NoSuchBucket: x")
    assert "does not exist" in hint_for("credentials", Outcome.NOT_FOUND, "404 ContainerNotFound")
    refused = hint_for("connect", Outcome.CONNECTION, "cannot connect: refused")
    assert "check the endpoint and its port" in refused
    assert "may not put here" in hint_for("put", Outcome.PERMISSION, "403 AccessDenied: x")
    assert "does not resolve" in hint_for("resolve", Outcome.CONNECTION, "x")
    assert "in time" in hint_for("get", Outcome.TIMEOUT, "x")
    assert "directory exists" in hint_for("directory", Outcome.NOT_FOUND, "x")


def test_throttled_or_failing_store_is_not_blamed_on_credentials() -> None:
    """A 503 at the credentials step used to get "check the credentials"."""
    for outcome, detail in ((Outcome.THROTTLED, "503 SlowDown: x"), (Outcome.SERVER_ERROR, "500")):
        hint = hint_for("credentials", outcome, detail)
        assert "throttling or failing" in hint and "check the credentials" not in hint
