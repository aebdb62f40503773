"""multi_endpoint over local directories: separate directories are told apart from one shared
namespace before any stage, and the probe leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from sai3bench.backends.namespace_probe import namespace_warning
from sai3bench.config.load import load_config


def _config(*endpoints: str) -> object:
    eps = ", ".join(f"'{e}'" for e in endpoints)
    text = (
        f"multi_endpoint: {{endpoints: [{eps}]}}\n"
        "workload: [{op: get, path: 'data/*', weight: 1}]\n"
    )
    return load_config(text).config


def test_separate_directories_are_named(tmp_path: Path) -> None:
    (tmp_path / "ep1").mkdir()
    (tmp_path / "ep2").mkdir()
    warning = namespace_warning(_config(f"file://{tmp_path}/ep1/", f"file://{tmp_path}/ep2/"))
    assert warning is not None and f"file://{tmp_path}/ep2/" in warning
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["ep1", "ep2"]  # probe removed


def test_one_directory_seen_twice_is_one_namespace(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    cfg = _config(f"file://{tmp_path}/real/", f"file://{tmp_path}/alias/")
    assert namespace_warning(cfg) is None
    assert list((tmp_path / "real").iterdir()) == []


def test_directories_not_made_yet_are_compared_by_path(tmp_path: Path) -> None:
    assert namespace_warning(_config(f"file://{tmp_path}/a/", f"file://{tmp_path}/b/"))
    assert namespace_warning(_config(f"file://{tmp_path}/a/", f"file://{tmp_path}/a/")) is None


def test_object_stores_and_one_endpoint_are_not_probed(tmp_path: Path) -> None:
    assert namespace_warning(_config("s3://127.0.0.1:9/b/", "s3://127.0.0.2:9/b/")) is None
    assert namespace_warning(_config(f"file://{tmp_path}/")) is None
