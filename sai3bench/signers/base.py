"""The credential a signer uses, and the provider that keeps it fresh.

Owns: ``Credential`` (an immutable snapshot of keys plus when they expire) and the
``CredentialProvider`` interface the engine drives.
Must never: do I/O inside ``current()``. The hot path calls it once per request, so it returns the
cached snapshot; fetching and refreshing happen in ``refresh_if_needed``, off the hot path.

Rule 1: a Credential is never mutated. A refresh swaps the provider's snapshot for a new one, so a
request signs with one consistent (access key, secret, token) triple even across a refresh.
Rule 2: secrets never reach a log line. ``Credential.__repr__`` masks the secret and the token.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec

from sai3bench.errors import CredentialError


class Credential(msgspec.Struct, frozen=True, gc=False):
    """One snapshot of cloud credentials.

    Attributes:
        access_key: the access key id (AWS ``AKIA...``/``ASIA...``); sent in clear in the
            Authorization header.
        secret_key: the secret; only ever used to derive signing keys.
        token: the session token of temporary credentials, else None. An empty string counts
            as no token, as botocore does.
        expires_at: wall-clock expiry in epoch seconds (``time.time()`` scale); None = never.
    """

    access_key: str
    secret_key: str
    token: str | None = None
    expires_at: float | None = None

    def __repr__(self) -> str:
        # msgspec's generated repr would print the secret; results dirs keep console logs.
        return "Credential(" + ", ".join(f"{k}={v!r}" for k, v in self.__rich_repr__()) + ")"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # rich (typer's tracebacks with locals) uses this instead of __repr__.
        return [
            ("access_key", self.access_key),
            ("secret_key", "***"),
            ("token", None if self.token is None else "***"),
            ("expires_at", self.expires_at),
        ]


@runtime_checkable
class CredentialProvider(Protocol):
    """Where a signer's credentials come from.

    ``now`` is always wall-clock epoch seconds (``time.time()``), because expiry times are wall
    clock; never a monotonic reading.
    """

    def current(self) -> Credential:
        """The cached credential. Cheap and I/O-free: called once per request on the hot path."""
        ...

    def needs_refresh(self, now: float) -> bool:
        """True when the credential is close enough to expiry that a refresh should start."""
        ...

    async def refresh_if_needed(self, now: float) -> None:
        """Refresh the cached credential if ``needs_refresh(now)``; never blocks the loop.

        The engine calls this off the hot path (e.g. once a second). Raises CredentialError only
        when the credential has expired and could not be renewed.
        """
        ...


class StaticCredentialProvider:
    """Fixed keys that never expire: tests, the mock server's ``--auth KEY:SECRET``, MinIO."""

    __slots__ = ("_credential",)

    def __init__(self, credential: Credential) -> None:
        self._credential = credential

    @classmethod
    def from_spec(cls, spec: str) -> StaticCredentialProvider:
        """Parse ``KEY:SECRET`` (split at the first colon; secrets may not hold one).

        Raises:
            CredentialError: the spec has no colon or an empty half.
        """
        access_key, sep, secret_key = spec.partition(":")
        if not sep or not access_key or not secret_key:
            raise CredentialError(
                "credentials must be given as KEY:SECRET", hint="for example --auth bench:secret"
            )
        return cls(Credential(access_key, secret_key))

    def current(self) -> Credential:
        """The fixed credential."""
        return self._credential

    def needs_refresh(self, now: float) -> bool:
        """Never: static keys do not expire."""
        return False

    async def refresh_if_needed(self, now: float) -> None:
        """Nothing to refresh."""

    def __repr__(self) -> str:
        return f"<StaticCredentialProvider {self._credential.access_key}>"
