"""sai3-bench's results TSV (workload_results.tsv, prepare_results.tsv), column for column.

This module owns the text of those files. It must keep the header and number formats exactly as
sai3-bench writes them (13 columns, unchanged since its v0.5.1), because sai3-analyze and users'
pandas pipelines read them. It is pure: Collector in, str out; the caller writes the file.

Differences from upstream that do not change the format: latencies are ns in our histograms, so
the ``*_us`` columns carry fractional microseconds, and ``mean_us`` is the exact mean (from the
sum), not a mean over bucket values.
"""

from __future__ import annotations

from sai3bench.metrics.collector import (
    N_SIZE_BUCKETS,
    SIZE_BUCKET_LABELS,
    Collector,
    OpClass,
)
from sai3bench.metrics.histogram import Histogram

TSV_HEADER = (
    "operation\tsize_bucket\tbucket_idx\tmean_us\tp50_us\tp90_us\tp95_us\tp99_us\tmax_us"
    "\tavg_bytes\tops_per_sec\tthroughput_mibps\tcount"
)
#: bucket_idx of the aggregate (size_bucket "ALL") rows.
ALL_BUCKET_IDX = {OpClass.META: 97, OpClass.GET: 98, OpClass.PUT: 99}
_QUANTILES = (0.5, 0.9, 0.95, 0.99)
_MIB = 1_048_576


def format_results_tsv(collector: Collector, wall_s: float) -> str:
    """The workload TSV: per-bucket rows of GET, PUT, META, then the ALL rows (97, 98, 99).

    Args:
        collector: the run's measurements.
        wall_s: wall-clock seconds of the stage, the divisor of ops_per_sec and throughput.

    Returns:
        Header plus rows, sorted by bucket_idx (GET, PUT, META within a bucket), newline-ended.
    """
    return _format(collector, wall_s, (OpClass.GET, OpClass.PUT, OpClass.META))


def format_prepare_tsv(collector: Collector, wall_s: float) -> str:
    """The prepare TSV: PUT rows per bucket and the PUT ALL row, same columns and formats."""
    return _format(collector, wall_s, (OpClass.PUT,))


def _format(collector: Collector, wall_s: float, classes: tuple[OpClass, ...]) -> str:
    rows: list[tuple[int, str]] = []
    for bucket in range(N_SIZE_BUCKETS):
        for cls in classes:
            h = collector.histogram(cls, bucket)
            if h is not None and h.count:
                nbytes = collector.bucket_bytes(cls, bucket)
                label = SIZE_BUCKET_LABELS[bucket]
                rows.append((bucket, _row(cls.name, label, bucket, h, nbytes, wall_s)))
    for cls in classes:
        h = collector.merged(cls)
        if h.count:
            idx = ALL_BUCKET_IDX[cls]
            nbytes = collector.bytes_of_class(cls)
            rows.append((idx, _row(cls.name, "ALL", idx, h, nbytes, wall_s)))
    rows.sort(key=lambda r: r[0])  # stable: keeps GET, PUT, META order within a bucket
    return "".join(line + "\n" for line in [TSV_HEADER, *(text for _, text in rows)])


def _row(op: str, label: str, idx: int, h: Histogram, nbytes: int, wall_s: float) -> str:
    p50, p90, p95, p99 = h.percentiles(_QUANTILES)
    ops_per_s = h.count / wall_s if wall_s > 0 else 0.0
    mib_per_s = nbytes / _MIB / wall_s if wall_s > 0 else 0.0
    fields = (
        op,
        label,
        str(idx),
        f"{h.mean_ns() / 1000:.2f}",
        *(f"{v / 1000:.2f}" for v in (p50, p90, p95, p99, h.max_ns)),
        f"{nbytes / h.count:.0f}",
        f"{ops_per_s:.2f}",
        f"{mib_per_s:.2f}",
        str(h.count),
    )
    return "\t".join(fields)
