"""Scalar unit parsers for the YAML config: sizes, durations, counts and whole seconds.

Owns: turning one YAML scalar ("8MiB", "1h30m", "1,000,000", "5m") into a plain number.
Never: knows a YAML path, raises ConfigError, or reads anything but its argument. The loader
(config/load.py) calls these and wraps their ``ValueError`` with the path and a hint.

Rule 1: ``bool`` is never a number here, although Python says ``True == 1``; ``size: yes`` is a
typo, not one byte.
Rule 2: every parser accepts *more* than upstream sai3-bench (which takes size strings only in
distribution fields and humantime only as strings), never less, so upstream configs load unchanged.
"""

from __future__ import annotations

import math
import re
import reprlib
from decimal import Decimal, InvalidOperation

__all__ = [
    "MAX_SECONDS",
    "MAX_SIZE",
    "parse_count",
    "parse_duration",
    "parse_seconds",
    "parse_size",
    "show",
]

MAX_SIZE = 2**63 - 1
"""Largest size in bytes: the planner stores sizes in ``array('q')`` (signed 64-bit)."""

# Units are matched lower-cased. "k" and "kb" are decimal (1000), "ki" and "kib" binary (1024),
# as in upstream's size parser and in the SI/IEC convention.
_SIZE_UNITS: dict[str, int] = {"": 1, "b": 1}
for _i, _p in enumerate("kmgtpe", start=1):
    _SIZE_UNITS[_p] = _SIZE_UNITS[_p + "b"] = 1000**_i
    _SIZE_UNITS[_p + "i"] = _SIZE_UNITS[_p + "ib"] = 1024**_i

_SIZE_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")

# humantime's units, minus months and years (their lengths are conventions, and "M" = month
# clashes with case-insensitive "m" = minute). Values are seconds.
_DURATION_UNITS: dict[str, float] = {}
for _names, _secs in (
    (("ns", "nsec", "nanos"), 1e-9),
    (("us", "µs", "usec", "micros"), 1e-6),
    (("ms", "msec", "millis"), 1e-3),
    (("s", "sec", "secs", "second", "seconds"), 1.0),
    (("m", "min", "mins", "minute", "minutes"), 60.0),
    (("h", "hr", "hrs", "hour", "hours"), 3600.0),
    (("d", "day", "days"), 86400.0),
    (("w", "week", "weeks"), 604800.0),
):
    for _n in _names:
        _DURATION_UNITS[_n] = _secs

_DURATION_PART_RE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zµ]*)")
_COUNT_RE = re.compile(r"\d+(?:[,_ ]\d+)*")
_SECONDS_RE = re.compile(r"(\d+)\s*([smhd]?)")
_SECONDS_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxother = 3, 200


def show(value: object, limit: int = 60) -> str:
    """A value as a message quotes it: its repr, cut at ``limit`` characters (a 5,000-digit
    size was echoed whole). A list or mapping is shown by its first few items only: YAML
    aliases nest 9 lists of 9 ``*prev`` into 387 million items in 200 bytes, and its whole
    repr ran out of memory."""
    text = _SHORT_REPR.repr(value) if isinstance(value, list | dict | tuple) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_SECONDS = 366 * 86400
"""Longest duration or delay taken: what cannot end within a year is a typo
(``99999999999999999999999w`` was accepted as 6e28 s)."""


def _at_most_a_year(secs: float, value: object) -> float:
    if secs > MAX_SECONDS:
        raise ValueError(f"{show(value)} is longer than 366 days")
    return secs


def _reject_bool(value: object) -> None:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got boolean {show(value)}")


def parse_size(value: int | str) -> int:
    """Parse a size in bytes.

    Accepts a non-negative ``int`` or a string: a number (decimals allowed) followed by an
    optional unit, with optional spaces between. Units are case-insensitive: ``B``;
    ``k/kb m/mb g/gb t/tb p/pb e/eb`` are powers of 1000; ``ki/kib`` ... ``ei/eib`` powers of
    1024.
    So ``"8MB"`` is 8,000,000 and ``"8MiB"`` 8,388,608. A fractional byte count
    (``"1.5B"``, ``"0.0001KB"``) is rounded *down*: a size is a whole number of bytes.

    Zero is returned as 0; whether 0 is allowed is the caller's rule.

    Raises:
        ValueError: with a short reason, for a negative, empty, float, unit-less garbage or
            unknown-unit value, or one above ``MAX_SIZE``.
    """
    _reject_bool(value)
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        n = _parse_size_str(value)
    else:
        raise ValueError(
            f"expected bytes as an integer or a string such as '8MiB', got {show(value)}"
        )
    if n < 0:
        raise ValueError(f"size must not be negative, got {show(value)}")
    if n > MAX_SIZE:
        raise ValueError(f"size {show(value)} is larger than the maximum {MAX_SIZE} bytes")
    return n


def _parse_size_str(text: str) -> int:
    s = text.strip().lower()
    if not s:
        raise ValueError("empty size string")
    if s.startswith("-"):
        raise ValueError(f"size must not be negative, got {show(text)}")
    m = _SIZE_RE.fullmatch(s)
    if m is None:
        raise ValueError(f"not a size: {show(text)} (expected e.g. 4096, '64KiB', '1.5GB')")
    number, unit = m.groups()
    mult = _SIZE_UNITS.get(unit)
    if mult is None:
        raise ValueError(
            f"unknown size unit {show(unit)} in {show(text)} "
            "(use B, KB/KiB, MB/MiB, GB/GiB, TB/TiB, PB/PiB)"
        )
    try:
        exact = Decimal(number) * mult
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise ValueError(f"not a size: {show(text)}") from exc
    return int(exact)  # int() truncates toward zero: rounds down for non-negatives


def parse_duration(value: int | float | str) -> float:
    """Parse a duration into seconds (a float).

    A plain number (or numeric string) is seconds. A string is one or more ``<number><unit>``
    parts, optionally separated by spaces, summed: ``"1h30m"``, ``"1h 30m"``, ``"500ms"``,
    ``"1.5s"``, ``"90sec"``, ``"10min"``, ``"2d"``. Units (case-insensitive) are humantime's
    ns/us/ms, s/sec/second(s), m/min/minute(s), h/hr/hour(s), d/day(s), w/week(s); months and
    years are left out on purpose. Zero is returned as 0.0: whether it is allowed is the caller's
    rule.

    Raises:
        ValueError: for a negative, non-finite, empty or malformed value, or an unknown unit.
    """
    _reject_bool(value)
    if isinstance(value, int | float):
        secs = float(value)
    elif isinstance(value, str):
        secs = _parse_duration_str(value)
    else:
        raise ValueError(f"expected a duration such as '30s' or '5m', got {show(value)}")
    if not math.isfinite(secs):
        raise ValueError(f"duration must be finite, got {show(value)}")
    if secs < 0:
        raise ValueError(f"duration must not be negative, got {show(value)}")
    return _at_most_a_year(secs, value)


def _parse_duration_str(text: str) -> float:
    s = text.strip().lower()
    if not s:
        raise ValueError("empty duration string")
    if _is_plain_number(s):
        return float(s)
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION_PART_RE.match(s, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"not a duration: {show(text)} (expected e.g. '30s', '5m', '1h30m')")
        number, unit = m.groups()
        if unit not in _DURATION_UNITS:
            if not unit:
                raise ValueError(
                    f"missing unit after {show(number)} in {show(text)} (e.g. 's', 'm', 'h')"
                )
            raise ValueError(
                f"unknown duration unit {show(unit)} in {show(text)} (use ms, s, m, h, d)"
            )
        total += float(number) * _DURATION_UNITS[unit]
        pos = m.end()
    return total


def _is_plain_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return not any(c.isalpha() for c in s)  # float() also takes "inf", "nan", "1e3"


def parse_count(value: int | str) -> int:
    """Parse an object count: a non-negative int, or digits grouped by ``,`` ``_`` or spaces.

    ``"1,000,000"``, ``"1_000_000"`` and ``"250 000"`` all work, as upstream's
    ``deserialize_u64_with_separators`` allows. Grouping is not checked (``"1,00,000"`` is
    100000): the separators are for readability only.

    Raises:
        ValueError: for a negative, empty, fractional or non-numeric value.
    """
    _reject_bool(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"count must not be negative, got {value}")
        return value
    if isinstance(value, str):
        s = value.strip()
        if _COUNT_RE.fullmatch(s):
            return int(re.sub(r"[,_ ]", "", s))
        raise ValueError(
            f"not a count: {show(value)} (expected a whole number such as 1000 or '1,000')"
        )
    raise ValueError(f"expected a whole number such as 1000 or '1,000', got {show(value)}")


def parse_seconds(value: int | str) -> float:
    """Parse whole seconds (``post_prepare_delay``): ``5``, ``"5"`` or ``"N{s,m,h,d}"``.

    This is upstream's narrower ``deserialize_duration_seconds`` form (an integer and one unit
    letter); use ``parse_duration`` for humantime fields.

    Raises:
        ValueError: for a negative, fractional, empty or malformed value.
    """
    _reject_bool(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"seconds must not be negative, got {show(value)}")
        return _at_most_a_year(float(value), value)
    if isinstance(value, str):
        m = _SECONDS_RE.fullmatch(value.strip().lower())
        if m is None:
            raise ValueError(
                f"not whole seconds: {show(value)} (expected e.g. 5, '30s', '2m', '1h', '1d')"
            )
        return _at_most_a_year(float(int(m.group(1)) * _SECONDS_UNITS[m.group(2)]), value)
    raise ValueError(f"expected whole seconds such as 5 or '30s', got {show(value)}")


def fmt_bytes(n: float) -> str:
    """Binary units, 2 decimals: ``97.66 MiB`` (the inverse of ``parse_size``, for messages)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} B" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
