"""``<results_dir>/perf_log.tsv``: upstream's 30-column time series (reference §3.7), one row
per interval and stage, written as the run goes.

Differences from upstream, on purpose: percentiles are those of the interval alone (upstream's
are cumulative since the stage start), ``errors`` counts the interval's failed ops (always 0 in
upstream standalone), and the intervals of every engine process are merged exactly. Rows of the
workload's ``warmup_period`` carry the stage name ``Warmup`` (the header has no room for a flag:
upstream removed its ``is_warmup`` column).

Each row is one ``write`` to a file opened for appending, so a run killed at any moment leaves
only complete rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from sai3bench.engine.intervals import MergedInterval
from sai3bench.metrics.collector import N_SIZE_BUCKETS, Collector, OpClass
from sai3bench.metrics.histogram import Histogram

#: Upstream's header at HEAD (30 columns, no is_warmup).
PERF_LOG_HEADER: Final = "\t".join(
    [
        "agent_id",
        "timestamp_epoch_ms",
        "elapsed_s",
        "stage",
        *(
            f"{cls}_{col}"
            for cls in ("get", "put")
            for col in ("ops", "bytes", "iops", "mbps", "mean_us", "p50_us", "p90_us", "p99_us")
        ),
        *(f"meta_{col}" for col in ("ops", "iops", "mean_us", "p50_us", "p90_us", "p99_us")),
        "cpu_user_pct",
        "cpu_system_pct",
        "cpu_iowait_pct",
        "errors",
    ]
)
PERF_LOG_NAME: Final = "perf_log.tsv"
#: Stage column per engine stage; warmup intervals of the workload are ``Warmup``.
STAGE_NAMES: Final = {"prepare": "Prepare", "workload": "Workload", "cleanup": "Cleanup"}
WARMUP_STAGE: Final = "Warmup"
AGENT_ID: Final = "standalone"
_MIB: Final = 1048576


def _class_histogram(c: Collector, cls: OpClass) -> Histogram:
    """The class's latencies: its one size bucket's histogram as it is when only one has ops
    (the usual case: no copy of 33,792 counts), else a merge of them."""
    parts = [h for b in range(N_SIZE_BUCKETS) if (h := c.histogram(cls, b)) is not None]
    return parts[0] if len(parts) == 1 else c.merged(cls)


def _latency_cols(h: Histogram) -> list[str]:
    """mean, p50, p90, p99 in whole microseconds (0 when the interval had no such op)."""
    if not h.count:
        return ["0"] * 4
    p50, p90, p99 = h.percentiles((0.5, 0.9, 0.99))
    return [str(round(v / 1000)) for v in (h.mean_ns(), p50, p90, p99)]


def format_row(m: MergedInterval, agent_id: str = AGENT_ID) -> str:
    """One interval as a perf-log line (with its newline)."""
    c: Collector = m.collector
    dt = max(m.end_s - m.start_s, 1e-9)
    stage = WARMUP_STAGE if m.warmup else STAGE_NAMES.get(m.stage, m.stage.capitalize())
    cols = [agent_id, str(m.wall_ms), f"{m.end_s:.3f}", stage]
    for cls in (OpClass.GET, OpClass.PUT):
        ops, nbytes = c.ops_of_class(cls), c.bytes_of_class(cls)
        cols += [str(ops), str(nbytes), f"{ops / dt:.1f}", f"{nbytes / dt / _MIB:.2f}"]
        cols += _latency_cols(_class_histogram(c, cls))
    meta = c.ops_of_class(OpClass.META)
    cols += [str(meta), f"{meta / dt:.1f}", *_latency_cols(_class_histogram(c, OpClass.META))]
    cols += [f"{x:.1f}" for x in m.cpu]
    cols.append(str(c.error_count()))
    return "\t".join(cols) + "\n"


class PerfLogWriter:
    """Appends rows to ``perf_log.tsv`` as merged intervals arrive; the header goes first."""

    def __init__(self, out_dir: Path, agent_id: str = AGENT_ID) -> None:
        self.path = out_dir / PERF_LOG_NAME
        self.agent_id = agent_id
        self.rows = 0
        #: Set when a write failed (a full disk): later rows are dropped, the run goes on.
        self.failure: OSError | None = None
        self._fd = -1
        self._append(PERF_LOG_HEADER + "\n")

    def __repr__(self) -> str:
        return f"<PerfLogWriter {self.path} rows={self.rows}>"

    def __call__(self, merged: MergedInterval) -> None:
        if self._append(format_row(merged, self.agent_id)):
            self.rows += 1

    def _append(self, line: str) -> bool:
        """One ``write`` per line: a killed run never leaves half a row."""
        if self.failure is not None:
            return False
        try:
            if self._fd < 0:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            data = line.encode()
            if os.write(self._fd, data) != len(data):
                raise OSError(f"short write to {self.path}")
        except OSError as exc:
            self.failure = exc
            return False
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
