"""autotune refuses, before any step runs, what it cannot do, and writes the tuned config whole."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sai3bench.cli import autotune
from sai3bench.config.load import load_config_file
from sai3bench.engine.interrupt import Interrupt
from sai3bench.engine.sweep import Point, Sweep, SweepRules
from sai3bench.engine.tune import TuneResult
from sai3bench.errors import RunFailed, UsageError

_CONFIG = """\
duration: {duration}
concurrency: 2
target: "file://{root}/"
workload:
  - {{op: get, path: "data/*", weight: 100}}
"""


def _config(tmp_path: Path, duration: str = "30s") -> Path:
    cfg = tmp_path / "get.yaml"
    cfg.write_text(_CONFIG.format(duration=duration, root=tmp_path), encoding="utf-8")
    return cfg


def test_duration_zero_is_refused(tmp_path: Path) -> None:
    """duration: 0s runs no workload stage: tuning its workload would write a useless value."""
    cfg = _config(tmp_path, "0s")
    with pytest.raises(UsageError, match="duration: 0s"):
        autotune._check(load_config_file(cfg), autotune.tuned_path(cfg), force=False)


def test_unwritable_directory_is_refused_before_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match="not writable"):
        autotune._check(load_config_file(cfg), autotune.tuned_path(cfg), force=False)


def test_a_failed_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "get.tuned.yaml"
    out.write_text("concurrency: 4\n", encoding="utf-8")
    real = Path.write_text

    def half_then_full_disk(self: Path, data: str, encoding: str | None = None) -> int:
        real(self, data[: len(data) // 2], encoding=encoding)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_full_disk)
    best = Point(1, 8, 100.0, 1.0, 1, 2, 0)
    with pytest.raises(RunFailed, match="No space left"):
        autotune._write(out, "concurrency: 2\nduration: 30s\n", best)
    monkeypatch.undo()
    assert out.read_text(encoding="utf-8") == "concurrency: 4\n"
    assert [p.name for p in tmp_path.iterdir()] == ["get.tuned.yaml"]


class _Lines:
    def __init__(self) -> None:
        self.said: list[str] = []
        self.warned: list[str] = []

    def say(self, line: str) -> None:
        self.said.append(line)

    def warn(self, line: str) -> None:
        self.warned.append(line)


def test_errors_at_every_step_are_said(tmp_path: Path) -> None:
    """A store failing 30 % of requests gave a tuned config with no word about the errors."""
    sweep = Sweep(SweepRules(max_concurrency=2))
    for c, ops in ((1, 6000.0), (2, 5400.0)):
        sweep.add(Point(1, c, ops, 1.0, 1, 2, 2500))
    lines = _Lines()
    out = tmp_path / "x.tuned.yaml"
    console: Any = lines
    code = autotune._finish(console, sweep, TuneResult(), Interrupt(), "concurrency: 2\n", out)
    assert code == 0 and out.exists()
    assert any("failed ops" in w and "util health" in w for w in lines.warned), lines.warned


def test_no_empty_table_when_stopped_before_a_step(tmp_path: Path) -> None:
    lines = _Lines()
    console: Any = lines
    stop = Interrupt()
    stop.signum = 2
    sweep = Sweep(SweepRules())
    autotune._finish(console, sweep, TuneResult(), stop, "", tmp_path / "x.tuned.yaml")
    assert not any("concurrency" in line for line in lines.said), lines.said
