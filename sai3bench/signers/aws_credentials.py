"""AWS credentials from botocore's resolver chain, refreshed ahead of expiry off the hot path.

Owns: turning botocore's credential chain (env vars, shared config/credentials files, SSO,
container/IMDS, web identity, assume-role) into our immutable ``Credential`` snapshots, and the
region lookup.
Must never: run on the hot path or block the event loop. Loading and refreshing may touch files
and the network (IMDS, STS, SSO), so they run before the clock starts or in a worker thread.
botocore is used here for the chain only; signing is ``sigv4.SigV4Signer``.

Rule 1: ``current()`` returns the cached snapshot; only ``refresh_if_needed`` replaces it.
Rule 2: a refresh that fails while the old credential is still valid keeps the old one and
retries later; only an expired credential that cannot be renewed raises CredentialError.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from typing import Any

import botocore.exceptions
import botocore.session

from sai3bench.errors import CredentialError, one_line
from sai3bench.signers.base import Credential
from sai3bench.signers.refresh import Renewal

DEFAULT_REGION = "us-east-1"
_NO_CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run on an instance "
    "with a role"
)


class BotocoreCredentialProvider:
    """A ``CredentialProvider`` over a botocore ``Credentials`` object.

    ``needs_refresh(now)`` turns True ``refresh_margin`` seconds before expiry; the refresh runs
    botocore's blocking refresh in ``asyncio.to_thread``. botocore itself only renews inside its
    own windows (15 min advisory, 10 min mandatory), so with a margin wider than those a refresh
    may return the same expiry; the provider then waits ``retry_interval`` seconds before trying
    again instead of starting a thread every tick.
    """

    __slots__ = ("_credential", "_renewal", "_source", "method")

    def __init__(
        self, source: Any, *, refresh_margin: float = 300.0, retry_interval: float = 10.0
    ) -> None:
        """Wrap botocore credentials and take a first snapshot.

        Blocks if botocore must fetch (deferred SSO or assume-role credentials): call it before
        the loop runs, or through ``open_aws_credentials``.

        Args:
            source: a ``botocore.credentials.Credentials`` (or Refreshable/Deferred subclass).
            refresh_margin: seconds before expiry at which a refresh starts.
            retry_interval: seconds to wait after a refresh that failed or did not extend expiry.

        Raises:
            CredentialError: the first snapshot could not be taken.
        """
        self._source = source
        self._renewal = Renewal(
            "AWS credentials",
            "check the credential source (SSO login, instance role, STS reachable)",
            margin=refresh_margin,
            retry_interval=retry_interval,
        )
        #: Where botocore found the keys: "env", "shared-credentials-file", "iam-role", ...
        self.method: str = str(getattr(source, "method", "unknown"))
        try:
            self._credential = _snapshot(source)
        except Exception as exc:  # refresh callbacks raise anything: STS, SSO, HTTP errors
            raise _load_error(exc) from exc

    @classmethod
    def load(
        cls, profile: str | None = None, *, refresh_margin: float = 300.0
    ) -> BotocoreCredentialProvider:
        """Resolve credentials through botocore's chain. Blocking: call before the clock starts.

        Args:
            profile: the shared-config profile; None uses AWS_PROFILE, else "default".
            refresh_margin: seconds before expiry at which a refresh starts.

        Raises:
            CredentialError: no credentials anywhere in the chain, an unknown profile, or a
                source that failed (bad SSO token, unreachable STS).
        """
        try:
            source = botocore.session.Session(profile=profile).get_credentials()
        except botocore.exceptions.ProfileNotFound as exc:
            raise CredentialError(
                f"AWS profile {exc.kwargs.get('profile')!r} not found",
                hint="check AWS_PROFILE and the profiles in ~/.aws/config (or AWS_CONFIG_FILE)",
            ) from exc
        except Exception as exc:
            raise _load_error(exc) from exc
        if source is None:
            raise CredentialError("no AWS credentials found", hint=_NO_CREDENTIALS_HINT)
        return cls(source, refresh_margin=refresh_margin)

    def current(self) -> Credential:
        """The cached snapshot; no I/O."""
        return self._credential

    def needs_refresh(self, now: float) -> bool:
        """True within ``refresh_margin`` of expiry, unless a retry is waiting for its time."""
        return self._renewal.due(self._credential.expires_at, now)

    async def refresh_if_needed(self, now: float) -> None:
        """Renew the snapshot in a worker thread if due (see signers/refresh.py).

        Raises:
            CredentialError: the credential has expired and the refresh failed.
        """
        fresh = await self._renewal.renew(
            now, self._credential.expires_at, lambda: _snapshot(self._source), _expiry
        )
        if fresh is not None:
            self._credential = fresh

    def __repr__(self) -> str:
        expires_at = self._credential.expires_at
        expiry = "never" if expires_at is None else f"at {expires_at:.0f}"
        return f"<BotocoreCredentialProvider {self.method}, expires {expiry}>"


async def open_aws_credentials(
    profile: str | None = None, *, refresh_margin: float = 300.0
) -> BotocoreCredentialProvider:
    """``BotocoreCredentialProvider.load`` in a worker thread, for callers already in a loop."""
    return await asyncio.to_thread(
        BotocoreCredentialProvider.load, profile, refresh_margin=refresh_margin
    )


def region_from_env(explicit: str | None = None, *, profile: str | None = None) -> str:
    """The region to sign for, first found of: ``explicit``, AWS_REGION, AWS_DEFAULT_REGION,
    the profile's ``region`` in the shared config file, then ``us-east-1``.

    Reads the environment and the config file; call it once at startup.

    Args:
        explicit: a region given in the config or on the command line.
        profile: the profile to read; None uses AWS_PROFILE, else "default".
    """
    if explicit:
        return explicit
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name)
        if value:
            return value
    return _profile_setting("region", profile) or DEFAULT_REGION


def ca_bundle_from_env(*, profile: str | None = None) -> str | None:
    """The CA bundle botocore would verify S3 against: AWS_CA_BUNDLE, else ``ca_bundle`` in
    the profile's section of the shared config file (~/.aws/config), else None (system CAs).

    Reads the environment and the config file; the registry calls it once per endpoint.
    """
    value = os.environ.get("AWS_CA_BUNDLE")
    if value:
        return value
    return _profile_setting("ca_bundle", profile)


def _profile_setting(name: str, profile: str | None) -> str | None:
    """``name`` from the profile's section of the shared config file, or None if unset."""
    try:
        found = botocore.session.Session(profile=profile).get_scoped_config().get(name)
    except botocore.exceptions.BotoCoreError:
        found = None  # an unknown profile: credential loading reports it, with a hint
    return str(found) if found else None


def _snapshot(source: Any) -> Credential:
    # Frozen first: for deferred credentials it triggers the fetch that sets the expiry.
    frozen = source.get_frozen_credentials()
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        raise CredentialError("no AWS credentials found", hint=_NO_CREDENTIALS_HINT)
    # botocore keeps the expiry private (RefreshableCredentials._expiry_time, a datetime); there
    # is no public accessor, and plain Credentials have none.
    expiry = getattr(source, "_expiry_time", None)
    expires_at: float | None = None
    if isinstance(expiry, datetime.datetime):
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=datetime.UTC)
        expires_at = expiry.timestamp()
    return Credential(
        access_key=str(frozen.access_key),
        secret_key=str(frozen.secret_key),
        token=str(frozen.token) if frozen.token else None,
        expires_at=expires_at,
    )


def _load_error(exc: Exception) -> CredentialError:
    if isinstance(exc, CredentialError):
        return exc
    return CredentialError(
        f"could not load AWS credentials: {one_line(exc)}", hint=_NO_CREDENTIALS_HINT
    )


def _expiry(credential: Credential) -> float | None:
    return credential.expires_at
