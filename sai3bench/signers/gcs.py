"""Google OAuth2 bearer tokens from google-auth, refreshed ahead of expiry off the hot path.

Owns: finding Google credentials (Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS,
gcloud's ADC file, the metadata server), turning each token into the request headers a GCS call
sends, the choice of anonymous access for emulators, and the project lookup.
Must never: run on the hot path or block the event loop. google-auth fetches tokens over the
network (oauth2.googleapis.com, the metadata server), so loading happens before the clock starts
and refreshing in a worker thread. google-auth is used for the credential chain and the token
exchange only; requests go out over sai3bench.http.

Rule 1: ``headers()`` and ``header()`` return the pairs built once per token; only
``refresh_if_needed`` replaces them.
Rule 2: a refresh that fails while the old token is still valid keeps the old one and retries
later; only an expired token that cannot be renewed raises CredentialError.
Rule 3: google-auth's own exceptions never escape: each becomes a one-line CredentialError.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import google.auth
import google.auth.exceptions
from google.auth.credentials import Credentials as GoogleCredentials
from google.auth.transport import Request as TransportRequest

from sai3bench.errors import CredentialError, one_line
from sai3bench.signers.base import Credential
from sai3bench.signers.refresh import Renewal

#: Variables naming the project, in the order they are read (bucket creation needs one).
PROJECT_VARS: Final = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCS_PROJECT")
NO_CREDENTIALS_HINT: Final = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service-account key file, or set STORAGE_EMULATOR_HOST to use an emulator"
)

Headers = tuple[tuple[str, str], ...]

#: The OAuth scope a benchmark needs: read and write objects, nothing more.
SCOPE_READ_WRITE: Final = "https://www.googleapis.com/auth/devstorage.read_write"


def is_anonymous(env: Mapping[str, str] | None = None) -> bool:
    """True when requests go to an emulator and carry no Authorization header.

    STORAGE_EMULATOR_HOST always means an emulator (the convention of Google's SDKs).
    GCS_ENDPOINT_URL means one when it is cleartext http:// or a loopback host: a bearer token
    must never travel in clear, and a private https endpoint (Private Service Connect) still
    needs one.
    """
    env = os.environ if env is None else env
    if env.get("STORAGE_EMULATOR_HOST"):
        return True
    url = env.get("GCS_ENDPOINT_URL")
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme == "http" or _is_loopback(parts.hostname)


def project_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The first of GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT, GCS_PROJECT that is set."""
    env = os.environ if env is None else env
    for name in PROJECT_VARS:
        value = env.get(name)
        if value:
            return value
    return None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_request() -> TransportRequest:
    """google-auth's HTTP transport for token requests: requests if installed, else urllib3."""
    try:
        import google.auth.transport.requests as with_requests
    except ImportError:  # requests is optional for google-auth; urllib3 is always there
        import google.auth.transport.urllib3 as with_urllib3
        import urllib3

        return with_urllib3.Request(urllib3.PoolManager())  # type: ignore[no-untyped-call]
    return with_requests.Request()


class _Token:
    """One token's request headers and expiry, built once in the refreshing thread."""

    __slots__ = ("auth", "credential", "expires_at", "headers")

    def __init__(self, headers: Headers, expires_at: float | None, principal: str) -> None:
        self.headers = headers
        self.auth = next(pair for pair in headers if pair[0] == "authorization")
        self.expires_at = expires_at
        token = self.auth[1].removeprefix("Bearer ")
        self.credential = Credential(principal, "", token, expires_at)


class GoogleCredentialProvider:
    """A ``CredentialProvider`` over google-auth credentials, handing out bearer headers.

    ``needs_refresh(now)`` turns True ``refresh_margin`` seconds before expiry; the refresh runs
    google-auth's blocking ``refresh`` in ``asyncio.to_thread``. The metadata server hands out
    the same token until close to its expiry, so a refresh that does not extend it waits
    ``retry_interval`` seconds before trying again instead of starting a thread every tick.
    """

    __slots__ = ("_renewal", "_request", "_source", "_token", "principal", "project")

    def __init__(
        self,
        source: GoogleCredentials,
        *,
        project: str | None = None,
        refresh_margin: float = 300.0,
        retry_interval: float = 10.0,
        request: TransportRequest | None = None,
    ) -> None:
        """Wrap google-auth credentials and fetch a first token if they hold no valid one.

        Blocks while fetching: call it before the loop runs, or through ``open_gcs_credentials``.

        Raises:
            CredentialError: the first token could not be fetched.
        """
        self._source = source
        self._renewal = Renewal(
            "Google credentials",
            "check the credential source (gcloud login, key file, metadata server)",
            margin=refresh_margin,
            retry_interval=retry_interval,
        )
        self._request = request
        #: Who the token speaks for: a service-account e-mail, else the credential type.
        self.principal: str = str(
            getattr(source, "service_account_email", None) or type(source).__name__
        )
        #: The project buckets are created in (env first, then what ADC found), or None.
        self.project = project
        try:
            if source.token and not source.expired:
                self._token = _snapshot(source, self.principal)
            else:
                self._token = _fetch(source, self._transport(), self.principal)
        except Exception as exc:  # refresh raises RefreshError, TransportError, OSError ...
            raise _load_error(exc) from exc

    @classmethod
    def load(
        cls, *, refresh_margin: float = 300.0, default: Callable[..., Any] | None = None
    ) -> GoogleCredentialProvider:
        """Resolve Application Default Credentials and fetch a token. Blocking.

        Args:
            refresh_margin: seconds before expiry at which a refresh starts.
            default: stands in for ``google.auth.default`` (tests).

        Raises:
            CredentialError: no credentials anywhere, an unreadable key file, or a token
                endpoint that refused or could not be reached.
        """
        find = default or google.auth.default
        try:
            with warnings.catch_warnings():
                # gcloud user credentials without a quota project warn on stderr; GCS bills the
                # bucket's project, so the warning is noise here.
                warnings.filterwarnings("ignore", message=".*quota project", category=UserWarning)
                source, found_project = find(scopes=[SCOPE_READ_WRITE])
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise CredentialError(
                f"no Google credentials found: {_first_sentence(exc)}", hint=NO_CREDENTIALS_HINT
            ) from None
        except Exception as exc:
            raise _load_error(exc) from None
        project = project_from_env() or (str(found_project) if found_project else None)
        return cls(source, project=project, refresh_margin=refresh_margin)

    def _transport(self) -> TransportRequest:
        if self._request is None:
            self._request = transport_request()
        return self._request

    @property
    def expires_at(self) -> float | None:
        """Wall-clock expiry of the current token (epoch seconds), None if it never expires."""
        return self._token.expires_at

    def header(self) -> tuple[str, str]:
        """``("authorization", "Bearer ...")`` of the current token; no I/O."""
        return self._token.auth

    def headers(self) -> Headers:
        """Every header the current token asks for (authorization, x-goog-user-project)."""
        return self._token.headers

    def current(self) -> Credential:
        """The current token as a ``Credential`` (token in ``token``), for the provider protocol."""
        return self._token.credential

    def needs_refresh(self, now: float) -> bool:
        """True within ``refresh_margin`` of expiry, unless a retry is waiting for its time."""
        return self._renewal.due(self._token.expires_at, now)

    async def refresh_if_needed(self, now: float) -> None:
        """Fetch a new token in a worker thread if due (see signers/refresh.py).

        Raises:
            CredentialError: the token has expired and the refresh failed.
        """
        transport = self._transport()
        fresh = await self._renewal.renew(
            now,
            self._token.expires_at,
            lambda: _fetch(self._source, transport, self.principal),
            _token_expiry,
        )
        if fresh is not None:
            self._token = fresh

    def __repr__(self) -> str:
        expires_at = self._token.expires_at
        expiry = "never" if expires_at is None else f"at {expires_at:.0f}"
        return f"<GoogleCredentialProvider {self.principal}, expires {expiry}>"


async def open_gcs_credentials(*, refresh_margin: float = 300.0) -> GoogleCredentialProvider:
    """``GoogleCredentialProvider.load`` in a worker thread, for callers already in a loop."""
    return await asyncio.to_thread(GoogleCredentialProvider.load, refresh_margin=refresh_margin)


def _token_expiry(token: _Token) -> float | None:
    return token.expires_at


def _fetch(source: GoogleCredentials, request: TransportRequest, principal: str) -> _Token:
    source.refresh(request)  # type: ignore[no-untyped-call]
    return _snapshot(source, principal)


def _snapshot(source: GoogleCredentials, principal: str) -> _Token:
    if not source.token:
        raise CredentialError("Google credentials gave no access token", hint=NO_CREDENTIALS_HINT)
    applied: dict[str, str] = {}
    # authorization, plus x-goog-user-project when a quota project is set
    source.apply(applied)  # type: ignore[no-untyped-call]
    headers = tuple((str(k).lower(), str(v)) for k, v in applied.items())
    if not any(name == "authorization" for name, _ in headers):
        raise CredentialError("Google credentials gave no Authorization header")
    return _Token(headers, _epoch(source.expiry), principal)


def _epoch(expiry: datetime.datetime | None) -> float | None:
    if expiry is None:
        return None
    if expiry.tzinfo is None:  # google-auth keeps expiry as naive UTC
        expiry = expiry.replace(tzinfo=datetime.UTC)
    return expiry.timestamp()


def _load_error(exc: Exception) -> CredentialError:
    if isinstance(exc, CredentialError):
        return exc
    return CredentialError(
        f"could not get a Google access token: {one_line(exc)}", hint=NO_CREDENTIALS_HINT
    )


def _first_sentence(exc: BaseException) -> str:
    # DefaultCredentialsError's text is a paragraph with a URL; its first sentence is the news.
    text = one_line(exc)
    cut = text.find(". ")
    return text[: cut + 1] if cut > 0 else text
