"""tools/bench_http.py --instruments: what sai3bench's own instruments cost per op.

1 KiB GET at 32 in flight against the script's nginx, one process, each variant a
``sai3bench run`` with one instrument on alone, back to back in rotated order per repetition:

- baseline: ``perf_log: {enabled: false}``, no op-log;
- perf-log: the default (1 s intervals, perf_log.tsv written as the run goes);
- op-log: baseline + ``--op-log FILE.tsv.zst``;
- io_rate: baseline + ``io_rate: {iops: 10 x the baseline's ops/s, distribution:
  deterministic}``: every slot is already due, so no worker sleeps: the cost of pacing at full
  speed, behind schedule (a slot, a batch of one op instead of four, the response record).

Two CPU figures per op. "run": the script's method, (CPU of the run - CPU of a 0.2 s run) /
extra ops, so the op-log's rows formatted and compressed when the stage ends count too.
"in stage": the engine's own sampler (process CPU / wall over the workload stage, all threads;
results.json's verdict evidence) / ops/s, which ends before that end-of-stage work.
Deltas are the median over repetitions of (variant - the same repetition's baseline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from _benchratios import Measured
from _benchutil import median, print_table, spread

#: The baseline's config keys: every variant starts from them but perf-log.
OFF: dict[str, Any] = {"perf_log": {"enabled": False}}


def variants(work: Path, iops: float) -> dict[str, tuple[dict[str, Any], tuple[str, ...]]]:
    """Every variant but the baseline: name -> (extra config keys, extra `run` flags)."""
    paced = {"iops": round(iops), "distribution": "deterministic"}
    return {
        "perf-log": ({}, ()),
        "op-log": (OFF, ("--op-log", str(work / "instruments.tsv.zst"))),
        "io_rate": ({**OFF, "io_rate": paced}, ()),
    }


def _us(xs: Sequence[Measured | str], attr: str) -> list[float | None]:
    """µs per op of each rep (None for a failed rep or a missing figure)."""
    vals = [None if isinstance(x, str) else getattr(x, attr) for x in xs]
    return [None if v is None else v * 1e6 for v in vals]


def _cell(vals: Sequence[float | None], digits: int = 1) -> str:
    """'median (min-max)' over the known values, '-' if none."""
    ok = [v for v in vals if v is not None]
    if not ok:
        return "-"
    lo, hi = spread(ok)
    f = f"{{:,.{digits}f}}"
    return f"{f.format(median(ok))} ({f.format(lo)}-{f.format(hi)})"


def _delta(vals: Sequence[float | None], base: Sequence[float | None]) -> str:
    """Median (min-max) of the per-repetition differences to the baseline, signed."""
    d = [v - b for v, b in zip(vals, base, strict=False) if v is not None and b is not None]
    if not d:
        return "-"
    lo, hi = spread(d)
    return f"{median(d):+.2f} ({lo:+.2f}..{hi:+.2f})"


def print_instruments(res: Mapping[str, Sequence[Measured | str]]) -> None:
    """The table: ops/s, CPU µs/op (run and in stage) and their deltas to the baseline."""
    base_run, base_stage = (
        _us(res["baseline"], "cpu_per_op"),
        _us(res["baseline"], "stage_cpu_per_op"),
    )
    rows = []
    for name, xs in res.items():
        fails = [x for x in xs if isinstance(x, str)]
        ops = [None if isinstance(x, str) else x.ops_s for x in xs]
        run, stage = _us(xs, "cpu_per_op"), _us(xs, "stage_cpu_per_op")
        is_base = name == "baseline"
        rows.append(
            [
                name,
                _cell(ops, 0),
                _cell(run),
                "" if is_base else _delta(run, base_run),
                _cell(stage),
                "" if is_base else _delta(stage, base_stage),
                _cell(_us(xs, "server_cpu_per_op")),
                f"{len(xs) - len(fails)}" + (f" ({fails[0][:40]})" if fails else ""),
            ]
        )
    print("\ninstruments: 1 KiB GET, 32 in flight, 1 process; median (min-max) over reps")
    hdr = ["variant", "ops/s", "CPU us/op run", "delta run", "CPU us/op in stage"]
    print_table([*hdr, "delta in stage", "server CPU us/op", "reps ok"], rows)
