"""A FAIL line shows the figure its rule tested: % for a % rule, the change for the others."""

from __future__ import annotations

from sai3bench.cli.analyze import _trip_line
from sai3bench.report.compare import Delta
from sai3bench.report.rules import check_rules, parse_rule


def _line(rule: str, d: Delta) -> str:
    (trip,) = check_rules([parse_rule(rule)], [d])
    return _trip_line(trip)


def test_an_absolute_rule_shows_the_absolute_change() -> None:
    assert _line("errors > 0", Delta("GET", "errors", 0, 320)) == "GET errors +320 (0 -> 320)"
    line = _line("p99 > 2ms", Delta("GET", "p99", 1e6, 4e6))
    assert line.startswith("GET p99 +3") and "%" not in line


def test_a_percent_rule_shows_the_percent_change() -> None:
    assert _line("errors > 0%", Delta("GET", "errors", 0, 320)) == "GET errors new (0 -> 320)"
    assert _line("p99 > +10%", Delta("GET", "p99", 1e6, 4e6)).startswith("GET p99 +300.0% (")
