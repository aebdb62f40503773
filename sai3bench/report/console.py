"""The end-of-run console blocks, as text: workload results, prepare results, bucket tables.

This module owns the wording and number formats of what a run prints at the end. Line formats
follow sai3-bench HEAD (v0.8.97) so that users' eyes and greps keep working: integers with
thousands commas, ops/s with commas and two decimals, MiB with two decimals. It is pure: it
returns str and never prints (the CLI prints and tees to console_log.txt).

Deliberate differences from upstream: LIST, STAT and DELETE each have their own block instead of
one META-DATA block (a collector from an older results file, which kept them together, still
gets one); every latency line gives mean, p50, p90, p99, p99.9 and max in ONE unit, chosen by the
line's median (upstream mixed units within a line: ``p50=8,300ns, p99=60.375ms``); PUT has one
latency line (no setup/I-O split); an "Errors:" line is always there ("Errors: 0"), followed by
the failures per kind and outcome when there were any, and a "Retries:" block (per kind, then
per outcome of the attempt tried again, HTTP resends included) when there were any; a
"Configured duration" line follows "Duration".
"""

from __future__ import annotations

from sai3bench.metrics.collector import (
    META_KINDS,
    N_SIZE_BUCKETS,
    PUT_IO,
    PUT_SETUP,
    SIZE_BUCKET_LABELS,
    Collector,
    OpClass,
    OpKind,
)
from sai3bench.metrics.histogram import Histogram
from sai3bench.outcome import Outcome
from sai3bench.report.opmix import MixReport, distribution_lines

_MIB = 1_048_576
_UNITS = (("µs", 1e3), ("ms", 1e6), ("s", 1e9))
#: The quantiles every latency line prints between its mean and its max.
LINE_QUANTILES = ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"))
#: What results.json keeps per op kind (ns), beyond the console's.
SUMMARY_QUANTILES = (*LINE_QUANTILES, (0.9999, "p99.99"))


def fmt_int(n: int) -> str:
    """An integer with thousands commas: 102,400,000."""
    return f"{n:,}"


def fmt_rate(x: float) -> str:
    """A rate with thousands commas and two decimals: 13,179.00."""
    return f"{x:,.2f}"


def fmt_mib(nbytes: int) -> str:
    """Bytes as MiB with two decimals and the unit: 97.66 MiB."""
    return f"{nbytes / _MIB:.2f} MiB"


def fmt_latency(ns: float) -> str:
    """A latency in adaptive units with 5 significant digits, the rule of sai3-bench HEAD.

    Below 10,000 ns the value is shown as whole nanoseconds with commas ("9,999ns"). Above, it
    is shown in the smallest of µs, ms, s in which it stays below 10,000, with as many decimals
    as make 5 significant digits: 95,231 ns -> "95.231µs", 2,100,000 ns -> "2,100.0µs",
    29,309,000 ns -> "29.309ms", 666,623,000 ns -> "666.62ms". Seconds are the last unit.
    """
    if ns < 9999.5:
        return f"{max(round(ns), 0):,}ns"
    for unit, scale in _UNITS:
        x = ns / scale
        text = _five_significant(x)
        if unit == "s" or float(text.replace(",", "")) < 10_000:
            return text + unit
    raise AssertionError("unreachable")


def _five_significant(x: float) -> str:
    decimals = max(0, 5 - len(str(int(x))))
    text = f"{x:,.{decimals}f}"
    if decimals and len(text.split(".")[0].replace(",", "")) > len(str(int(x))):
        text = f"{x:,.{decimals - 1}f}"  # 99.9996 rounded up to "100.000": one decimal less
    return text


def _rate(n: int | float, wall_s: float) -> float:
    return n / wall_s if wall_s > 0 else 0.0


def line_unit(typical_ns: float) -> tuple[str, float]:
    """(unit, ns per unit) for a line of latencies whose typical value is ``typical_ns``: the
    largest of ns, µs, ms and s in which it is at least 1, so the median keeps three or more
    significant digits and the tail is read in the same unit."""
    unit, scale = "ns", 1.0
    for name, factor in _UNITS:
        if typical_ns >= factor:
            unit, scale = name, factor
    return unit, scale


def fmt_in(ns: float, unit: tuple[str, float]) -> str:
    """``ns`` in ``unit`` with thousands commas: whole nanoseconds, else two decimals."""
    name, scale = unit
    if name == "ns":
        return f"{max(round(ns), 0):,}ns"
    return f"{ns / scale:,.2f}{name}"


def latency_values(h: Histogram) -> list[tuple[str, float]]:
    """(label, ns) of a latency line: mean, the LINE_QUANTILES, max."""
    qs = h.percentiles([q for q, _ in LINE_QUANTILES])
    return [
        ("mean", h.mean_ns()),
        *((label, float(v)) for (_, label), v in zip(LINE_QUANTILES, qs, strict=True)),
        ("max", float(h.max_ns)),
    ]


def latency_line(h: Histogram, label: str = "Latency") -> str:
    """``  Latency: mean=…, p50=…, p90=…, p99=…, p99.9=…, max=…``, all in the unit of p50."""
    values = latency_values(h)
    unit = line_unit(values[1][1])
    body = ", ".join(f"{name}={fmt_in(ns, unit)}" for name, ns in values)
    return f"  {label}: {body}"


def format_workload_results(
    collector: Collector,
    wall_s: float,
    concurrency: int,
    duration_s: float,
    mix: MixReport | None = None,
) -> str:
    """The "=== Results ===" block printed after the workload stage.

    Args:
        collector: the workload's measurements.
        wall_s: seconds from the start of the workers to the last one joining (rates use it).
        concurrency: the configured number of workers.
        duration_s: the configured duration in seconds.
        mix: the op mix against the weights (report/opmix.py); None: upstream's plain lines.

    Returns:
        Newline-separated lines, newline-ended; sections with no ops are left out.
    """
    total_ops = collector.ops()
    total_bytes = collector.nbytes()
    lines = [
        "=== Results ===",
        "Configuration:",
        f"  Duration: {wall_s:.2f}s",
        f"  Configured duration: {duration_s:g}s",
        f"  Concurrency: {concurrency} threads",
        "",
    ]
    if mix is not None:  # beside the weights, with the >5-point warning (report/opmix.py)
        lines += distribution_lines(mix)
    else:
        lines.append("Actual Operation Distribution:")
        for kind in OpKind:
            n = collector.ops(kind)
            if n:
                lines.append(f"  {kind.name}: {fmt_int(n)} ops ({100.0 * n / total_ops:.1f}%)")
    lines += [
        "",
        "Overall Performance:",
        f"  Total ops: {fmt_int(total_ops)}",
        f"  Total bytes: {fmt_int(total_bytes)} ({fmt_mib(total_bytes)})",
        f"  Throughput: {fmt_rate(_rate(total_ops, wall_s))} ops/s",
    ]
    for kind_no, heading, h in kind_histograms(collector):
        lines += _kind_block(collector, kind_no, heading, h, wall_s)
    lines += _errors_block(collector, always=True)
    return "\n".join(lines) + "\n"


#: Stands for the META kinds together in a collector decoded from an older results file.
META_TOGETHER = -1


def kind_histograms(collector: Collector) -> list[tuple[int, str, Histogram]]:
    """(OpKind, heading, latencies) of every kind with successful ops, in OpKind order. An
    older file's META histogram, never split by kind, comes as (META_TOGETHER, "META-DATA")."""
    out = []
    for kind in OpKind:
        h = collector.kind_histogram(kind)
        if h is not None and h.count:
            out.append((int(kind), kind.name, h))
    meta = collector.merged(OpClass.META)
    split = sum(h.count for k, _, h in out if k >= OpKind.LIST)
    if meta.count and not split:
        out.append((META_TOGETHER, "META-DATA", meta))
    return out


def _kind_block(
    collector: Collector, kind: int, heading: str, h: Histogram, wall_s: float
) -> list[str]:
    nbytes = collector.nbytes(kind) if kind >= 0 else collector.bytes_of_class(OpClass.META)
    lines = [
        "",
        f"{heading} Performance:",
        f"  Ops: {fmt_int(h.count)} ({fmt_rate(_rate(h.count, wall_s))} ops/s)",
        f"  Bytes: {fmt_int(nbytes)} ({fmt_mib(nbytes)})",
    ]
    if kind in (OpKind.GET, OpKind.PUT):
        lines.append(f"  Throughput: {_rate(nbytes / _MIB, wall_s):.2f} MiB/s")
    split = put_split(collector) if kind == OpKind.PUT else None
    if split is None:
        lines.append(latency_line(h))
    else:  # upstream v0.8.90's three PUT lines
        lines += [
            latency_line(h, "Latency (total)"),
            latency_line(split[0], "Latency (I/O ext)"),
            latency_line(split[1], "Latency (setup int)"),
        ]
    ttfb = collector.ttfb(kind) if kind in (OpKind.GET, OpKind.PUT) else None
    if ttfb is not None and ttfb.count:
        lines.append(latency_line(ttfb, "TTFB"))
    return lines


def put_split(collector: Collector) -> tuple[Histogram, Histogram] | None:
    """(I/O, setup) latencies of the PUTs, or None when none were split (older results)."""
    io, setup = collector.put_split(PUT_IO), collector.put_split(PUT_SETUP)
    return (io, setup) if io is not None and setup is not None and io.count else None


def latency_summary(collector: Collector, wall_s: float) -> dict[str, dict[str, object]]:
    """results.json's per-kind figures: ops, bytes, ops/s, and latency in integer ns (mean,
    p50, p90, p99, p99.9, p99.99, max), each exact to the histogram's 1/2048."""
    out: dict[str, dict[str, object]] = {}
    errors = collector.errors()
    for kind, heading, h in kind_histograms(collector):
        latency = latency_figures(h)
        nbytes = collector.nbytes(kind) if kind >= 0 else collector.bytes_of_class(OpClass.META)
        out[heading] = {
            "ops": h.count,
            "bytes": nbytes,
            "errors": _errors_of(errors, kind),
            "ops_per_sec": round(_rate(h.count, wall_s), 3),
            "mib_per_sec": round(_rate(nbytes / _MIB, wall_s), 3),
            "latency_ns": latency,
        }
        split = put_split(collector) if kind == OpKind.PUT else None
        if split is not None:  # the PUT latency split (upstream v0.8.90)
            out[heading]["io_latency_ns"] = latency_figures(split[0])
            out[heading]["setup_latency_ns"] = latency_figures(split[1])
    return out


def latency_figures(h: Histogram) -> dict[str, int]:
    """Integer ns of a histogram: mean, p50, p90, p99, p99.9, p99.99 and max."""
    qs = h.percentiles([q for q, _ in SUMMARY_QUANTILES])
    figures = {"mean": round(h.mean_ns())}
    figures |= {label: v for (_, label), v in zip(SUMMARY_QUANTILES, qs, strict=True)}
    figures["max"] = h.max_ns
    return figures


def _errors_of(errors: dict[tuple[int, int], int], kind: int) -> int:
    kinds = META_KINDS if kind == META_TOGETHER else (kind,)
    return sum(n for (k, _), n in errors.items() if k in kinds)


def _outcome_name(outcome: int) -> str:
    try:
        return Outcome(outcome).name
    except ValueError:
        return str(outcome)


def _errors_block(collector: Collector, *, always: bool) -> list[str]:
    """ "Errors: N failed ops" and one line per (kind, outcome); "Errors: 0" when ``always``
    and nothing failed; then the retries, when there were any."""
    lines: list[str] = []
    errors = collector.errors()
    if not errors and always:
        lines += ["", "Errors: 0"]
    if errors:
        lines += ["", f"Errors: {fmt_int(collector.error_count())} failed ops"]
        for (kind, outcome), n in sorted(errors.items()):
            lines.append(f"  {OpKind(kind).name} {_outcome_name(outcome)}: {fmt_int(n)}")
    if collector.retries:
        per_kind = ", ".join(
            f"{k.name}: {fmt_int(collector.retries_of(k))}"
            for k in OpKind
            if collector.retries_of(k)
        )
        lines += ["", f"Retries: {fmt_int(collector.retries)} ({per_kind})"]
        for (kind, outcome), n in sorted(collector.retry_outcomes().items()):
            lines.append(f"  {OpKind(kind).name} after {_outcome_name(outcome)}: {fmt_int(n)}")
    return lines


def retry_counts(collector: Collector) -> dict[str, dict[str, int]]:
    """Retries for metadata.json: op kind -> outcome of the attempt tried again -> count."""
    out: dict[str, dict[str, int]] = {}
    for (kind, outcome), n in sorted(collector.retry_outcomes().items()):
        out.setdefault(OpKind(kind).name, {})[_outcome_name(outcome)] = n
    return out


def format_prepare_results(collector: Collector, wall_s: float, created: int, existed: int) -> str:
    """The prepare summary: "Prepared N objects (C created, E existed) in X.XXs" and its metrics.

    Args:
        collector: the prepare stage's measurements (its PUTs).
        wall_s: wall-clock seconds of the prepare stage.
        created: objects this run created.
        existed: objects found already present and left alone.
    """
    lines = [
        f"Prepared {fmt_int(created + existed)} objects ({fmt_int(created)} created, "
        f"{fmt_int(existed)} existed) in {wall_s:.2f}s"
    ]
    h = collector.merged(OpClass.PUT)
    if h.count:
        nbytes = collector.bytes_of_class(OpClass.PUT)
        lines += [
            "Prepare Performance:",
            f"  Total ops: {fmt_int(h.count)} ({fmt_rate(_rate(h.count, wall_s))} ops/s)",
            f"  Total bytes: {fmt_int(nbytes)} ({fmt_mib(nbytes)})",
            f"  Throughput: {_rate(nbytes / _MIB, wall_s):.2f} MiB/s",
            latency_line(h),
        ]
    lines += _errors_block(collector, always=bool(h.count))
    return "\n".join(lines) + "\n"


def format_bucket_table(collector: Collector, kind_class: int) -> str:
    """Per-size-bucket latencies of one OpClass, one line per bucket with ops ("" if none).

    Lines look like ``  [64KiB-512KiB] count=N mean=… p50=… p90=… p99=… p99.9=… max=…``,
    each in one unit.
    """
    cls = OpClass(kind_class)
    lines = []
    for bucket in range(N_SIZE_BUCKETS):
        h = collector.histogram(cls, bucket)
        if h is None or not h.count:
            continue
        values = latency_values(h)
        unit = line_unit(values[1][1])
        body = " ".join(f"{name}={fmt_in(ns, unit)}" for name, ns in values)
        lines.append(f"  [{SIZE_BUCKET_LABELS[bucket]:>12}] count={fmt_int(h.count)} {body}")
    if not lines:
        return ""
    return "\n".join([f"{cls.name} latency:", *lines]) + "\n"
