"""Per-endpoint statistics of a multi_endpoint run: the console block and the small TSV.

Columns follow sai3-bench's code (not its CONFIG_SYNTAX doc, which lists percentiles that the
code never writes): endpoint_idx endpoint_uri total_requests bytes_read bytes_written
error_count active_requests request_pct read_pct write_pct.
"""

from __future__ import annotations

from collections.abc import Sequence

from sai3bench.config.units import fmt_bytes
from sai3bench.metrics.endpoint_stat import EndpointStat

HEADER = (
    "endpoint_idx\tendpoint_uri\ttotal_requests\tbytes_read\tbytes_written\terror_count"
    "\tactive_requests\trequest_pct\tread_pct\twrite_pct"
)


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def format_endpoint_tsv(stats: Sequence[EndpointStat]) -> str:
    reqs = sum(s.requests for s in stats)
    read = sum(s.bytes_read for s in stats)
    written = sum(s.bytes_written for s in stats)
    rows = [HEADER]
    rows.extend(
        f"{s.index}\t{s.uri}\t{s.requests}\t{s.bytes_read}\t{s.bytes_written}\t{s.errors}"
        f"\t{s.active}\t{_pct(s.requests, reqs):.2f}\t{_pct(s.bytes_read, read):.2f}"
        f"\t{_pct(s.bytes_written, written):.2f}"
        for s in stats
    )
    return "\n".join(rows) + "\n"


def format_endpoint_block(stats: Sequence[EndpointStat]) -> str:
    """The console block, as upstream prints it after the op results."""
    reqs = sum(s.requests for s in stats)
    lines = ["Per-Endpoint Statistics:"]
    for s in stats:
        lines += [
            f"  Endpoint {s.index}: {s.uri}",
            f"    Total requests: {s.requests:,}",
            f"    Bytes read: {fmt_bytes(s.bytes_read)}",
            f"    Bytes written: {fmt_bytes(s.bytes_written)}",
            f"    Errors: {s.errors:,}",
            f"    Load Distribution: {_pct(s.requests, reqs):.1f}%",
        ]
    return "\n".join(lines)
