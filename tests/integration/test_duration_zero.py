"""``duration: 0s`` (and ``run --duration 0``): upstream's "no workload stage". Prepare runs,
then cleanup; no workload_results.tsv is written (there is no workload to report), while
prepare_results.tsv, the perf-log and results.json hold the prepare stage. Ctrl-C during that
prepare stops it and cleans up what it made, as in any run."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from ..adversity.test_interrupts import _assert_stopped, _signal_run
from .conftest import metadata, prepared_names, results_dir, run_cli, write_config


def _config(tmp_path: Path, count: int, *, cleanup: bool, duration: str = "0s") -> Path:
    config: dict[str, Any] = {
        "target": f"file://{tmp_path}/store/",
        "duration": duration,
        "concurrency": 2,
        "prepare": {
            "cleanup": cleanup,
            "ensure_objects": [{"base_uri": "data/", "count": count, "size_spec": 1024}],
        },
        "workload": [{"op": "get", "path": "data/*", "weight": 1}],
    }
    return write_config(tmp_path, config)


def test_duration_zero_prepares_then_stops(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 20, cleanup=False)
    run = run_cli(["run", "-c", str(cfg), "--results-dir", str(tmp_path / "r")], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "duration 0s: no workload stage" in run.stdout
    assert "=== Test Phase ===" not in run.stdout
    assert len(prepared_names(tmp_path / "store" / "data")) == 20
    out = results_dir(tmp_path / "r", "bench")
    assert (out / "prepare_results.tsv").exists()
    assert not (out / "workload_results.tsv").exists()
    assert set(metadata(out)["stages"]) == {"prepare"}
    assert metadata(out)["stages"]["prepare"]["objects_created"] == 20
    stages = [line.split("\t")[3] for line in (out / "perf_log.tsv").read_text().splitlines()[1:]]
    assert stages and set(stages) == {"Prepare"}
    assert list(json.loads((out / "results.json").read_text())["stages"]) == ["prepare"]


def test_duration_flag_zero_with_cleanup_leaves_nothing(tmp_path: Path) -> None:
    """``--duration 0`` overrides a config's 30s; cleanup then removes what prepare made."""
    cfg = _config(tmp_path, 20, cleanup=True, duration="30s")
    args = ["run", "-c", str(cfg), "--duration", "0", "--results-dir", str(tmp_path / "r")]
    run = run_cli(args, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "duration 0s: no workload stage" in run.stdout
    meta = metadata(results_dir(tmp_path / "r", "bench"))
    assert meta["stages"]["prepare"]["objects_created"] == 20
    assert meta["stages"]["cleanup"]["objects_deleted"] == 20
    assert prepared_names(tmp_path / "store" / "data") == []


def test_duration_zero_dry_run_says_so(tmp_path: Path) -> None:
    run = run_cli(["run", "-c", str(_config(tmp_path, 5, cleanup=True)), "--dry-run"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "duration 0s: no workload stage: prepare, then cleanup" in run.stdout


def test_ctrl_c_during_a_duration_zero_prepare_cleans_up(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 40_000, cleanup=True)
    data = tmp_path / "store" / "data"
    run = _signal_run(
        ["-c", str(cfg)],
        tmp_path,
        banner="=== Prepare Phase ===",
        ready=lambda: data.is_dir() and any(data.glob("prepared-*.dat")),
        signals=(signal.SIGINT,),
    )
    _assert_stopped(run, 130, "prepare")
    prep = run.meta["stages"]["prepare"]
    assert 0 < prep["objects_created"] < 40_000
    assert run.meta["stages"]["cleanup"]["objects_deleted"] == prep["objects_created"]
    assert "no workload stage" not in run.out  # stopped: nothing after prepare but cleanup
    assert prepared_names(data) == []


def test_force_overwrite_wins_over_skip_verification(tmp_path: Path) -> None:
    """Upstream's warp-style configs set both (v0.8.24: force_overwrite recreates every object
    however skip_verification is set); with skip_verification first nothing was made and the
    GETs then failed on missing files."""
    cfg = _config(tmp_path, 15, cleanup=False)
    text = cfg.read_text().replace("cleanup: false", "cleanup: false\n  skip_verification: true")
    cfg.write_text(text.replace("cleanup: false", "cleanup: false\n  force_overwrite: true", 1))
    dry = run_cli(["run", "-c", str(cfg), "--dry-run"], tmp_path)
    assert "force_overwrite: every object is written, existing or not" in dry.stdout
    run = run_cli(["run", "-c", str(cfg), "--results-dir", str(tmp_path / "r")], tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(prepared_names(tmp_path / "store" / "data")) == 15
    assert (
        metadata(results_dir(tmp_path / "r", "bench"))["stages"]["prepare"]["objects_created"] == 15
    )


def test_duration_zero_with_nothing_to_prepare_is_one_line(tmp_path: Path) -> None:
    """No prepare stage and no workload stage: refused before a results directory is made."""
    cfg = write_config(
        tmp_path,
        {
            "target": f"file://{tmp_path}/store/",
            "duration": "0s",
            "workload": [{"op": "get", "path": "data/*", "weight": 1}],
        },
    )
    for extra in ([], ["--dry-run"]):
        run = run_cli(
            ["run", "-c", str(cfg), "--results-dir", str(tmp_path / "r"), *extra], tmp_path
        )
        assert run.returncode == 2, run.stdout + run.stderr
        assert "nothing to run" in run.stderr and "hint:" in run.stderr
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "r").exists()
