"""Tree mode end to end (upstream §2.7): what prepare makes is the manifest, cleanup undoes
exactly that, gap fill, the workload's tree ops and mkdir/rmdir, the S3 mock, and a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sai3bench.config.tree import DirectoryStructure
from sai3bench.plan.tree import TreeLayout
from sai3bench.signers.azure import DEV_ACCOUNT, DEV_KEY

from ..adversity.runs import read_until, start_run
from .conftest import run_cli, write_config
from .test_s3_mock import MockServer, mock  # noqa: F401  (the fixture)


def _tree_config(
    base: str,
    width: int,
    depth: int,
    files: int,
    dist: str = "bottom",
    *,
    duration: str = "0s",
    workload: list[dict[str, Any]] | None = None,
    cleanup: bool = True,
) -> dict[str, Any]:
    return {
        "target": base,
        "duration": duration,
        "concurrency": 8,
        "prepare": {
            "cleanup": cleanup,
            "directory_structure": {
                "width": width,
                "depth": depth,
                "files_per_dir": files,
                "distribution": dist,
                "dir_mask": "d%d_w%d.dir",
            },
            "ensure_objects": [{"base_uri": base, "count": 0, "size_spec": 1024}],
        },
        "workload": workload or [{"op": "get", "path": "/", "weight": 1}],
    }


def _layout(width: int, depth: int, files: int, dist: str = "bottom") -> TreeLayout:
    return TreeLayout(
        DirectoryStructure(
            width=width,
            depth=depth,
            files_per_dir=files,
            distribution=dist,  # type: ignore[arg-type]
            dir_mask="d%d_w%d.dir",
        )
    )


def _on_disk(root: Path) -> tuple[set[str], set[str]]:
    """(files, directories) under ``root``, as paths relative to it."""
    files, dirs = set(), set()
    for top, dnames, fnames in os.walk(root):
        rel = os.path.relpath(top, root)
        for d in dnames:
            dirs.add(os.path.normpath(os.path.join(rel, d)))
        for f in fnames:
            files.add(os.path.normpath(os.path.join(rel, f)))
    return files, dirs


def _manifest(t: TreeLayout) -> tuple[set[str], set[str]]:
    return (
        {t.file_path(i) for i in range(t.total_files)},
        {t.dir_path(d) for d in range(t.total_dirs)},
    )


def _run(
    tmp_path: Path, cfg: dict[str, Any], *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = write_config(tmp_path, cfg)
    res = tmp_path / "results"
    return run_cli(["run", "-c", str(path), "--results-dir", str(res), *flags], tmp_path, env=env)


def _latest_meta(tmp_path: Path) -> dict[str, Any]:
    newest = max((tmp_path / "results").glob("sai3-*"), key=lambda p: p.stat().st_mtime_ns)
    meta: dict[str, Any] = json.loads((newest / "metadata.json").read_text())
    meta["results"] = json.loads((newest / "results.json").read_text())
    return meta


def test_prepare_makes_the_manifest_and_cleanup_takes_back_all_it_made(tmp_path: Path) -> None:
    root = tmp_path / "made" / "tree"  # neither exists: the run makes both, and removes both
    cfg = _tree_config(f"file://{root}/", 3, 2, 5)
    done = _run(tmp_path, cfg, "--prepare-only")
    assert done.returncode == 0, done.stderr
    assert _on_disk(root) == _manifest(_layout(3, 2, 5))
    files, dirs = _on_disk(root)
    assert (len(files), len(dirs)) == (45, 12)
    assert "d1_w3.dir/d2_w2.dir/file_00000037.dat" in files
    assert "MKDIR 12 of 12 directories (0 existed, and 2 above the tree); 45 files" in done.stdout
    full = _run(tmp_path, cfg)  # existing files kept, not made by this run: cleanup keeps them
    assert full.returncode == 0, full.stderr
    assert "45 existed" in full.stdout and _on_disk(root) == _manifest(_layout(3, 2, 5))
    clean = _run(tmp_path, cfg, "--cleanup-only")
    assert clean.returncode == 0, clean.stderr
    assert "deleted 45 objects and 12 directories" in clean.stdout
    assert _on_disk(root) == (set(), set())
    root.rmdir()  # cleanup-only cannot know who made the root: it stays, empty
    root.parent.rmdir()
    fresh = _run(tmp_path, cfg)  # one run that makes everything takes everything back
    assert fresh.returncode == 0, fresh.stderr
    assert "and 14 directories" in fresh.stdout and not (tmp_path / "made").exists()


def test_all_distribution_puts_files_in_every_directory(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    done = _run(tmp_path, _tree_config(f"file://{root}/", 4, 3, 10, "all"), "--prepare-only")
    assert done.returncode == 0, done.stderr
    files, dirs = _on_disk(root)
    assert (len(dirs), len(files)) == (84, 840)
    assert (files, dirs) == _manifest(_layout(4, 3, 10, "all"))
    assert "d1_w1.dir/file_00000000.dat" in files


def test_gap_fill_makes_only_what_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    cfg = _tree_config(f"file://{root}/", 3, 2, 5, cleanup=False)
    assert _run(tmp_path, cfg, "--prepare-only").returncode == 0
    t = _layout(3, 2, 5)
    for i in (0, 7, 44):
        (root / t.file_path(i)).unlink()
    leaf = root / t.dir_path(11)
    for f in leaf.iterdir():
        f.unlink()
    leaf.rmdir()  # a whole leaf gone: its directory is made again, then its 5 files
    again = _run(tmp_path, cfg, "--prepare-only")
    assert again.returncode == 0, again.stderr
    assert "Prepared 45 objects (7 created, 38 existed)" in again.stdout
    assert "MKDIR 1 of 12 directories (11 existed)" in again.stdout
    assert _on_disk(root) == _manifest(t)


def test_cleanup_keeps_foreign_files_and_directories_it_did_not_make(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    kept = root / "d1_w1.dir"
    kept.mkdir(parents=True)  # there before the run: never removed, even empty
    t = _layout(3, 2, 5)
    cfg = _tree_config(f"file://{root}/", 3, 2, 5, duration="2s")
    path = write_config(tmp_path, cfg)
    proc = start_run(["-c", str(path), "--results-dir", str(tmp_path / "res")], tmp_path, {})
    read_until(proc, "=== Test Phase ===")  # prepared: now a foreign file in a dir it made
    foreign = root / t.dir_path(6) / "notes.txt"
    foreign.write_text("mine")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert foreign.read_text() == "mine"
    files, dirs = _on_disk(root)
    assert files == {t.dir_path(6) + "/notes.txt"}
    assert dirs == {"d1_w1.dir", "d1_w2.dir", t.dir_path(6)}  # its dir and parent stay
    assert "deleted 45 objects and 9 directories" in out


def test_workload_ops_on_the_tree_files_are_counted(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    ops = [
        {"op": "get", "path": "/", "weight": 4},
        {"op": "put", "path": "/", "object_size": 512, "weight": 2},
        {"op": "stat", "path": "elsewhere/", "weight": 2},
        {"op": "mkdir", "path": "/", "weight": 2},
    ]
    done = _run(tmp_path, _tree_config(f"file://{root}/", 2, 2, 3, duration="2s", workload=ops))
    assert done.returncode == 0, done.stderr
    assert "its path is ignored, as upstream ignores it" in done.stderr  # said for stat
    summary = _latest_meta(tmp_path)["results"]["summary"]["workload"]
    for kind in ("GET", "PUT", "STAT", "MKDIR"):
        assert summary[kind]["ops"] > 0 and summary[kind]["errors"] == 0, (kind, summary)
    assert not root.exists()  # all the run made is gone


def test_mkdir_and_rmdir_on_tree_directories_are_counted(tmp_path: Path) -> None:
    """No files: leaves are empty, so rmdir removes them and mkdir makes them again; rmdir of
    a level-1 directory (it holds leaves) fails as the file system says, and is counted."""
    root = tmp_path / "tree"
    ops = [
        {"op": "mkdir", "path": "/", "weight": 3},
        {"op": "rmdir", "path": "/", "recursive": False, "weight": 1},
    ]
    done = _run(tmp_path, _tree_config(f"file://{root}/", 3, 2, 0, duration="2s", workload=ops))
    assert done.returncode == 0, done.stderr
    summary = _latest_meta(tmp_path)["results"]["summary"]["workload"]
    assert summary["MKDIR"]["ops"] > 0 and summary["RMDIR"]["ops"] > 0, summary
    assert summary["RMDIR"]["errors"] > 0
    assert "RMDIR OTHER" in done.stdout and "MKDIR Performance:" in done.stdout
    assert not root.exists()  # the directories it made, made again by MKDIR or not: all gone


def test_mkdir_without_a_tree_is_refused_before_the_run(tmp_path: Path) -> None:
    cfg = {
        "target": f"file://{tmp_path}/m/",
        "duration": "1s",
        "workload": [{"op": "mkdir", "path": "dirs/", "weight": 1}],
    }
    done = _run(tmp_path, cfg)
    assert done.returncode == 2
    assert "mkdir needs prepare.directory_structure" in done.stderr
    assert "upstream refuses it too" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "m").exists()
    dry = _run(tmp_path, cfg, "--dry-run")
    assert dry.returncode == 0 and "a run refuses it" in dry.stdout


def test_a_count_that_does_not_match_the_tree_is_one_line(tmp_path: Path) -> None:
    cfg = _tree_config(f"file://{tmp_path}/t/", 3, 2, 5)
    cfg["prepare"]["ensure_objects"][0]["count"] = 44
    done = _run(tmp_path, cfg, "--dry-run")
    assert done.returncode == 2
    assert "count is 44, but directory_structure makes 45 files" in done.stderr


def test_dry_run_shows_the_tree(tmp_path: Path) -> None:
    done = _run(tmp_path, _tree_config(f"file://{tmp_path}/t/", 4, 3, 10, "all"), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "directories: 84 (L1 4, L2 16, L3 64)" in done.stdout
    assert "files: 840 in 84 directories" in done.stdout
    assert f"e.g. file://{tmp_path}/t/d1_w1.dir/file_00000000.dat" in done.stdout


def _mock_objects(server: MockServer) -> int:
    with urllib.request.urlopen(f"{server.url}/_mock/stats", timeout=5) as resp:
        return int(json.loads(resp.read())["objects"].get("bench", 0))


def _cloud_env(scheme: str, server: MockServer) -> tuple[str, dict[str, str]]:
    """The tree's base URI on the mock in ``scheme``'s dialect, and the variables that aim
    the client at the mock."""
    if scheme == "s3":
        return "s3://bench/tree/", server.env()
    if scheme == "gs":
        return "gs://bench/tree/", {
            "STORAGE_EMULATOR_HOST": server.url,
            "GOOGLE_CLOUD_PROJECT": "bench",
        }
    return f"az://{DEV_ACCOUNT}/bench/tree/", {
        "AZURE_STORAGE_ACCOUNT": DEV_ACCOUNT,
        "AZURE_STORAGE_KEY": DEV_KEY,
        "AZURE_STORAGE_ENDPOINT": server.url,
    }


@pytest.mark.parametrize("scheme", ["s3", "gs", "az"])
def test_a_tree_on_an_object_store_has_no_directory_objects_and_cleans_up(
    tmp_path: Path,
    mock: MockServer,  # noqa: F811
    scheme: str,
) -> None:
    ops = [
        {"op": "get", "path": "/", "weight": 3},
        {"op": "put", "path": "/", "object_size": 256, "weight": 1},
        {"op": "mkdir", "path": "/", "weight": 2},
        {"op": "rmdir", "path": "/", "weight": 1},
    ]
    base, env = _cloud_env(scheme, mock)
    cfg = _tree_config(base, 3, 2, 5, duration="1s", workload=ops)
    done = _run(tmp_path, cfg, "--prepare-only", env=env)
    assert done.returncode == 0, done.stderr
    assert "12 directories are key prefixes on this storage" in done.stdout
    assert _mock_objects(mock) == 45  # files only: no directory objects
    full = _run(tmp_path, cfg, "--no-cleanup", env=env)  # gap fill: all exist
    assert full.returncode == 0, full.stderr
    assert "45 existed" in full.stdout
    summary = _latest_meta(tmp_path)["results"]["summary"]["workload"]
    assert summary["MKDIR"]["ops"] > 0 and summary["RMDIR"]["ops"] > 0
    clean = _run(tmp_path, cfg, "--cleanup-only", env=env)
    assert clean.returncode == 0, clean.stderr
    assert _mock_objects(mock) == 0  # the files, and the dir/ markers MKDIR left


def _interrupt_prepare(tmp_path: Path, cfg: dict[str, Any], root: Path) -> str:
    """Run ``cfg``, send SIGINT once its prepare has made 200 files; its stderr (rc 130)."""
    path = write_config(tmp_path, cfg)
    proc = start_run(["-c", str(path), "--results-dir", str(tmp_path / "res")], tmp_path, {})
    try:
        read_until(proc, "=== Prepare Phase ===")
        deadline = time.monotonic() + 30
        while sum(len(f) for _, _, f in os.walk(root)) < 200:
            assert time.monotonic() < deadline, "prepare never got going"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    return err


def test_sigint_during_tree_prepare_cleans_up_what_it_made(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    _interrupt_prepare(tmp_path, _tree_config(f"file://{root}/", 20, 2, 100), root)
    assert not root.exists()  # its files, the tree directories and the root: all its own


def test_sigint_during_tree_prepare_then_gap_fill_and_cleanup_only(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    cfg = _tree_config(f"file://{root}/", 20, 2, 100, cleanup=False)  # 40,000 files
    _interrupt_prepare(tmp_path, cfg, root)
    made = len(_on_disk(root)[0])
    assert 0 < made < 40_000
    again = _run(tmp_path, cfg, "--prepare-only")
    assert again.returncode == 0, again.stderr
    assert f"({40_000 - made:,} created, {made:,} existed)" in again.stdout
    assert _on_disk(root) == _manifest(_layout(20, 2, 100))
    clean = _run(tmp_path, cfg, "--cleanup-only")
    assert clean.returncode == 0, clean.stderr
    assert _on_disk(root) == (set(), set())


def test_a_tree_on_direct_io_makes_real_directories_and_takes_them_back(tmp_path: Path) -> None:
    """direct:// is file:// with O_DIRECT data: the same directory capability (DirectoryMaker)."""
    root = tmp_path / "dtree"
    ops = [
        {"op": "get", "path": "/", "weight": 2},
        {"op": "mkdir", "path": "/", "weight": 1},
    ]
    cfg = _tree_config(f"direct://{root}/", 3, 2, 5, duration="1s", workload=ops)
    done = _run(tmp_path, cfg, "--no-cleanup")
    assert done.returncode == 0, done.stderr
    assert "MKDIR 12 of 12 directories" in done.stdout
    assert _on_disk(root) == _manifest(_layout(3, 2, 5))
    clean = _run(tmp_path, cfg, "--cleanup-only")
    assert clean.returncode == 0, clean.stderr
    assert "deleted 45 objects and 12 directories" in clean.stdout
    assert _on_disk(root) == (set(), set())


def test_a_tree_over_two_processes_deletes_each_file_once_and_cleans_up(tmp_path: Path) -> None:
    """The DELETE pool is dealt out over the processes: no file is deleted twice."""
    root = tmp_path / "tree"
    ops = [
        {"op": "get", "path": "/", "weight": 1},
        {"op": "delete", "path": "/", "weight": 4},
        {"op": "mkdir", "path": "/", "weight": 1},
    ]
    cfg = _tree_config(f"file://{root}/", 3, 2, 20, duration="3s", workload=ops)
    cfg["processes"] = 2
    done = _run(tmp_path, cfg)
    assert done.returncode == 0, done.stderr
    summary = _latest_meta(tmp_path)["results"]["summary"]["workload"]
    assert 0 < summary["DELETE"]["ops"] <= 180 and summary["DELETE"]["errors"] == 0, summary
    assert not root.exists()
