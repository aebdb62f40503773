"""perf_log.tsv read back and merged: upstream's 30-column time series (reference §3.7).

Pure: text in, rows or text out. ``merge_perf_logs`` combines the series of runs that ran at
the same time (as the agents of one test): interval k of a stage in one run meets interval k of
that stage in the others. Counts, bytes, rates and errors add; a mean is weighted by its ops,
exactly; CPU columns are averaged (they are per host). A percentile cannot be rebuilt from two
percentiles, so a merged interval's p50/p90/p99 is the larger of the two: an upper bound, said
in README. Every column keeps the number of decimals its source wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sai3bench.errors import UsageError
from sai3bench.report.perf_log import PERF_LOG_HEADER

#: Upstream's 30 columns (report/perf_log.py writes them).
PERF_LOG_COLUMNS = PERF_LOG_HEADER.split("\t")

_SUMMED = frozenset(
    c for c in PERF_LOG_COLUMNS if c.endswith(("_ops", "_bytes", "_iops", "_mbps")) or c == "errors"
)
_MAXED = frozenset(c for c in PERF_LOG_COLUMNS if c.endswith(("_p50_us", "_p90_us", "_p99_us")))
_AVERAGED = frozenset(c for c in PERF_LOG_COLUMNS if c.startswith("cpu_"))
_EARLIEST = frozenset({"timestamp_epoch_ms", "elapsed_s"})


@dataclass(frozen=True)
class PerfLog:
    """A parsed perf-log: its header and its rows as column -> text."""

    header: list[str]
    rows: list[dict[str, str]]

    def series(self, column: str, stage: str | None = None) -> list[float]:
        """One column as numbers (of one stage, or all rows)."""
        return [float(r[column]) for r in self.rows if stage is None or r["stage"] == stage]

    def stages(self) -> list[str]:
        """Stage names in the order they first appear."""
        return list(dict.fromkeys(r["stage"] for r in self.rows))


def parse_perf_log(text: str, source: str) -> PerfLog:
    """Header and rows; a UsageError naming ``source`` when it is not upstream's format."""
    lines = [ln for ln in text.splitlines() if ln]
    if not lines or lines[0].split("\t") != PERF_LOG_COLUMNS:
        raise UsageError(
            f"{source}: not a perf-log (its header is not the 30 columns of sai3-bench's)",
            hint="pass a perf_log.tsv written by 'sai3bench run' with perf_log: in its config",
        )
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(PERF_LOG_COLUMNS):
            raise UsageError(
                f"{source}:{n}: {len(cells)} columns, not {len(PERF_LOG_COLUMNS)}",
                hint="the file is truncated or not a perf-log",
            )
        rows.append(dict(zip(PERF_LOG_COLUMNS, cells, strict=True)))
    return PerfLog(PERF_LOG_COLUMNS, rows)


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def _merge_rows(rows: list[dict[str, str]]) -> dict[str, str]:
    """One interval of several runs as one row (see the module docstring)."""
    out = {"agent_id": "merged", "stage": rows[0]["stage"]}
    for col in PERF_LOG_COLUMNS:
        if col in ("agent_id", "stage"):
            continue
        values = [float(r[col]) for r in rows]
        if col in _SUMMED:
            x = sum(values)
        elif col in _MAXED:
            x = max(values)
        elif col in _AVERAGED:
            x = sum(values) / len(values)
        elif col in _EARLIEST:
            x = min(values)
        else:  # *_mean_us: weighted by the ops of its class
            ops = [float(r[col.split("_", 1)[0] + "_ops"]) for r in rows]
            total = sum(ops)
            x = sum(v * n for v, n in zip(values, ops, strict=True)) / total if total else 0.0
        out[col] = f"{x:.{_decimals(rows[0][col])}f}"
    return out


def merge_perf_logs(logs: list[PerfLog]) -> str:
    """The merged perf-log text: interval k of each stage across ``logs``, in time order."""
    groups: dict[tuple[str, int], list[dict[str, str]]] = {}
    for log in logs:
        seen: dict[str, int] = {}
        for row in log.rows:
            k = seen.get(row["stage"], 0)
            seen[row["stage"]] = k + 1
            groups.setdefault((row["stage"], k), []).append(row)
    merged = sorted(
        (_merge_rows(rows) for rows in groups.values()),
        key=lambda r: (float(r["timestamp_epoch_ms"]), float(r["elapsed_s"])),
    )
    lines = [PERF_LOG_HEADER]
    lines += ["\t".join(r[c] for c in PERF_LOG_COLUMNS) for r in merged]
    return "\n".join(lines) + "\n"
