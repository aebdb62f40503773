"""The HTML report's page: every plot with data, plotly.js embedded, nothing fetched."""

from __future__ import annotations

import re
from pathlib import Path

from sai3bench.metrics.collector import Collector, OpClass, OpKind
from sai3bench.report.html_report import build_report, warmup_spans
from sai3bench.report.perflog_rows import parse_perf_log
from sai3bench.report.run_data import RunData

FIXTURE = Path(__file__).parents[2] / "data" / "perf_log_fixture.tsv"
ENDPOINTS = (
    "endpoint_idx\tendpoint_uri\ttotal_requests\tbytes_read\tbytes_written\terror_count"
    "\tactive_requests\trequest_pct\tread_pct\twrite_pct\n"
    "0\ts3://127.0.0.1:1/b/\t60\t100\t0\t0\t0\t50.00\t50.00\t0.00\n"
    "1\ts3://127.0.0.1:2/b/\t60\t100\t0\t1\t0\t50.00\t50.00\t0.00\n"
)
PROCESSES = [
    {"host": "h", "process": i, "ops": 10, "ops_per_sec": 5.0 + i, "mib_per_sec": 1.0}
    for i in range(2)
]


def _run(tmp_path: Path, perf_log: str | None) -> RunData:
    c = Collector()
    for i in range(1000):
        c.record(OpKind.GET, 2048, 100_000 + 37 * i)
        c.record(OpKind.PUT, 1024, 150_000 + 11 * i)
        c.record_ttfb(OpKind.GET, 60_000 + 20 * i)
    return RunData(
        path=tmp_path,
        collectors={"workload": c},
        walls={"workload": 2.0},
        metadata={"test_name": "t<script>"},
        extra={"processes": {"workload": PROCESSES}},
        config_text="duration: 6s\nwarmup_period: 1s\n",
        perf_log_text=perf_log,
        small_tsvs={"workload_endpoint_stats.tsv": ENDPOINTS},
    )


def _plots(page: str) -> int:
    return len(re.findall(r'class="plotly-graph-div"', page))


def test_the_page_has_every_plot_and_embeds_plotly(tmp_path: Path) -> None:
    page = build_report(_run(tmp_path, FIXTURE.read_text()))
    # throughput, latency, errors (perf-log); percentiles, TTFB; endpoints; processes
    assert _plots(page) == 7
    assert "<script src" not in page and "cdn.plot.ly" not in page.split("</script>", 1)[1]
    assert len(page) > 1_000_000  # plotly.js itself is in the page
    assert "t&lt;script&gt;" in page and "warmup_period: 1s" in page
    assert "No perf_log.tsv" not in page


def test_without_a_perf_log_the_time_plots_are_left_out_and_said_so(tmp_path: Path) -> None:
    page = build_report(_run(tmp_path, None))
    assert _plots(page) == 4
    assert "No perf_log.tsv in this run" in page


def test_warmup_rows_are_shaded_from_the_interval_before_them(tmp_path: Path) -> None:
    log = parse_perf_log(FIXTURE.read_text(), "f")
    assert warmup_spans(_run(tmp_path, None), log) == [(0.0, 1.0, "warmup")]


def test_no_ttfb_is_said(tmp_path: Path) -> None:
    run = _run(tmp_path, None)
    c = Collector()
    c.record(OpKind.GET, 1, 1000)
    run.collectors["workload"] = c
    assert c.ttfb(OpClass.GET) is None
    assert "No time-to-first-byte" in build_report(run)
