"""``io_rate``: open-loop rate control, written as upstream writes it.

Owns: what ``io_rate: {iops: N|max, distribution: exponential|uniform|deterministic}`` means here.
``iops`` is the *aggregate* rate of op starts over every process and host (upstream divided it by
the worker count inside one shared controller, which gave about iops/concurrency in total for two
of its three distributions). ``max``, ``0`` (and, as upstream, a negative number, with a warning)
mean no rate control: the closed loop, as if the key were absent, so the walk returns None then.
Never: schedules anything (engine/pacer.py does) or reads the machine.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, get_args

from msgspec import Meta

from sai3bench.config.base import Base
from sai3bench.config.node import as_mapping, check_keys, fail, parse_at, path_at, suggest
from sai3bench.config.units import parse_count, show

__all__ = ["DISTRIBUTIONS", "Distribution", "IoRate", "walk_io_rate"]

Distribution = Literal["exponential", "uniform", "deterministic"]
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)

_EXAMPLE = "e.g. io_rate: {iops: 1000, distribution: exponential}"
_IOPS_HINT = "write ops per second as a number (1000, '10,000', 0.5) or max for no rate control"


class IoRate(Base, kw_only=True, frozen=True):
    """Op starts per second over the whole run, and how the gaps between them are drawn.

    ``exponential``: Poisson arrivals (engine/pacer.py: exact count per block, exponential
    gaps); ``uniform``: gaps uniform in [0, 2/iops] (vdbench's meaning); ``deterministic``:
    one start every 1/iops seconds.
    """

    iops: Annotated[float, Meta(gt=0, le=1e9)]
    distribution: Distribution = "exponential"


def walk_io_rate(value: Any, warnings: list[str]) -> dict[str, Any] | None:
    """The checked ``io_rate`` node, or None when it asks for no rate control."""
    node = check_keys(
        as_mapping("io_rate", value, _EXAMPLE), "io_rate", ("iops", "distribution"), {}, warnings
    )
    if "iops" not in node:
        fail("io_rate.iops", "missing", _IOPS_HINT)
    iops = parse_at("io_rate.iops", node["iops"], _parse_iops, _IOPS_HINT)
    if "distribution" in node:
        node["distribution"] = _distribution(node["distribution"])
    if iops is not None and iops < 0:
        warnings.append(f"'io_rate.iops' {iops:g} means max (no rate control), as upstream")
    if iops is None or iops <= 0:
        return None
    node["iops"] = iops
    return node


def _parse_iops(value: Any) -> float | None:
    """Ops per second as a float; None for ``max``. Raises ValueError for anything else."""
    if isinstance(value, str) and value.strip().lower() == "max":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a rate or max, got {show(value)}")
    if isinstance(value, str):
        text = value.strip()
        neg = text.startswith("-")
        body = text[1:] if neg else text
        try:  # YAML reads 1e9 (no dot, no sign) as a string: it is still a rate
            rate = float(parse_count(body))
        except ValueError:
            try:
                if body.startswith("-"):
                    raise ValueError(body)
                rate = float(body)
            except ValueError:
                raise ValueError(f"not a rate: {show(value)}") from None
        rate = -rate if neg else rate
    else:
        rate = float(value)
    if not math.isfinite(rate):
        raise ValueError(f"expected a finite rate, got {show(value)}")
    if rate > 1e9:
        raise ValueError(f"{rate:g} ops/s is more than any client can start (at most 1e9)")
    return rate


def _distribution(value: Any) -> str:
    if isinstance(value, str) and value in DISTRIBUTIONS:
        return value
    fail(
        path_at("io_rate", "distribution"),
        f"unknown distribution {show(value)}",
        suggest(str(value), DISTRIBUTIONS, "distributions"),
    )
