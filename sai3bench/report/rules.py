"""``--fail-if`` rules: the CI gate of ``sai3bench compare``.

A rule is ``[OP.]METRIC CMP VALUE``: ``ops_per_sec < -5%``, ``p99 > +10%``, ``GET.p99.9 > 2ms``,
``errors > 0``. METRIC is one of compare.METRICS; CMP one of ``< <= > >=``; VALUE a signed
number, either a percentage (the relative change NEW vs BASE) or an absolute change in the
metric's unit (ops/s, MiB/s, errors; a latency needs a unit: ns, us, µs, ms, s). Without OP the
rule applies to every op either run did. Parsing is strict: anything else is a UsageError naming
the rule, so a typo can never turn a gate into one that always passes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from sai3bench.errors import UsageError
from sai3bench.report.compare import LATENCY_METRICS, METRICS, Delta

_OPS = ("GET", "PUT", "LIST", "STAT", "DELETE", "MKDIR", "RMDIR", "META")
_CMP: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_UNIT_NS = {"ns": 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}
_RULE = re.compile(
    r"\s*(?:(?P<op>[A-Za-z]+)\.)?(?P<metric>[a-z_]+|p[0-9.]+)\s*(?P<cmp><=|>=|<|>)\s*"
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>%|ns|us|µs|ms|s)?\s*"
)
_HINT = (
    "a rule is [OP.]METRIC CMP VALUE, e.g. 'ops_per_sec < -5%', 'p99 > +10%', "
    f"'GET.p99 > 2ms'; METRIC: {', '.join(METRICS)}; OP: {', '.join(_OPS)}"
)


@dataclass(frozen=True)
class Rule:
    """A parsed rule. ``threshold`` is a percentage when ``relative``, else in the metric's unit
    (ns for latencies)."""

    text: str
    op: str | None
    metric: str
    cmp: str
    threshold: float
    relative: bool

    def observed(self, d: Delta) -> float:
        """The figure this rule tests for ``d``: its % change (inf from a zero base), or its
        absolute change."""
        if not self.relative:
            return d.change
        pct = d.pct
        return pct if pct is not None else _infinite(d.change)

    def trips(self, d: Delta) -> bool:
        return _CMP[self.cmp](self.observed(d), self.threshold)


def _infinite(sign_of: float) -> float:
    """The % change from a zero base: +inf for a rise (a fall from 0 cannot happen)."""
    return float("inf") if sign_of > 0 else float("-inf")


def _bad(text: str, why: str) -> UsageError:
    return UsageError(f"--fail-if {text!r}: {why}", hint=_HINT)


def parse_rule(text: str) -> Rule:
    """One ``--fail-if`` expression; UsageError when it is not exactly a rule."""
    m = _RULE.fullmatch(text)
    if m is None:
        raise _bad(text, "not a rule")
    op, metric, unit = m["op"], m["metric"], m["unit"]
    if op is not None and op.upper() not in _OPS:
        raise _bad(text, f"unknown op {op!r}")
    if metric not in METRICS:
        raise _bad(text, f"unknown metric {metric!r}")
    value = float(m["num"])
    if unit == "%":
        return Rule(text, op and op.upper(), metric, m["cmp"], value, relative=True)
    if metric in LATENCY_METRICS:
        if unit is None:
            raise _bad(text, f"an absolute {metric} change needs a unit (ns, us, ms, s) or %")
        value *= _UNIT_NS[unit]
    elif unit is not None:
        raise _bad(text, f"{metric} takes a plain number or a %, not {unit!r}")
    return Rule(text, op and op.upper(), metric, m["cmp"], value, relative=False)


@dataclass(frozen=True)
class Trip:
    """A rule that held for one op: the regression to report."""

    rule: Rule
    delta: Delta


def check_rules(rules: list[Rule], rows: list[Delta]) -> list[Trip]:
    """Every (rule, op) for which the rule holds. A rule naming an op neither run did is a
    UsageError: it could never trip, and a gate that cannot trip is a silent pass."""
    trips = []
    for rule in rules:
        matching = [d for d in rows if d.metric == rule.metric and rule.op in (None, d.op)]
        if not matching:
            raise _bad(rule.text, f"neither run has {rule.op or 'any'} ops to compare")
        trips += [Trip(rule, d) for d in matching if rule.trips(d)]
    return trips
