"""tools/bench_http.py's comparison tables: every row against a reference row and against wrk.

A section (h1 vs h2, HTTPS) runs its clients back to back in a rotated order per repetition;
each ratio here is the median over repetitions of that repetition's ratio (adjacent runs share
the drift of this shared VM, which absolute medians carry). Samples are duck-typed (bench_http's
Sample: ops_s, cpu_per_op and server_cpu_per_op in seconds, p50/p99 in ms); a failed repetition
is its error text.

Client and server share the machine's cores, so under each table a line adds the two CPU costs
per op and says what share of the cores the pair used ((client + server CPU per op) x ops/s /
cores) and how much of a core nginx's one worker used: near 100% of the box the run was
CPU-bound, so a client's ops/s is partly set by what the server costs; nginx near 1.0 core
means its single worker is the limit.

The issue's targets are printed as lines under the tables, each saying met / not met, so a
closing note can quote them as they are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Protocol

from _benchutil import fmt_num, median, print_table, spread


class Measured(Protocol):
    """One client run as bench_http.py's Sample has it (CPU in seconds per op).

    stage_cpu_per_op is sai3bench's own in-stage figure (None for the peers); --instruments
    reads it.
    """

    @property
    def ops_s(self) -> float: ...
    @property
    def cpu_per_op(self) -> float | None: ...
    @property
    def stage_cpu_per_op(self) -> float | None: ...
    @property
    def server_cpu_per_op(self) -> float | None: ...
    @property
    def box_busy(self) -> float | None: ...
    @property
    def p50(self) -> float | None: ...
    @property
    def p99(self) -> float | None: ...


Runs = Sequence[Measured | str]
#: Cores this process may run on: client and server share them (the VM has 2)
CORES = len(os.sched_getaffinity(0))


def per_rep(xs: Runs, attr: str) -> list[float | None]:
    """`attr` of each repetition, None where it failed or the figure is unknown."""
    return [None if isinstance(x, str) else getattr(x, attr) for x in xs]


def paired(ours: Runs, ref: Runs, attr: str) -> float | None:
    """Median over repetitions of ours.attr / ref.attr (repetitions where both are known)."""
    pairs = [
        a / b
        for a, b in zip(per_rep(ours, attr), per_rep(ref, attr), strict=False)
        if a is not None and b
    ]
    return median(pairs) if pairs else None


def med(xs: Runs, attr: str, scale: float = 1.0) -> float | None:
    """Median of the known values of `attr`, times `scale`; None if there are none."""
    vals = [v * scale for v in per_rep(xs, attr) if v is not None]
    return median(vals) if vals else None


def _x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def ratio_rows(res: Mapping[str, Runs], ref: str, wrk: str | None) -> list[list[str]]:
    """One row per client: ops/s median (min-max), client and server CPU us/op, p50, p99, then
    ops/s and client CPU per op as multiples of `ref`'s and of `wrk`'s, then how many
    repetitions succeeded."""
    rows = []
    for name, xs in res.items():
        ok = [x.ops_s for x in xs if not isinstance(x, str)]
        if not ok:
            rows.append([name, str(xs[0])[:60], *[""] * 9])
            continue
        lo, hi = spread(ok)
        cells = [name, f"{median(ok):,.0f} ({lo:,.0f}-{hi:,.0f})"]
        cells.append(fmt_num(med(xs, "cpu_per_op", 1e6), 1))
        cells.append(fmt_num(med(xs, "server_cpu_per_op", 1e6), 1))
        cells += [fmt_num(med(xs, "p50"), 2), fmt_num(med(xs, "p99"), 2)]
        for other in (ref, wrk):
            if other is None or other not in res or other == name:
                cells += ["-", "-"]
                continue
            cells.append(_x(paired(xs, res[other], "ops_s")))
            cells.append(_x(paired(xs, res[other], "cpu_per_op")))
        rows.append([*cells, str(len(ok))])
    return rows


def print_ratio_table(title: str, res: Mapping[str, Runs], ref: str, wrk: str | None) -> None:
    """The section's table under `title`; ratios are to `ref` ("ref") and `wrk`."""
    print(f"\n{title}")
    hdr = ["client", "ops/s median (min-max)", "client CPU us/op", "server CPU us/op"]
    hdr += ["p50 ms", "p99 ms", "ops/s / ref", "CPU / ref", "ops/s / wrk", "CPU / wrk", "reps ok"]
    print_table(hdr, ratio_rows(res, ref, wrk))
    print(f"ref = {ref}" + (f"; wrk = {wrk}" if wrk else "") + "; CPU / ref, / wrk: client CPU")
    print(pair_line(res))


def pair_cell(xs: Runs, per_op: float = 1.0, server: str = "nginx") -> str | None:
    """'C us, P% of N cores (box B% busy), nginx S core': medians over repetitions of client +
    server CPU (µs per op / `per_op`), the pair's share of the machine's cores and the server's
    cores (CPU seconds over wall seconds, i.e. CPU per op x ops/s), and how busy the whole
    machine was (the rest of B - P is other processes: on this shared VM, other benchmarks);
    None if either CPU is unknown."""
    both, pair, srv, busy = [], [], [], []
    for x in xs:
        if isinstance(x, str) or x.cpu_per_op is None or x.server_cpu_per_op is None:
            continue
        both.append(x.cpu_per_op + x.server_cpu_per_op)
        pair.append(both[-1] * x.ops_s / CORES)
        srv.append(x.server_cpu_per_op * x.ops_s)
        busy += [] if x.box_busy is None else [x.box_busy]
    if not both:
        return None
    us = median(both) * 1e6 / per_op
    box = f" (box {median(busy):.0%} busy)" if busy else ""
    return (
        f"{us:,.1f} us, {median(pair):.0%} of {CORES} cores{box}, {server} {median(srv):.2f} core"
    )


def pair_line(
    res: Mapping[str, Runs], per_op: float = 1.0, unit: str = "op", server: str = "nginx"
) -> str:
    """The lines under a table: a heading, then each client's pair_cell on its own line."""
    cells = [(name, c) for name, xs in res.items() if (c := pair_cell(xs, per_op, server))]
    width = max((len(name) for name, _ in cells), default=0)
    lines = [f"  {name:<{width}}  {c}" for name, c in cells]
    return "\n".join([f"client + server CPU per {unit}, the pair's share of the box:", *lines])


def _verdict(value: float | None, limit: float, at_most: bool) -> str:
    if value is None:
        return "unknown"
    return "met" if (value <= limit if at_most else value >= limit) else "not met"


def h2_target_line(res: Mapping[str, Runs], h1: str, h2: str, gated: bool) -> str:
    """h2 / h1 CPU per op and ops/s (paired); with `gated` (1 KiB GET) the issue's targets:
    h2 <= 1.3x h1's CPU per op and >= 0.9x its ops/s."""
    cpu = paired(res[h2], res[h1], "cpu_per_op")
    ops = paired(res[h2], res[h1], "ops_s")
    line = f"{h2} / {h1}: CPU per op {_x(cpu)}, ops/s {_x(ops)}"
    if gated:
        line += (
            f"  (targets: CPU <= 1.30x {_verdict(cpu, 1.3, True)}, "
            f"ops/s >= 0.90x {_verdict(ops, 0.9, False)})"
        )
    return line


def h1_target_line(res: Mapping[str, Runs], h1: str, wrk: str, limit_us: float) -> str:
    """sai3bench h1's CPU per op against the issue's per-op target, and ops/s vs wrk (>= 0.6x)."""
    cpu = med(res[h1], "cpu_per_op", 1e6)
    ops = paired(res[h1], res[wrk], "ops_s")
    return (
        f"{h1}: CPU {fmt_num(cpu, 1)} us/op (target <= {limit_us:g}: "
        f"{_verdict(cpu, limit_us, True)}), ops/s / wrk {_x(ops)} "
        f"(target >= 0.60x: {_verdict(ops, 0.6, False)})"
    )
