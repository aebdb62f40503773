"""direct:// end to end through the CLI: the prepared bytes equal file://'s, a full
prepare/get/put/stat/delete/cleanup run, and the up-front file-system check (tmpfs refused
naming the mount; read-only, unwritable and missing directories each their own line)."""

from __future__ import annotations

import filecmp
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from sai3bench.backends.direct_probe import mount_of
from tests.integration.conftest import immutable_dir, run_cli, write_config

MiB = 1 << 20
#: Object sizes that are not multiples of the block, around it, and above a MiB.
SIZES = (1, 4095, 4097, MiB + 3)


def _prepare_config(scheme: str, root: Path) -> dict[str, Any]:
    sets = [
        {"base_uri": f"{scheme}://{root}/s{size}/", "count": 2, "min_size": size, "max_size": size}
        for size in SIZES
    ]
    return {
        "duration": "1s",
        "concurrency": 2,
        "processes": 1,
        "prepare": {"ensure_objects": sets},
        "workload": [{"op": "get", "path": f"{scheme}://{root}/s1/*", "weight": 1}],
    }


def test_direct_prepare_writes_the_same_bytes_as_file(tmp_path: Path) -> None:
    """file:// is the oracle: with one seed and fixed sizes both write identical objects."""
    for scheme in ("file", "direct"):
        config = write_config(
            tmp_path, _prepare_config(scheme, tmp_path / scheme), f"{scheme}.yaml"
        )
        args = ["run", "--config", str(config), "--prepare-only", "--seed", "7", "-q"]
        proc = run_cli([*args, "--results-dir", str(tmp_path / "res")], tmp_path)
        assert proc.returncode == 0, proc.stderr
    for size in SIZES:
        a, b = tmp_path / "file" / f"s{size}", tmp_path / "direct" / f"s{size}"
        names = sorted(os.listdir(b))
        assert names == ["prepared-00000000.dat", "prepared-00000001.dat"]
        assert [(b / n).stat().st_size for n in names] == [size, size]
        match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
        assert (match, mismatch, errors) == (names, [], [])


def test_a_full_direct_run_gets_puts_stats_deletes_and_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "d"
    config = {
        "target": f"direct://{root}/",
        "duration": "2s",
        "concurrency": 4,
        "processes": 1,
        "prepare": {
            "ensure_objects": [
                {"base_uri": f"direct://{root}/", "count": 30, "min_size": 1, "max_size": MiB + 3}
            ],
            "cleanup": True,
        },
        "workload": [
            {"op": "get", "path": "prepared-*", "weight": 40},
            {"op": "put", "path": "new/", "object_size": 4097, "weight": 20},
            {"op": "stat", "path": "prepared-*", "weight": 20},
            {"op": "delete", "path": "deletable-*", "weight": 20},
        ],
    }
    path = write_config(tmp_path, config)
    proc = run_cli(["run", "--config", str(path), "--results-dir", str(tmp_path / "r")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for kind in ("GET", "PUT", "STAT", "DELETE"):
        assert f"{kind} Performance:" in proc.stdout
    assert "Errors: 0" in proc.stdout
    left = sorted(p.name for p in root.iterdir())
    assert left == ["new"], left  # prepared and deletable removed; PUT objects stay (upstream)
    puts = list((root / "new").iterdir())
    assert puts and all(p.stat().st_size == 4097 for p in puts)
    assert not [p for p in puts if p.name.endswith(".sai3tmp")]


def _refused(tmp_path: Path, uri: str, ops: list[dict[str, Any]] | None = None) -> str:
    config = {
        "duration": "1s",
        "workload": ops or [{"op": "put", "path": uri, "object_size": 4096, "weight": 1}],
    }
    path = write_config(tmp_path, config, f"{uuid.uuid4().hex}.yaml")
    proc = run_cli(["run", "--config", str(path), "--results-dir", str(tmp_path / "r")], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_tmpfs_is_refused_before_any_stage_naming_the_mount(tmp_path: Path) -> None:
    assert mount_of("/dev/shm").fstype == "tmpfs"  # what this test relies on
    target = f"/dev/shm/sai3-{uuid.uuid4().hex}"
    err = _refused(tmp_path, f"direct://{target}/")
    assert f"error: direct://: {target} is on tmpfs (mount /dev/shm), which refuses O_DIRECT" in err
    assert "hint: use file:// there, or a disk-backed path" in err
    assert not os.path.exists(target)
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())


def test_a_directory_nobody_may_write_is_its_own_line(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    with immutable_dir(locked):
        err = _refused(tmp_path, f"direct://{locked}/sub/")
    assert f"error: direct://: no permission to create files in {locked}" in err


def test_a_missing_directory_that_is_only_read_is_its_own_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    ops = [{"op": "get", "path": f"direct://{missing}/*", "weight": 1}]
    err = _refused(tmp_path, "", ops)
    assert f"error: direct://: {missing} does not exist" in err


def test_dry_run_does_not_probe(tmp_path: Path) -> None:
    """--dry-run only prints the plan: a direct:// config for another machine's disks runs."""
    config = {
        "duration": "1s",
        "workload": [{"op": "get", "path": "direct:///dev/shm/x/*", "weight": 1}],
    }
    path = write_config(tmp_path, config)
    proc = run_cli(["run", "--config", str(path), "--dry-run"], tmp_path)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("mode", ["sequential", "bogus"])
def test_page_cache_mode_values(tmp_path: Path, mode: str) -> None:
    config = {
        "duration": "1s",
        "page_cache_mode": mode,
        "workload": [{"op": "get", "path": f"file://{tmp_path}/x/*", "weight": 1}],
    }
    proc = run_cli(["run", "--config", str(write_config(tmp_path, config)), "--dry-run"], tmp_path)
    assert proc.returncode == (0 if mode == "sequential" else 2), proc.stderr


def test_multi_endpoint_over_direct_endpoints_with_two_processes(tmp_path: Path) -> None:
    """Two direct:// endpoints with one namespace (a directory and a symlink to it, as two
    mounts of one file system would be), ops spread over both, in two engine processes."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").symlink_to("a")
    endpoints = [f"direct://{tmp_path}/a/", f"direct://{tmp_path}/b/"]
    config = {
        "target": endpoints[0],
        "multi_endpoint": {"strategy": "round_robin", "endpoints": endpoints},
        "duration": "2s",
        "concurrency": 4,
        "processes": 2,
        "prepare": {
            "ensure_objects": [
                {"base_uri": "testdata/", "count": 20, "min_size": 4097, "max_size": 9000}
            ],
            "cleanup": True,
        },
        "workload": [
            {"op": "get", "path": "testdata/*", "weight": 80},
            {"op": "put", "path": "testdata/new/", "object_size": 8191, "weight": 20},
        ],
    }
    path = write_config(tmp_path, config)
    proc = run_cli(["run", "--config", str(path), "--results-dir", str(tmp_path / "r")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Errors: 0" in proc.stdout
    for endpoint in endpoints:
        assert f"direct://{endpoint.removeprefix('direct://')}" in proc.stdout
    blocks = proc.stdout.split("Endpoint 1:")[-1]
    assert "Total requests: 0\n" not in blocks
    left = sorted(p.name for p in (tmp_path / "a" / "testdata").iterdir())
    assert left == ["new"], left
