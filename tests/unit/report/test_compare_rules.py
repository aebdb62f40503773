"""compare's figures and deltas, and the --fail-if rules: strict parsing, exact tripping."""

from __future__ import annotations

import pytest

from sai3bench.errors import UsageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import Outcome
from sai3bench.report.compare import Delta, deltas, format_table, op_figures
from sai3bench.report.rules import check_rules, parse_rule


def _collector(get_ns: int, n: int = 100, errors: int = 0) -> Collector:
    c = Collector()
    for i in range(n):
        c.record(OpKind.GET, 4096, get_ns + i)
        c.record(OpKind.STAT, 0, 50_000)
    for _ in range(errors):
        c.record_error(OpKind.GET, Outcome.THROTTLED)
    return c


def test_figures_are_per_kind_rates_over_the_wall_and_exact_percentiles() -> None:
    figs = op_figures(_collector(1_000_000, errors=3), wall_s=2.0)
    assert set(figs) == {"GET", "STAT"}
    get = figs["GET"]
    assert get["ops_per_sec"] == 50.0
    assert get["mib_per_sec"] == pytest.approx(100 * 4096 / 1_048_576 / 2)
    assert get["errors"] == 3
    assert get["p50"] == pytest.approx(1_000_049, rel=1e-3)
    assert figs["STAT"]["p99.9"] == pytest.approx(50_000, rel=1e-3)


def test_a_run_against_itself_has_no_change() -> None:
    figs = op_figures(_collector(1_000_000), 1.0)
    rows = deltas(figs, figs)
    assert all(d.change == 0 and d.pct == 0 for d in rows)
    rules = [parse_rule("ops_per_sec < -5%"), parse_rule("p99 > +10%"), parse_rule("errors > 0")]
    assert check_rules(rules, rows) == []
    assert "GET" in format_table(rows, "workload", "a", "b")


def test_a_slower_run_trips_the_latency_rule_and_names_the_op() -> None:
    base = op_figures(_collector(1_000_000), 1.0)
    new = op_figures(_collector(1_200_000), 1.0)  # GET 20% slower, STAT the same
    rules = [parse_rule("ops_per_sec < -5%"), parse_rule("p99 > +10%")]
    trips = check_rules(rules, deltas(base, new))
    assert [(t.rule.text, t.delta.op, t.delta.metric) for t in trips] == [
        ("p99 > +10%", "GET", "p99")
    ]
    assert trips[0].delta.pct == pytest.approx(20, abs=0.2)


def test_errors_from_zero_are_an_infinite_rise() -> None:
    d = Delta("GET", "errors", 0, 4)
    assert d.pct is None
    assert parse_rule("errors > +50%").trips(d)
    assert parse_rule("errors > 3").trips(d) and not parse_rule("errors > 4").trips(d)


def test_absolute_latency_rules_take_units() -> None:
    rule = parse_rule("GET.p99.9 > 2ms")
    assert (rule.op, rule.metric, rule.threshold, rule.relative) == ("GET", "p99.9", 2e6, False)
    assert rule.trips(Delta("GET", "p99.9", 1e6, 3.5e6))
    assert not rule.trips(Delta("GET", "p99.9", 1e6, 2.5e6))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("p99 >> 5%", "not a rule"),
        ("p99 > 10", "needs a unit"),
        ("ops_per_sec < -5ms", "plain number"),
        ("p99.99 > 1%", "unknown metric"),
        ("GETS.p99 > 1%", "unknown op"),
        ("p99 > 10%%", "not a rule"),
        ("", "not a rule"),
    ],
)
def test_bad_rules_are_refused_naming_the_rule(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why) as info:
        parse_rule(text)
    assert repr(text) in info.value.msg and info.value.hint


def test_a_rule_for_an_op_neither_run_did_is_refused() -> None:
    figs = op_figures(_collector(1_000_000), 1.0)
    with pytest.raises(UsageError, match="neither run has PUT ops"):
        check_rules([parse_rule("PUT.p99 > 5%")], deltas(figs, figs))
