"""botocore credential chain -> Credential snapshots, refresh off the loop, region lookup.

No test may reach the network: every test runs with a scrubbed AWS_* environment, config and
credentials files in tmp_path, IMDS disabled, and a socket guard that fails the test on any
connection or name lookup outside loopback.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading

import pytest
from botocore.credentials import Credentials, RefreshableCredentials

from sai3bench.errors import CredentialError
from sai3bench.signers.aws_credentials import (
    BotocoreCredentialProvider,
    ca_bundle_from_env,
    open_aws_credentials,
    region_from_env,
)
from sai3bench.signers.base import Credential, CredentialProvider, StaticCredentialProvider
from sai3bench.signers.sigv4 import UNSIGNED_PAYLOAD, SigV4Signer

UTC = datetime.UTC


@pytest.fixture(autouse=True)
def aws_files(monkeypatch, tmp_path):
    """A clean AWS environment: no AWS_* variables, empty config files in tmp_path, no IMDS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    config = tmp_path / "config"
    credentials = tmp_path / "credentials"
    config.write_text("")
    credentials.write_text("")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return config, credentials


def test_the_socket_guard_works(no_network):
    with pytest.raises(AssertionError, match=r"169\.254\.169\.254"):
        socket.create_connection(("169.254.169.254", 80), timeout=0.01)
    assert no_network == ["resolve '169.254.169.254'"]
    no_network.clear()


def test_env_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    provider = BotocoreCredentialProvider.load()
    assert isinstance(provider, CredentialProvider)
    assert provider.current() == Credential("AKIDENV", "env-secret", None, None)
    assert provider.method == "env"
    assert not provider.needs_refresh(now=4e9)  # static keys never expire
    assert repr(provider) == "<BotocoreCredentialProvider env, expires never>"


def test_env_session_token_is_propagated_and_signed(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEJr//token==")
    credential = BotocoreCredentialProvider.load().current()
    assert credential.token == "FwoGZXIvYXdzEJr//token=="
    added = dict(
        SigV4Signer("us-east-1").sign(
            "GET", "h", "/b/k", "", (), UNSIGNED_PAYLOAD, "20261128T000000Z", credential
        )
    )
    assert added["x-amz-security-token"] == "FwoGZXIvYXdzEJr//token=="
    assert "x-amz-security-token" in added["authorization"].split("SignedHeaders=")[1]


def test_shared_credentials_file_profile(monkeypatch, aws_files):
    _, credentials = aws_files
    credentials.write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n"
        "[bench]\naws_access_key_id = AKIDBENCH\naws_secret_access_key = bench-secret\n"
        "aws_session_token = bench-token\n"
    )
    assert BotocoreCredentialProvider.load().current().access_key == "AKIDDEFAULT"
    by_argument = BotocoreCredentialProvider.load("bench").current()
    assert by_argument == Credential("AKIDBENCH", "bench-secret", "bench-token", None)
    monkeypatch.setenv("AWS_PROFILE", "bench")
    assert BotocoreCredentialProvider.load().current() == by_argument


def test_open_aws_credentials_runs_in_a_thread(monkeypatch, run_loop):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    provider = run_loop(open_aws_credentials())
    assert provider.current().access_key == "AKIDENV"


def test_missing_credentials():
    with pytest.raises(CredentialError) as info:
        BotocoreCredentialProvider.load()
    assert str(info.value) == "no AWS credentials found"
    assert info.value.hint == (
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run on an instance "
        "with a role"
    )


def test_unknown_profile(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nope")
    with pytest.raises(CredentialError, match="AWS profile 'nope' not found") as info:
        BotocoreCredentialProvider.load()
    assert "\n" not in info.value.msg
    assert info.value.hint is not None


# ---- refresh ------------------------------------------------------------------------------

T0 = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


class FakeSTS:
    """A refresh_using callback: hands out numbered keys, records the thread it ran on."""

    def __init__(self, lifetime_s: float = 3600.0, fail: bool = False) -> None:
        self.lifetime_s = lifetime_s
        self.fail = fail
        self.calls = 0
        self.threads: list[int] = []
        self.clock = T0

    def now(self) -> datetime.datetime:
        return self.clock

    def __call__(self) -> dict[str, str]:
        self.threads.append(threading.get_ident())
        if self.fail:
            raise RuntimeError("sts unreachable")
        self.calls += 1
        expiry = self.clock + datetime.timedelta(seconds=self.lifetime_s)
        return {
            "access_key": f"ASIA{self.calls}",
            "secret_key": f"secret-{self.calls}",
            "token": f"token-{self.calls}",
            "expiry_time": expiry.isoformat(),
        }


def refreshable(sts: FakeSTS, expires_in_s: float) -> RefreshableCredentials:
    # time_fetcher pins botocore's own clock, which decides whether it really refreshes.
    return RefreshableCredentials(
        access_key="ASIA0",
        secret_key="secret-0",
        token="token-0",
        expiry_time=T0 + datetime.timedelta(seconds=expires_in_s),
        refresh_using=sts,
        method="assume-role",
        time_fetcher=sts.now,
    )


def test_needs_refresh_near_expiry():
    provider = BotocoreCredentialProvider(refreshable(FakeSTS(), 3600), refresh_margin=300)
    expires_at = provider.current().expires_at
    assert expires_at == T0.timestamp() + 3600
    assert not provider.needs_refresh(expires_at - 301)
    assert provider.needs_refresh(expires_at - 299)
    assert provider.needs_refresh(expires_at + 10)  # expired: certainly
    assert not StaticCredentialProvider(Credential("a", "b")).needs_refresh(expires_at)


def test_refresh_runs_in_a_thread_and_swaps_the_snapshot(run_loop):
    sts = FakeSTS()
    provider = BotocoreCredentialProvider(refreshable(sts, 3600), refresh_margin=300)
    old = provider.current()
    assert old.expires_at is not None
    run_loop(provider.refresh_if_needed(old.expires_at - 3000))  # not due: nothing happens
    assert sts.calls == 0
    assert provider.current() is old

    sts.clock = T0 + datetime.timedelta(seconds=3400)  # 200 s left, inside botocore's window
    run_loop(provider.refresh_if_needed(sts.clock.timestamp()))
    new = provider.current()
    assert sts.calls == 1
    assert sts.threads[0] != threading.get_ident()  # botocore's blocking refresh ran off-loop
    assert new == Credential("ASIA1", "secret-1", "token-1", sts.clock.timestamp() + 3600)
    assert old == Credential("ASIA0", "secret-0", "token-0", T0.timestamp() + 3600)  # untouched
    assert not provider.needs_refresh(sts.clock.timestamp())


def test_failed_refresh_keeps_a_valid_credential_then_raises_once_expired(run_loop):
    sts = FakeSTS(fail=True)
    provider = BotocoreCredentialProvider(
        refreshable(sts, 3600), refresh_margin=300, retry_interval=10
    )
    old = provider.current()
    sts.clock = T0 + datetime.timedelta(seconds=3400)
    now = sts.clock.timestamp()
    run_loop(provider.refresh_if_needed(now))  # fails inside botocore's mandatory window
    assert len(sts.threads) == 1
    assert provider.current() is old
    assert not provider.needs_refresh(now + 9)  # backing off
    assert provider.needs_refresh(now + 10)

    sts.clock = T0 + datetime.timedelta(seconds=3700)  # now expired
    with pytest.raises(CredentialError, match="expired and could not be refreshed: sts"):
        run_loop(provider.refresh_if_needed(sts.clock.timestamp()))


def test_plain_botocore_credentials_never_expire():
    provider = BotocoreCredentialProvider(Credentials("AK", "SK", "TK", method="explicit"))
    assert provider.current() == Credential("AK", "SK", "TK", None)
    assert not provider.needs_refresh(4e9)


# ---- region -------------------------------------------------------------------------------


def test_region_resolution_order(monkeypatch, aws_files):
    config, _ = aws_files
    assert region_from_env(None) == "us-east-1"
    config.write_text("[default]\nregion = eu-north-1\n[profile bench]\nregion = eu-west-3\n")
    assert region_from_env(None) == "eu-north-1"
    assert region_from_env(None, profile="bench") == "eu-west-3"
    monkeypatch.setenv("AWS_PROFILE", "bench")
    assert region_from_env(None) == "eu-west-3"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert region_from_env(None) == "ap-south-1"
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert region_from_env(None) == "sa-east-1"
    assert region_from_env("us-west-2") == "us-west-2"


def test_ca_bundle_resolution_order(monkeypatch, aws_files):
    """AWS_CA_BUNDLE, else the profile's ca_bundle, else None (the system CAs), as botocore."""
    config, _ = aws_files
    assert ca_bundle_from_env() is None
    config.write_text("[default]\nca_bundle = /d.pem\n[profile bench]\nca_bundle = /b.pem\n")
    assert ca_bundle_from_env() == "/d.pem"
    assert ca_bundle_from_env(profile="bench") == "/b.pem"
    assert ca_bundle_from_env(profile="nope") is None  # credential loading names the profile
    monkeypatch.setenv("AWS_CA_BUNDLE", "/env.pem")
    assert ca_bundle_from_env(profile="bench") == "/env.pem"


def test_region_with_unknown_profile_falls_back(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nope")
    assert region_from_env(None) == "us-east-1"
