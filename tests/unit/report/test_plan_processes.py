"""--dry-run names the engine processes and how the concurrency is divided among them."""

from __future__ import annotations

from sai3bench.config.load import load_config
from sai3bench.report.plan import format_plan

YAML = """
target: file:///tmp/x/
concurrency: 10
workload:
  - {op: get, path: "data/a", weight: 1}
"""


def test_one_process_adds_no_line() -> None:
    text = format_plan(load_config(YAML).config, "c.yaml")
    assert "Processes" not in text


def test_processes_line_shows_the_split_with_the_remainder_first() -> None:
    text = format_plan(load_config(YAML).config, "c.yaml", processes=3)
    assert "Processes: 3 (concurrency per process: 4, 3, 3)" in text.splitlines()


def test_many_processes_are_cut_short_in_the_line() -> None:
    text = format_plan(load_config(YAML).config, "c.yaml", processes=10)
    assert "Processes: 10 (concurrency per process: 1, 1, 1, 1, 1, 1, 1, 1, ...)" in text
