"""``merge`` refuses a source named twice (double counting) and an output inside a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from sai3bench.engine.intervals import MergedInterval
from sai3bench.errors import UsageError
from sai3bench.metrics.collector import Collector
from sai3bench.report.interval_log import to_line
from sai3bench.report.merge import write_merged
from sai3bench.report.run_data import RunData


def _run(path: Path) -> RunData:
    path.mkdir(exist_ok=True)
    return RunData(path=path, collectors={"workload": Collector()}, walls={}, metadata={})


def test_the_same_directory_twice_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    a = _run(tmp_path / "a")
    (tmp_path / "x").mkdir()
    again = _run(tmp_path / "x" / ".." / "a")  # the same directory by another name
    with pytest.raises(UsageError, match="count twice"):
        write_merged([a, again], tmp_path / "out", ["merge"])
    assert not (tmp_path / "out").exists()


def test_an_output_inside_a_source_is_refused(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    with pytest.raises(UsageError, match="inside the source"):
        write_merged([a, b], tmp_path / "b" / "merged", ["merge"])
    assert list((tmp_path / "b").iterdir()) == []


def test_distinct_sources_merge(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    assert (write_merged([a, b], tmp_path / "out", ["merge"]) / "results.json").is_file()


def test_a_corrupt_perf_log_is_refused_by_name_before_anything_is_written(
    tmp_path: Path,
) -> None:
    a = RunData(tmp_path / "a", {"workload": Collector()}, {}, {}, intervals_text="")
    b = RunData(tmp_path / "b", {"workload": Collector()}, {}, {}, intervals_text="{trunc\n")
    with pytest.raises(UsageError, match=r"b/perf_log_intervals\.jsonl:1"):
        write_merged([a, b], tmp_path / "out", ["merge"])
    assert not (tmp_path / "out").exists()  # no half-written merge to mistake for one


def _intervals(every_s: float) -> str:
    lines = [
        to_line(
            MergedInterval(
                stage="workload",
                index=i,
                start_s=i * every_s,
                end_s=(i + 1) * every_s,
                warmup=False,
                wall_ms=1_000_000 + i,
                cpu=(0.0, 0.0, 0.0),
                collector=Collector(),
            )
        )
        for i in range(3)
    ]
    return b"".join(lines).decode()


def test_perf_logs_of_different_intervals_are_refused(tmp_path: Path) -> None:
    """Interval 2 of a 1 s log is 2-3 s, of a 0.5 s log 1-1.5 s: no exact sum of the two."""
    a = RunData(tmp_path / "a", {"workload": Collector()}, {}, {}, intervals_text=_intervals(1))
    b = RunData(tmp_path / "b", {"workload": Collector()}, {}, {}, intervals_text=_intervals(0.5))
    with pytest.raises(UsageError, match=r"every 0\.5s"):
        write_merged([a, b], tmp_path / "out", ["merge"])
    assert not (tmp_path / "out").exists()
    same = RunData(tmp_path / "c", {"workload": Collector()}, {}, {}, intervals_text=_intervals(1))
    (tmp_path / "a").mkdir()
    (tmp_path / "c").mkdir()
    assert (write_merged([a, same], tmp_path / "ok", ["merge"]) / "perf_log.tsv").is_file()
