"""prepare.key_prefix_shards end to end on file:// and the S3 mock: the exact key names, the
gap fill after a partial delete, --verify, GET/STAT/DELETE globs reaching sharded keys, PUT
keys under shard directories, processes: 2, and cleanup (and cleanup-only) leaving nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli, write_config
from .test_s3_mock import MockServer, _start, listed, stages

pytestmark = pytest.mark.integration

COUNT, SHARDS = 12, 5
EXPECTED = sorted(f"{i % SHARDS:02x}/prepared-{i:08}.dat" for i in range(COUNT))
DELETABLE = sorted(f"{i % SHARDS:02x}/deletable-{i:08}.dat" for i in range(COUNT))


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


def _config(target: str, **extra: Any) -> dict[str, Any]:
    return {
        "duration": "1s",
        "concurrency": 4,
        "target": target,
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": COUNT, "size_spec": "1KiB"}],
            "key_prefix_shards": SHARDS,
            "cleanup": False,
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 50},
            {"op": "stat", "path": "data/*", "weight": 25},
            {"op": "put", "path": "new/", "object_size": 512, "weight": 25},
        ],
        **extra,
    }


def _run(tmp: Path, cfg: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> Any:
    path = write_config(tmp, cfg)
    out = tmp / f"r{len(list(tmp.glob('r*')))}"
    proc = run_cli(["run", "-c", str(path), "--results-dir", str(out), *args], tmp, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return stages(out)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_file_sharded_names_gap_fill_verify_globs_and_cleanup(tmp_path: Path) -> None:
    store = tmp_path / "store"
    cfg = _config(f"file://{store}/", processes=2)
    st = _run(tmp_path, cfg)
    assert st["prepare"]["objects_created"] == COUNT
    assert st["workload"]["errors"] == 0 and st["workload"]["ops"] > 0
    assert _files(store / "data") == EXPECTED  # exactly upstream's names
    puts = _files(store / "new")
    assert puts and all(
        (m := re.fullmatch(r"([0-9a-f]{2})/obj_(\d+)", k)) and int(m[1], 16) == int(m[2]) % SHARDS
        for k in puts
    ), puts[:3]

    for gone in EXPECTED[1::3]:  # a partial delete: the next prepare fills exactly those
        (store / "data" / gone).unlink()
    st = _run(tmp_path, cfg, "--prepare-only")
    assert st["prepare"]["objects_created"] == len(EXPECTED[1::3])
    assert _files(store / "data") == EXPECTED
    _run(tmp_path, cfg, "--verify")

    st = _run(tmp_path, cfg, "--cleanup-only")
    assert st["cleanup"]["objects_deleted"] == COUNT
    assert list((store / "data").iterdir()) == []  # no shard directory left either

    cfg["prepare"]["cleanup"] = True
    _run(tmp_path, cfg)
    assert list((store / "data").iterdir()) == []


def test_file_mixed_delete_draws_sharded_deletable_twins(tmp_path: Path) -> None:
    store = tmp_path / "store"
    cfg = _config(f"file://{store}/")
    cfg["workload"] = [
        {"op": "get", "path": "data/*", "weight": 50},
        {"op": "delete", "path": "data/*", "weight": 50},
    ]
    cfg["duration"] = "300ms"
    st = _run(tmp_path, cfg, "--no-cleanup")
    assert st["workload"]["errors"] == 0
    files = _files(store / "data")
    assert [f for f in files if "prepared-" in f] == EXPECTED  # reads are never deleted
    assert set(files) - set(EXPECTED) <= set(DELETABLE)


def test_s3_sharded_names_gap_fill_and_cleanup(tmp_path: Path, mock: MockServer) -> None:
    env = mock.env()
    cfg = _config("s3://bench/sh/")
    st = _run(tmp_path, cfg, env=env)
    assert st["prepare"]["objects_created"] == COUNT
    assert st["workload"]["errors"] == 0 and st["workload"]["ops"] > 0
    proc = run_cli(["util", "list", "s3://bench/sh/data/"], tmp_path, env=env)
    names = sorted(re.findall(r"sh/data/(\S+\.dat)", proc.stdout))
    assert names == EXPECTED, proc.stdout

    delete = run_cli(
        ["util", "delete", "s3://bench/sh/data/03/prepared-00000003.dat"], tmp_path, env=env
    )
    assert delete.returncode == 0, delete.stderr
    st = _run(tmp_path, cfg, "--prepare-only", env=env)
    assert st["prepare"]["objects_created"] == 1

    cfg["prepare"]["cleanup"] = True
    st = _run(tmp_path, cfg, env=env)
    assert st["cleanup"]["objects_deleted"] == 0  # none made by this run
    st = _run(tmp_path, cfg, "--cleanup-only", env=env)
    assert st["cleanup"]["objects_deleted"] == COUNT
    assert listed(mock, "s3://bench/sh/data/", tmp_path) == 0


def test_file_multi_endpoint_sharded_prepare_and_cleanup(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("ep1", "ep2"):
        (tmp_path / name).symlink_to(shared)  # two mounts of one namespace
    eps = [f"file://{tmp_path}/ep1/", f"file://{tmp_path}/ep2/"]
    cfg = _config(f"file://{tmp_path}/ep1/", multi_endpoint={"endpoints": eps})
    st = _run(tmp_path, cfg, "--prepare-only")
    assert st["prepare"]["objects_created"] == COUNT
    assert _files(shared / "data") == EXPECTED
    cfg["prepare"]["cleanup"] = True
    st = _run(tmp_path, cfg, "--cleanup-only")
    assert st["cleanup"]["objects_deleted"] == COUNT
    assert list((shared / "data").iterdir()) == []
