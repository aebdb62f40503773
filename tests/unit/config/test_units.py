"""config.units: sizes, durations, counts and whole seconds, each form and each refusal."""

from __future__ import annotations

import pytest

from sai3bench.config.units import (
    MAX_SECONDS,
    MAX_SIZE,
    parse_count,
    parse_duration,
    parse_seconds,
    parse_size,
    show,
)

KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (4096, 4096),
        ("512", 512),
        ("512B", 512),
        ("512b", 512),
        # decimal family: powers of 1000
        ("64k", 64_000),
        ("64K", 64_000),
        ("64KB", 64_000),
        ("64kb", 64_000),
        ("8MB", 8_000_000),
        ("8m", 8_000_000),
        ("2GB", 2_000_000_000),
        ("2g", 2_000_000_000),
        ("1TB", 10**12),
        ("1t", 10**12),
        # binary family: powers of 1024
        ("64Ki", 64 * KIB),
        ("64KiB", 64 * KIB),
        ("64kib", 64 * KIB),
        ("64KIB", 64 * KIB),
        ("8MiB", 8_388_608),
        ("8Mi", 8 * MIB),
        ("2GiB", 2 * GIB),
        ("2gi", 2 * GIB),
        ("1TiB", TIB),
        ("1Ti", TIB),
        # decimals and spaces
        ("1.5GB", 1_500_000_000),
        ("1.5GiB", 3 * GIB // 2),
        ("0.5KiB", 512),
        (".5KiB", 512),
        ("1 MiB", MIB),
        ("  1   MiB  ", MIB),
        # a fractional byte count rounds down
        ("1.5B", 1),
        ("1.9", 1),
        ("0.0001KB", 0),
        (MAX_SIZE, MAX_SIZE),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "negative"),
        ("-1KiB", "negative"),
        ("", "empty"),
        ("   ", "empty"),
        ("12XB", "unknown size unit 'xb'"),
        ("1 MiBs", "unknown size unit"),
        ("MiB", "not a size"),
        ("1.2.3MB", "not a size"),
        ("1e6", "not a size"),
        ("1,000", "not a size"),
        (True, "boolean"),
        (1.5, "expected bytes"),
        (None, "expected bytes"),
        (MAX_SIZE + 1, "larger than the maximum"),
        ("16EiB", "larger than the maximum"),
        ("1ZiB", "unknown size unit"),
    ],
)
def test_parse_size_refuses(value, reason):
    with pytest.raises(ValueError, match=reason):
        parse_size(value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (0.5, 0.5),
        ("30", 30.0),
        ("30s", 30.0),
        ("30S", 30.0),
        ("90sec", 90.0),
        ("2 seconds", 2.0),
        ("5m", 300.0),
        ("10min", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("500ms", 0.5),
        ("250us", 0.00025),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1.5s", 1.5),
        ("0s", 0.0),
    ],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("5x", "unknown duration unit 'x'"),
        ("1M2", "missing unit"),
        ("1y", "unknown duration unit"),
        ("s", "not a duration"),
        ("-5s", "not a duration"),
        (-1, "negative"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        ("inf", "not a duration"),
        (True, "boolean"),
        (None, "expected a duration"),
    ],
)
def test_parse_duration_refuses(value, reason):
    with pytest.raises(ValueError, match=reason):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (0, 0),
        (1000, 1000),
        ("1000", 1000),
        ("1,000,000", 1_000_000),
        ("1_000_000", 1_000_000),
        ("250 000", 250_000),
        (" 42 ", 42),
    ],
)
def test_parse_count(value, count):
    assert parse_count(value) == count


@pytest.mark.parametrize("value", [-1, "-1", "1.5", "", "1,,000", "1,000,", "ten", True, 1.0, None])
def test_parse_count_refuses(value):
    with pytest.raises(ValueError):
        parse_count(value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(0, 0.0), (5, 5.0), ("5", 5.0), ("30s", 30.0), ("2m", 120.0), ("1h", 3600.0), ("1d", 86400.0)],
)
def test_parse_seconds(value, seconds):
    assert parse_seconds(value) == seconds


@pytest.mark.parametrize("value", [-1, "1.5s", "5ms", "1h30m", "", "s", True, 2.5])
def test_parse_seconds_refuses(value):
    with pytest.raises(ValueError):
        parse_seconds(value)


def test_peta_and_exa_units():
    assert parse_size("1PiB") == 1 << 50
    assert parse_size("2PB") == 2 * 10**15
    assert parse_size("7EiB") == 7 << 60


def test_a_huge_value_is_quoted_cut_short():
    with pytest.raises(ValueError) as err:
        parse_size("9" * 5000)
    assert len(str(err.value)) < 200 and "..." in str(err.value)


@pytest.mark.parametrize(
    "parse,value",
    [
        (parse_duration, "99999999999999999999999w"),
        (parse_duration, 1e30),
        (parse_duration, "367d"),
        (parse_seconds, "99999999999999999999d"),
        (parse_seconds, 10**12),
    ],
)
def test_longer_than_a_year_is_refused(parse, value):
    with pytest.raises(ValueError, match="is longer than 366 days"):
        parse(value)
    assert parse_duration("366d") == MAX_SECONDS


class _Item:
    """Counts how often a message formats it."""

    calls = 0

    def __repr__(self) -> str:
        _Item.calls += 1
        return "item"


def test_show_formats_only_the_first_items_of_a_list():
    """YAML aliases make 387 million list items out of 200 bytes (nine lists of nine ``*prev``);
    ``repr`` of the whole ran out of memory before the message was cut to 60 characters."""
    _Item.calls = 0
    shared = [_Item()] * 9
    for _ in range(4):  # 59,049 items: small enough for the old full repr to fail, not hang
        shared = [shared] * 9
    text = show({"a": shared})
    assert text.startswith("{'a': [[") and len(text) <= 60
    assert _Item.calls == 0  # below the depth shown: never formatted
    assert show([_Item()] * 100_000).startswith("[item, item") and _Item.calls <= 6
    assert show("x" * 100) == repr("x" * 100)[:57] + "..."  # scalars: cut as before
