"""autotune's table and verdict line (pure): one row per measured setting, the choice marked."""

from __future__ import annotations

from sai3bench.engine.sweep import Point

_HEAD = ("", "processes", "concurrency", "ops/s", "MiB/s", "p50", "p99", "errors")
_WIDTHS = (1, 9, 11, 12, 10, 10, 10, 7)


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.2f}ms"


def _line(cells: tuple[str, ...]) -> str:
    first, *rest = (f"{c:>{w}}" for c, w in zip(cells, _WIDTHS, strict=True))
    return (first + " " + "  ".join(rest)).rstrip()


def table_header() -> str:
    return _line(_HEAD)


def table_row(p: Point, *, chosen: bool = False) -> str:
    """``*`` marks the chosen setting."""
    return _line(
        (
            "*" if chosen else " ",
            str(p.processes),
            str(p.concurrency),
            f"{p.ops_s:,.1f}",
            f"{p.mib_s:,.2f}",
            _ms(p.p50_ns),
            _ms(p.p99_ns),
            f"{p.errors:,}",
        )
    )


def chosen_line(best: Point, reason: str) -> str:
    return (
        f"Chosen: processes {best.processes}, concurrency {best.concurrency} "
        f"({best.ops_s:,.1f} ops/s, p99 {_ms(best.p99_ns)}): {reason}"
    )
