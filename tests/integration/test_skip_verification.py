"""skip_verification: globs over a prepare set come from the plan, with no LIST at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sai3bench.backends.file import FileBackend
from sai3bench.cli.run import RunFlags, run_command
from sai3bench.plan.keys import IndexedKeys

from .conftest import write_config


def _config(data: Path, *, skip: bool, workload: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "duration": "300ms",
        "concurrency": 4,
        "target": f"file://{data}/",
        "prepare": {
            "ensure_objects": [{"base_uri": "set/", "count": 50, "size_spec": 100}],
            "skip_verification": skip,
        },
        "workload": workload,
    }


def _stages(results: Path) -> dict[str, Any]:
    (meta,) = results.glob("sai3-*/metadata.json")
    return json.loads(meta.read_text())["stages"]  # type: ignore[no-any-return]


def test_reads_a_prepared_set_without_listing(tmp_path: Path, monkeypatch: Any) -> None:
    data = tmp_path / "data"
    wl = [
        {"op": "get", "path": "set/*", "weight": 3},
        {"op": "stat", "path": "set/prepared-*", "weight": 1},
    ]
    first = write_config(tmp_path, _config(data, skip=False, workload=wl))
    run_command(first, RunFlags(prepare_only=True, results_dir=tmp_path / "r1"))

    def no_listing(*args: Any, **kw: Any) -> Any:
        raise AssertionError("skip_verification must not list")

    monkeypatch.setattr(FileBackend, "list_sync", no_listing)
    second = write_config(tmp_path, _config(data, skip=True, workload=wl))
    assert run_command(second, RunFlags(no_cleanup=True, results_dir=tmp_path / "r2")) == 0
    wl_stats = _stages(tmp_path / "r2")["workload"]
    assert wl_stats["ops"] > 0 and wl_stats["errors"] == 0


def test_a_glob_that_is_not_a_prepare_set_is_still_listed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "other").mkdir(parents=True)
    (data / "other" / "x.bin").write_bytes(b"x")
    wl = [{"op": "get", "path": "other/*", "weight": 1}]
    cfg = write_config(tmp_path, _config(data, skip=True, workload=wl))
    assert run_command(cfg, RunFlags(no_cleanup=True, results_dir=tmp_path / "r")) == 0
    assert _stages(tmp_path / "r")["workload"]["ops"] > 0


def test_indexed_keys_behave_like_a_sequence() -> None:
    keys = IndexedKeys("/d/", "prepared", 3)
    assert len(keys) == 3
    assert list(keys) == [f"/d/prepared-0000000{i}.dat" for i in range(3)]
    assert keys[-1] == "/d/prepared-00000002.dat" and keys[0:2] == list(keys)[:2]
    with pytest.raises(IndexError):
        keys[3]
    big = IndexedKeys("b/", "prepared", 10**9)
    assert big[10**9 - 1] == "b/prepared-999999999.dat"
