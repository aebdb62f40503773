"""Google bearer tokens: emulator detection, project lookup, token refresh off the loop, and
one-line errors for missing credentials.

No test may reach the network: a socket guard fails the test on any connection or name lookup
outside loopback (the metadata server, oauth2.googleapis.com). The one real token exchange goes
to a local HTTP server named as ``token_uri`` in a generated service-account key file.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
from typing import Any

import google.auth.exceptions
import pytest
import uvloop
from google.auth.credentials import Credentials as GoogleCredentials

from sai3bench.errors import CredentialError
from sai3bench.signers.base import CredentialProvider
from sai3bench.signers.gcs import (
    NO_CREDENTIALS_HINT,
    GoogleCredentialProvider,
    is_anonymous,
    open_gcs_credentials,
    project_from_env,
)

UTC = datetime.UTC
T0 = 1_800_000_000.0  # epoch seconds
GOOGLE_VARS = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GCS_PROJECT",
    "STORAGE_EMULATOR_HOST",
    "GCS_ENDPOINT_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No Google variables, an empty gcloud config dir, no proxy for the local token server."""
    for name in GOOGLE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


# --- environment -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "anonymous"),
    [
        ({}, False),
        ({"STORAGE_EMULATOR_HOST": "127.0.0.1:9023"}, True),
        ({"STORAGE_EMULATOR_HOST": "http://gcs-emulator:4443"}, True),
        ({"GCS_ENDPOINT_URL": "http://minio.lan:9000"}, True),  # cleartext: never a token
        ({"GCS_ENDPOINT_URL": "https://localhost:4443"}, True),  # fake-gcs-server's default
        ({"GCS_ENDPOINT_URL": "https://127.0.0.1:4443"}, True),
        ({"GCS_ENDPOINT_URL": "https://[::1]:4443"}, True),
        ({"GCS_ENDPOINT_URL": "https://storage-psc.p.googleapis.com"}, False),
        ({"STORAGE_EMULATOR_HOST": ""}, False),
    ],
)
def test_is_anonymous(env, anonymous):
    assert is_anonymous(env) is anonymous


def test_is_anonymous_reads_os_environ(monkeypatch):
    assert not is_anonymous()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "localhost:9023")
    assert is_anonymous()


def test_project_from_env_order(monkeypatch):
    assert project_from_env() is None
    monkeypatch.setenv("GCS_PROJECT", "third")
    assert project_from_env() == "third"
    monkeypatch.setenv("GCLOUD_PROJECT", "second")
    assert project_from_env() == "second"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "first")
    assert project_from_env() == "first"
    assert project_from_env({"GCS_PROJECT": "given"}) == "given"


# --- missing credentials ---------------------------------------------------------------------


def test_no_credentials_is_one_line_with_a_hint():
    def nothing(**kwargs: Any) -> Any:
        raise google.auth.exceptions.DefaultCredentialsError(
            "Your default credentials were not found. To set up Application Default "
            "Credentials, see https://cloud.google.com/docs/authentication/external/set-up-adc "
            "for more information."
        )

    with pytest.raises(CredentialError) as info:
        GoogleCredentialProvider.load(default=nothing)
    assert info.value.msg == "no Google credentials found: Your default credentials were not found."
    assert info.value.hint == NO_CREDENTIALS_HINT
    assert "gcloud auth application-default login" in NO_CREDENTIALS_HINT
    assert "STORAGE_EMULATOR_HOST" in NO_CREDENTIALS_HINT
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained trace


def test_missing_key_file_through_the_real_chain(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nope.json"))
    with pytest.raises(CredentialError) as info:
        GoogleCredentialProvider.load()
    assert info.value.msg.startswith("no Google credentials found: File ")
    assert "\n" not in info.value.msg and info.value.hint == NO_CREDENTIALS_HINT


def test_unreadable_key_file(monkeypatch, tmp_path):
    bad = tmp_path / "key.json"
    bad.write_text('{"type": "service_account"}')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bad))
    with pytest.raises(CredentialError) as info:
        GoogleCredentialProvider.load()
    assert "\n" not in info.value.msg and info.value.hint is not None


# --- a fake credential with a clock ----------------------------------------------------------


class FakeCredentials(GoogleCredentials):  # type: ignore[misc]
    """google-auth credentials whose refresh hands out numbered tokens lasting ``lifetime_s``."""

    def __init__(
        self, clock: list[float], lifetime_s: float = 3600.0, quota_project: str | None = None
    ) -> None:
        super().__init__()
        self.clock = clock
        self.lifetime_s = lifetime_s
        self.calls = 0
        self.fail = False
        self.same_token = False
        self.threads: list[int] = []
        self._quota_project_id = quota_project

    def refresh(self, request: Any) -> None:
        self.threads.append(threading.get_ident())
        if self.fail:
            raise google.auth.exceptions.RefreshError("token endpoint said\nno")
        if self.same_token and self.token:
            return
        self.calls += 1
        self.token = f"tok-{self.calls}"
        expiry = datetime.datetime.fromtimestamp(self.clock[0] + self.lifetime_s, UTC)
        self.expiry = expiry.replace(tzinfo=None)  # google-auth keeps naive UTC


def provider_for(creds: FakeCredentials, **kwargs: Any) -> GoogleCredentialProvider:
    return GoogleCredentialProvider(creds, request=object(), **kwargs)  # type: ignore[arg-type]


def test_first_token_is_fetched_on_creation_and_headers_are_built_once():
    creds = FakeCredentials([T0])
    provider = provider_for(creds, project="proj")
    assert isinstance(provider, CredentialProvider)
    assert creds.calls == 1 and creds.threads == [threading.get_ident()]
    assert provider.header() == ("authorization", "Bearer tok-1")
    assert provider.header() is provider.header()  # one tuple per token, not per op
    assert provider.headers() is provider.headers()
    assert provider.headers() == (("authorization", "Bearer tok-1"),)
    assert provider.expires_at == pytest.approx(T0 + 3600)
    assert provider.current().token == "tok-1" and "tok-1" not in repr(provider.current())
    assert provider.project == "proj"
    assert (
        repr(provider) == f"<GoogleCredentialProvider FakeCredentials, expires at {T0 + 3600:.0f}>"
    )


def test_quota_project_header_rides_along():
    provider = provider_for(FakeCredentials([T0], quota_project="billing-proj"))
    assert dict(provider.headers()) == {
        "authorization": "Bearer tok-1",
        "x-goog-user-project": "billing-proj",
    }


def test_a_valid_token_is_not_fetched_again():
    creds = FakeCredentials([T0])
    creds.token = "given"
    creds.expiry = (datetime.datetime.now(UTC) + datetime.timedelta(hours=1)).replace(tzinfo=None)
    provider = provider_for(creds)
    assert creds.calls == 0 and provider.header() == ("authorization", "Bearer given")


def test_needs_refresh_timing():
    provider = provider_for(FakeCredentials([T0]), refresh_margin=300.0)
    assert not provider.needs_refresh(T0)
    assert not provider.needs_refresh(T0 + 3600 - 301)
    assert provider.needs_refresh(T0 + 3600 - 300)
    assert provider.needs_refresh(T0 + 4000)  # expired: certainly


def test_refresh_runs_in_a_thread_and_swaps_the_token(run_loop):
    clock = [T0]
    creds = FakeCredentials(clock)
    provider = provider_for(creds)
    old = provider.header()

    async def go() -> None:
        await provider.refresh_if_needed(T0 + 10)  # not due: nothing happens
        assert creds.calls == 1
        clock[0] = T0 + 3400
        await provider.refresh_if_needed(clock[0])

    run_loop(go())
    assert creds.calls == 2 and creds.threads[-1] != threading.get_ident()
    assert provider.header() == ("authorization", "Bearer tok-2") and provider.header() != old
    assert provider.expires_at == pytest.approx(T0 + 3400 + 3600)
    assert not provider.needs_refresh(T0 + 3400)


def test_failed_refresh_keeps_a_valid_token_and_waits_to_retry():
    creds = FakeCredentials([T0])
    provider = provider_for(creds, retry_interval=10.0)
    creds.fail = True
    now = T0 + 3500
    asyncio.run(provider.refresh_if_needed(now))  # no raise: the token is still good
    assert provider.header() == ("authorization", "Bearer tok-1")
    assert not provider.needs_refresh(now + 5)  # waiting out the retry interval
    assert provider.needs_refresh(now + 10)


def test_expired_and_unrenewable_is_one_line():
    creds = FakeCredentials([T0])
    provider = provider_for(creds)
    creds.fail = True
    with pytest.raises(CredentialError) as info:
        asyncio.run(provider.refresh_if_needed(T0 + 3600))
    assert info.value.msg == (
        "Google credentials expired and could not be refreshed: token endpoint said no"
    )
    assert info.value.hint is not None


def test_same_token_back_backs_off():
    creds = FakeCredentials([T0])
    provider = provider_for(creds, retry_interval=10.0)
    creds.same_token = True  # the metadata server keeps its token until close to expiry
    now = T0 + 3400
    asyncio.run(provider.refresh_if_needed(now))
    assert len(creds.threads) == 2 and provider.header()[1] == "Bearer tok-1"
    assert not provider.needs_refresh(now + 1)
    assert provider.needs_refresh(now + 10)


def test_first_fetch_failure_is_a_credential_error():
    creds = FakeCredentials([T0])
    creds.fail = True
    with pytest.raises(CredentialError) as info:
        provider_for(creds)
    assert info.value.msg == "could not get a Google access token: token endpoint said no"


def test_concurrent_refreshes_start_one_thread():
    clock = [T0 + 3500]
    creds = FakeCredentials([T0])
    provider = provider_for(creds)
    creds.clock = clock

    async def go() -> None:
        await asyncio.gather(*(provider.refresh_if_needed(clock[0]) for _ in range(5)))

    asyncio.run(go())
    assert creds.calls == 2


# --- a real token exchange with a service-account key, against a local token endpoint ------


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_service_account_file_end_to_end(monkeypatch, tmp_path, httpserver, rsa_pem):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "ya29.local", "expires_in": 3599, "token_type": "Bearer"}
    )
    key_file = tmp_path / "sa.json"
    key_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "sa-project",
                "private_key_id": "k1",
                "private_key": rsa_pem,
                "client_email": "bench@sa-project.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": httpserver.url_for("/token"),
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    provider = uvloop.run(open_gcs_credentials())
    assert provider.header() == ("authorization", "Bearer ya29.local")
    assert provider.principal == "bench@sa-project.iam.gserviceaccount.com"
    assert provider.project == "sa-project"  # from the key file: no project variable set
    (request,) = [entry[0] for entry in httpserver.log]
    form = request.form
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert form["assertion"].count(".") == 2  # a signed JWT
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    assert GoogleCredentialProvider.load().project == "env-project"  # the variable wins


def test_user_credentials_quota_warning_is_silenced(monkeypatch):
    """gcloud user credentials make google-auth warn on stderr; the run needs no quota project."""
    import warnings

    monkeypatch.setenv("GCS_PROJECT", "env-project")

    def user_creds(**kwargs: Any) -> Any:
        warnings.warn(
            "Your application has authenticated using end user credentials from Google Cloud "
            "SDK without a quota project. You might receive a 'quota exceeded' error.",
            UserWarning,
            stacklevel=1,
        )
        assert kwargs == {"scopes": ["https://www.googleapis.com/auth/devstorage.read_write"]}
        return FakeCredentials([T0]), None

    # FakeCredentials ignores the transport; no requests.Session is needed.
    monkeypatch.setattr("sai3bench.signers.gcs.transport_request", lambda: object())
    provider = GoogleCredentialProvider.load(default=user_creds)  # filterwarnings=error: no raise
    assert provider.header() == ("authorization", "Bearer tok-1")
    assert provider.project == "env-project"
