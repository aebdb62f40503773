"""Results directories never overwrite one another: seconds in the name, then -2, -3..."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sai3bench.errors import UsageError
from sai3bench.report.results_dir import make_results_dir

NOW = dt.datetime(2026, 12, 5, 14, 3, 7)


def test_the_name_carries_the_seconds(tmp_path: Path) -> None:
    assert make_results_dir(tmp_path, "bench", NOW).name == "sai3-20261205-140307-bench"


def test_a_taken_name_gets_the_next_free_suffix(tmp_path: Path) -> None:
    names = [make_results_dir(tmp_path, "bench", NOW).name for _ in range(3)]
    assert names == [
        "sai3-20261205-140307-bench",
        "sai3-20261205-140307-bench-2",
        "sai3-20261205-140307-bench-3",
    ]


def test_an_existing_file_of_that_name_is_skipped_too(tmp_path: Path) -> None:
    (tmp_path / "sai3-20261205-140307-bench").write_text("not mine")
    assert make_results_dir(tmp_path, "bench", NOW).name.endswith("-bench-2")


def test_runs_starting_at_once_each_get_their_own_directory(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: make_results_dir(tmp_path, "x", NOW), range(32)))
    assert len(set(made)) == 32
    assert all(not any(p.iterdir()) for p in made)


def test_an_unwritable_root_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="cannot create results directory"):
        make_results_dir(tmp_path / "file", "x", NOW)
