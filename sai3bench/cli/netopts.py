"""Network options that ``run`` and every ``util`` command share, parsed once here."""

from __future__ import annotations

from typing import Annotated, Final

import typer

from sai3bench.config.units import parse_duration, show
from sai3bench.errors import UsageError
from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT

#: Longest first-byte timeout accepted: past a day it is a typo, not a setting.
MAX_FIRST_BYTE_TIMEOUT: Final = 86400.0

FirstByteTimeout = Annotated[
    str,
    typer.Option(
        "--first-byte-timeout",
        help="fail a request whose response has not begun this long after it was sent "
        "(e.g. 10s, 500ms); large bodies still get the whole-response timeout",
    ),
]
DEFAULT_FIRST_BYTE: Final = f"{DEFAULT_FIRST_BYTE_TIMEOUT:g}s"


def first_byte_seconds(text: str) -> float:
    """``--first-byte-timeout`` in seconds; UsageError (one line, exit 2) unless it is a
    duration above 0 and at most a day."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(
            f"--first-byte-timeout {show(text)}: {exc}", hint="e.g. --first-byte-timeout 10s"
        ) from None
    if not 0 < seconds <= MAX_FIRST_BYTE_TIMEOUT:
        raise UsageError(
            f"--first-byte-timeout {show(text)} is out of range: it must be above 0 and at "
            "most 1 day",
            hint="e.g. --first-byte-timeout 10s",
        )
    return seconds
