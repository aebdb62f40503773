"""The op mix a run really ran, printed beside the weights, on file:// and on the mock.

A per-op cap well below the worker count skews the mix (an op at its cap is skipped, not waited
for): the results must say so, naming the cap; without caps the mix holds and nothing warns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli, write_config
from .test_s3_mock import MockServer, _start


@pytest.fixture
def slow_mock() -> Iterator[MockServer]:
    # Every response 5 ms late: a PUT capped at 1 in flight of 16 workers gets ~1/16 of the ops.
    yield from _start("--bucket", "bench", "--latency", "5ms")


def _mix_config(target: str, put_cap: int | None) -> dict[str, Any]:
    put: dict[str, Any] = {"op": "put", "path": "new/", "object_size": 4096, "weight": 40}
    if put_cap is not None:
        put["concurrency"] = put_cap
    return {
        "duration": "2s",
        "concurrency": 16,
        "target": target,
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": 20, "size_spec": "4KiB"}],
            "cleanup": True,
        },
        "workload": [{"op": "get", "path": "data/*", "weight": 60}, put],
    }


def _op_mix(results: Path) -> dict[str, Any]:
    (path,) = results.glob("sai3-*/results.json")
    return json.loads(path.read_text())["op_mix"]["workload"]  # type: ignore[no-any-return]


def _run(tmp_path: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> str:
    cfg = write_config(tmp_path, config)
    out = tmp_path / "res"
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(out)], tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_capped_put_on_the_mock_is_named(tmp_path: Path, slow_mock: MockServer) -> None:
    stdout = _run(tmp_path, _mix_config("s3://bench/mix/", put_cap=1), slow_mock.env())
    mix = _op_mix(tmp_path / "res")
    put = mix["kinds"]["PUT"]
    assert put["configured_pct"] == 40.0 and put["cap"] == 1
    assert put["actual_pct"] < 20.0, mix  # ~6 % expected: far below the weight
    assert "warning: the op mix is" in stdout
    assert "per-op concurrency caps (PUT at most 1 in flight, of 16 workers" in stdout
    assert "hint: to run the weights, drop or raise the per-op `concurrency` of PUT" in stdout


def test_uncapped_mix_holds_on_the_mock(tmp_path: Path, slow_mock: MockServer) -> None:
    stdout = _run(tmp_path, _mix_config("s3://bench/even/", put_cap=None), slow_mock.env())
    mix = _op_mix(tmp_path / "res")
    assert abs(mix["kinds"]["PUT"]["actual_pct"] - 40.0) <= 5.0, mix
    assert mix["warning"] is None
    assert "Actual Operation Distribution:" in stdout and "warning: the op mix" not in stdout


def test_per_op_concurrency_config_on_file(tmp_path: Path) -> None:
    """Upstream's per_op_concurrency_test.yaml shape (GET cap 64, PUT cap 4 of global 16)."""
    config = _mix_config(f"file://{tmp_path}/store/", put_cap=4)
    config["workload"][0]["concurrency"] = 64
    config["prepare"]["ensure_objects"][0]["size_spec"] = "64KiB"
    config["workload"][1]["object_size"] = 524288
    stdout = _run(tmp_path, config)
    lines = stdout.splitlines()
    head = lines.index("Actual Operation Distribution:")
    assert lines[head + 1].startswith("  GET: ") and lines[head + 1].endswith("configured 60.0%")
    assert lines[head + 2].endswith("configured 40.0%, at most 4 in flight")
    # 4 PUTs in flight of 64 workers: under 4/64 of the ops even if a PUT were as quick as a GET.
    assert _op_mix(tmp_path / "res")["kinds"]["PUT"]["actual_pct"] < 10.0
    assert "per-op concurrency caps (PUT at most 4 in flight, of 64 workers" in stdout
