"""``run --report`` / ``sai3bench report`` on a real run against the mock, opened in headless
Chromium: it renders with no console error, requests nothing but its own file, and every plot
has data. A screenshot goes to $SAI3BENCH_REPORT_PNG when set (docs/report.png is made so)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import results_dir, run_cli, write_config
from .headless import Browser, chromium_or_skip
from .test_multi_endpoint import three_ports  # noqa: F401  (the fixture, by request)

pytestmark = pytest.mark.integration

#: Per plot: its number of traces, and whether each trace has at least one finite point.
PLOT_DATA_JS = """
Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  traces: gd.data.length,
  filled: gd.data.every(t => Array.from(t.y || []).some(v => Number.isFinite(v))),
  svgs: gd.querySelectorAll('svg.main-svg').length,
  title: (gd.layout.title && gd.layout.title.text) || '',
  names: gd.data.map(t => t.name),
}))
"""


def _config(urls: list[str]) -> dict[str, object]:
    """Two processes over three endpoints with a perf-log: every plot of the report has data."""
    return {
        "duration": "3s",
        "concurrency": 4,
        "processes": 2,
        "perf_log": {"interval": "1s"},
        "warmup_period": "1s",
        "multi_endpoint": {
            "strategy": "round_robin",
            "endpoints": [f"s3://{u.split('://')[1]}/bkt/rep/" for u in urls],
        },
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": 40, "size_spec": "4KiB"}],
            "cleanup": True,
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 60},
            {"op": "stat", "path": "data/*", "weight": 20},
            {"op": "put", "path": "new/", "object_size": 2048, "weight": 20},
        ],
    }


def test_report_of_a_real_run_renders_offline_with_data_in_every_plot(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    binary = chromium_or_skip()
    mock, urls = request.getfixturevalue("three_ports")  # one store on three ports
    cfg = write_config(tmp_path, _config(urls), "rep.yaml")
    args = ["run", "-c", str(cfg), "--results-dir", str(tmp_path / "r"), "--report"]
    proc = run_cli(args, tmp_path, env=mock.env())
    assert proc.returncode == 0, proc.stderr
    out = results_dir(tmp_path / "r", "rep")
    assert f"HTML report: {out / 'report.html'}" in proc.stdout
    assert (out / "perf_log.tsv").exists() and (out / "perf_log_intervals.jsonl").exists()
    page = tmp_path / "page.html"
    again = run_cli(["report", str(out), "-o", str(page)], tmp_path)
    assert again.returncode == 0, again.stderr
    browser = Browser(binary, tmp_path / "profile")
    try:
        browser.open(page.as_uri())
        plots = browser.evaluate(PLOT_DATA_JS)
        height = browser.evaluate("document.documentElement.scrollHeight")
        shot = tmp_path / "report.png"
        browser.screenshot(shot, 1400, min(int(height), 9000))
    finally:
        browser.close()
    assert browser.log.errors == []
    assert browser.log.requests == [page.as_uri()]
    titles = [p["title"] for p in plots]
    assert len(plots) >= 9, titles  # 3 over time, percentiles, TTFB, 2 endpoint, 2+ process
    assert all(p["traces"] and p["filled"] and p["svgs"] for p in plots), plots
    for want in ("Throughput", "Latency over time", "Errors", "percentile", "first byte"):
        assert any(want in t for t in titles), (want, titles)
    (over_time,) = [p for p in plots if p["title"].startswith("Latency over time")]
    assert {"GET p99.9", "PUT p99.9", "STAT p99.9"} <= set(over_time["names"])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if dest := os.environ.get("SAI3BENCH_REPORT_PNG"):
        shutil.copyfile(shot, dest)


def test_report_without_plotly_says_how_to_install_it(tmp_path: Path) -> None:
    blocker = tmp_path / "block" / "plotly"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('plotly blocked by the test')\n")
    path = os.pathsep.join([str(blocker.parent), os.environ.get("PYTHONPATH", "")])
    proc = run_cli(["report", str(tmp_path)], tmp_path, env={"PYTHONPATH": path})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "error: the HTML report needs plotly, which is not installed",
        "hint: pip install 'sai3bench[report]' (or: pip install plotly)",
    ]
    flag = run_cli(["run", "--report", "--dry-run"], tmp_path, env={"PYTHONPATH": path})
    assert flag.returncode == 2 and "needs plotly" in flag.stderr
