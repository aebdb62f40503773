"""The end-of-run console blocks, as text: workload results, prepare results, bucket tables.

This module owns the wording and number formats of what a run prints at the end. Line formats
follow sai3-bench HEAD (v0.8.97) so that users' eyes and greps keep working: integers with
thousands commas, ops/s with commas and two decimals, MiB with two decimals, latencies in
adaptive units. It is pure: it returns str and never prints (the CLI prints and tees to
console_log.txt).

Deliberate differences from upstream: the distribution lists LIST, STAT and DELETE separately
instead of one META line; PUT has one latency line (no setup/I-O split); an "Errors:" block and
a "Retries:" block (per kind, then per outcome of the attempt tried again, HTTP resends of a
stale or reset connection included) appear when there were any; a "Configured duration" line
follows "Duration".
"""

from __future__ import annotations

from sai3bench.metrics.collector import (
    N_SIZE_BUCKETS,
    SIZE_BUCKET_LABELS,
    Collector,
    OpClass,
    OpKind,
)
from sai3bench.metrics.histogram import Histogram
from sai3bench.outcome import Outcome

_MIB = 1_048_576
_UNITS = (("µs", 1e3), ("ms", 1e6), ("s", 1e9))
_HEADINGS = {OpClass.GET: "GET", OpClass.PUT: "PUT", OpClass.META: "META-DATA"}


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


def _latency_line(h: Histogram) -> str:
    p50, p95, p99 = h.percentiles((0.5, 0.95, 0.99))
    return (
        f"  Latency: mean={fmt_latency(h.mean_ns())}, p50={fmt_latency(p50)}, "
        f"p95={fmt_latency(p95)}, p99={fmt_latency(p99)}"
    )


def format_workload_results(
    collector: Collector, wall_s: float, concurrency: int, duration_s: float
) -> str:
    """The "=== Results ===" block printed after the workload stage.

    Args:
        collector: the workload's measurements.
        wall_s: seconds from the start of the workers to the last one joining (rates use it).
        concurrency: the configured number of workers.
        duration_s: the configured duration in seconds.

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
        "Actual Operation Distribution:",
    ]
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
    for cls in OpClass:
        lines += _class_block(collector, cls, wall_s)
    lines += _errors_block(collector)
    return "\n".join(lines) + "\n"


def _class_block(collector: Collector, cls: OpClass, wall_s: float) -> list[str]:
    h = collector.merged(cls)
    if not h.count:
        return []
    nbytes = collector.bytes_of_class(cls)
    lines = [
        "",
        f"{_HEADINGS[cls]} Performance:",
        f"  Ops: {fmt_int(h.count)} ({fmt_rate(_rate(h.count, wall_s))} ops/s)",
        f"  Bytes: {fmt_int(nbytes)} ({fmt_mib(nbytes)})",
    ]
    if cls != OpClass.META:
        lines.append(f"  Throughput: {_rate(nbytes / _MIB, wall_s):.2f} MiB/s")
    lines.append(_latency_line(h))
    ttfb = collector.ttfb(cls)
    if ttfb is not None and ttfb.count:
        p50, p95, p99 = ttfb.percentiles((0.50, 0.95, 0.99))
        lines.append(
            f"  TTFB: mean={fmt_latency(round(ttfb.mean_ns()))}, p50={fmt_latency(p50)}, "
            f"p95={fmt_latency(p95)}, p99={fmt_latency(p99)}"
        )
    return lines


def _outcome_name(outcome: int) -> str:
    try:
        return Outcome(outcome).name
    except ValueError:
        return str(outcome)


def _errors_block(collector: Collector) -> list[str]:
    lines: list[str] = []
    errors = collector.errors()
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
            _latency_line(h),
        ]
    lines += _errors_block(collector)
    return "\n".join(lines) + "\n"


def format_bucket_table(collector: Collector, kind_class: int) -> str:
    """Per-size-bucket latencies of one OpClass, one line per bucket with ops ("" if none).

    Lines look like ``  [64KiB-512KiB] count=N mean=… p50=… p95=… p99=… max=…``.
    """
    cls = OpClass(kind_class)
    lines = []
    for bucket in range(N_SIZE_BUCKETS):
        h = collector.histogram(cls, bucket)
        if h is None or not h.count:
            continue
        p50, p95, p99 = h.percentiles((0.5, 0.95, 0.99))
        lines.append(
            f"  [{SIZE_BUCKET_LABELS[bucket]:>12}] count={fmt_int(h.count)}"
            f" mean={fmt_latency(h.mean_ns())} p50={fmt_latency(p50)} p95={fmt_latency(p95)}"
            f" p99={fmt_latency(p99)} max={fmt_latency(h.max_ns)}"
        )
    if not lines:
        return ""
    return "\n".join([f"{cls.name} latency:", *lines]) + "\n"
