"""dynamic_put_pool on the mock: the GETs and STATs read what the workload's PUTs made.

Nothing exists under the prefix before the run, so every GET (a 200, no errors) read an
object a PUT of this run made; without the flag the same config is refused in one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli, write_config
from .test_s3_mock import MockServer, _start, stages


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


def _config(prefix: str, dynamic: bool) -> dict[str, Any]:
    return {
        "duration": "2s",
        "concurrency": 8,
        "target": f"s3://bench/{prefix}/",
        "dynamic_put_pool": dynamic,
        "workload": [
            {"op": "put", "path": "new/", "object_size": 1024, "weight": 50},
            {"op": "get", "path": "new/*", "weight": 40},
            {"op": "stat", "path": "new/", "weight": 10},
        ],
    }


def _summary(results: Path) -> dict[str, Any]:
    (path,) = results.glob("sai3-*/results.json")
    return json.loads(path.read_text())["summary"]["workload"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("processes", ["1", "2"])
def test_gets_read_what_the_puts_made(tmp_path: Path, mock: MockServer, processes: str) -> None:
    cfg = write_config(tmp_path, _config(f"dyn{processes}", dynamic=True))
    args = ["run", "-c", str(cfg), "--results-dir", str(tmp_path), "--processes", processes]
    proc = run_cli(args, tmp_path, env=mock.env())
    assert proc.returncode == 0, proc.stderr
    assert stages(tmp_path)["workload"]["errors"] == 0
    summary = _summary(tmp_path)
    assert summary["GET"]["ops"] > 0 and summary["STAT"]["ops"] > 0
    assert summary["GET"]["bytes"] == 1024 * summary["GET"]["ops"]  # PUT objects, whole


def test_without_the_flag_an_empty_glob_is_refused(tmp_path: Path, mock: MockServer) -> None:
    cfg = write_config(tmp_path, _config("static", dynamic=False))
    proc = run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=mock.env()
    )
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "no objects match" in errors[0], proc.stderr


def test_a_put_of_weight_0_feeds_no_empty_glob(tmp_path: Path, mock: MockServer) -> None:
    """A PUT that never runs makes nothing: the empty GET glob is refused at plan time (it ran
    the whole duration picking nothing, then "no op completed ... overloaded")."""
    cfg_dict = _config("weight0", dynamic=True)
    cfg_dict["workload"][0]["weight"] = 0
    cfg = write_config(tmp_path, cfg_dict)
    proc = run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=mock.env()
    )
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "no objects match" in errors[0], proc.stderr
