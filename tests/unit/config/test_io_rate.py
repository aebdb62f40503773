"""config.rate through config.load: ``io_rate`` is parsed (it used to be warned about and
ignored, and a run with ``iops: 1000`` went at 140,000 ops/s), and every bad value is one
ConfigError line with a hint."""

from __future__ import annotations

import pytest

from sai3bench.config.load import LoadedConfig, load_config
from sai3bench.config.rate import IoRate
from sai3bench.errors import ConfigError

BASE = "target: file:///t/\nworkload: [{op: get, path: 'd/*', weight: 1}]\n"


def load(io_rate: str) -> LoadedConfig:
    return load_config(BASE + f"io_rate: {io_rate}\n")


def error(io_rate: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(io_rate)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{iops: 1000}", IoRate(iops=1000.0, distribution="exponential")),
        ("{iops: 200, distribution: uniform}", IoRate(iops=200.0, distribution="uniform")),
        (
            "{iops: '10,000', distribution: deterministic}",
            IoRate(iops=1e4, distribution="deterministic"),
        ),
        ("{iops: 0.5}", IoRate(iops=0.5)),
    ],
)
def test_io_rate_is_parsed(text: str, expected: IoRate) -> None:
    loaded = load(text)
    assert loaded.config.io_rate == expected
    assert not any("io_rate" in w for w in loaded.warnings)


@pytest.mark.parametrize("text", ["{iops: max}", "{iops: MAX}", "{iops: 0}", "null"])
def test_max_or_zero_is_the_closed_loop(text: str) -> None:
    assert load(text).config.io_rate is None


def test_negative_means_max_with_a_warning() -> None:
    loaded = load("{iops: -5}")
    assert loaded.config.io_rate is None
    assert loaded.warnings == ("'io_rate.iops' -5 means max (no rate control), as upstream",)


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("{iops: 1000, distribution: poisson}", "io_rate.distribution", "valid distributions"),
        ("{iops: 1000, distribution: Uniform}", "io_rate.distribution", "did you mean 'uniform'"),
        ("{iops: fast}", "io_rate.iops", "or max"),
        ("{iops: true}", "io_rate.iops", "or max"),
        ("{iops: .inf}", "io_rate.iops", "or max"),
        ("{iops: 2000000000}", "io_rate.iops", "or max"),
        ("{distribution: uniform}", "io_rate.iops: missing", "or max"),
        ("{iops: 10, rate: 5}", "io_rate.rate: unknown key", "iops"),
        ("1000", "io_rate: expected a mapping", "io_rate: {iops: 1000"),
    ],
)
def test_bad_values_are_one_line_errors(text: str, where: str, hint: str) -> None:
    exc = error(text)
    assert str(exc).startswith(where)
    assert "\n" not in str(exc)
    assert hint in (exc.hint or "")


@pytest.mark.parametrize(
    ("text", "iops"),
    [("{iops: 1e3}", 1000.0), ("{iops: '2.5e4'}", 25000.0), ("{iops: '0.5'}", 0.5)],
)
def test_exponent_and_decimal_strings_are_rates(text: str, iops: float) -> None:
    """YAML reads 1e3 (no dot, no sign) as a string; it was refused as 'not a count'."""
    config = load(text).config
    assert config.io_rate is not None
    assert config.io_rate.iops == iops


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{iops: 1e12}", "at most 1e9"),
        ("{iops: '2,000,000,000'}", "at most 1e9"),
        ("{iops: 'nan'}", "finite"),
        ("{iops: '--5'}", "not a rate"),
    ],
)
def test_string_rates_get_the_same_checks(text: str, message: str) -> None:
    exc = error(text)
    assert str(exc).startswith("io_rate.iops")
    assert message in str(exc)
    assert "or max" in (exc.hint or "")
