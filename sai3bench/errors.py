"""User-facing errors: one line for the problem, one for the fix.

The CLI is the only layer that prints them; everything below raises. Op outcomes (a 404, a
timeout) are *not* errors in this sense: they are data, counted by the engine (see
backends.base.Outcome).
"""

from __future__ import annotations


class Sai3Error(Exception):
    """A problem the user can fix. The CLI prints ``error: msg`` and ``hint: hint``, then exits."""

    exit_code = 2

    def __init__(self, msg: str, *, hint: str | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.hint = hint


class ConfigError(Sai3Error, ValueError):
    """The YAML config is wrong: a bad key, value, size string or URI. Names the YAML path."""


class UsageError(Sai3Error):
    """Command-line flags that contradict each other or a missing argument."""


class CredentialError(Sai3Error):
    """Credentials missing or refused by the server."""


class StorageError(Sai3Error):
    """The storage refused a stage outright (permission denied, no such bucket, read-only fs)."""


class RunFailed(Sai3Error):
    """The run started but could not finish (error threshold reached, strict cleanup failed)."""

    exit_code = 1


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's text on one line (whitespace runs collapsed), at most ``limit`` chars: what
    a third-party error (botocore, google-auth, azure-identity) becomes inside our message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
