"""A run never deletes an object that is not its own (issue 8 item 4).

Foreign objects are planted next to a prepared set, under file:// and under the s3:// mock:
names beyond ``count``, non-canonical names, other pool names, other directories. A workload
that deletes (plain, mixed, with a glob wider than the set) and the cleanup after it then run,
and every foreign object must still be there, byte for byte.
"""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.integration.conftest import run_cli, write_config
from tests.integration.test_s3_mock import MockServer, _start

pytestmark = pytest.mark.integration

COUNT = 20

#: Relative to the target. None of these is an object of the set ``set/`` with COUNT objects.
FOREIGN_NAMES = (
    "set/deletable-99999999.dat",  # the object upstream's run deleted: beyond count
    f"set/deletable-{COUNT:08}.dat",  # index == count
    f"set/prepared-{COUNT:08}.dat",
    "set/prepared-99999999.dat",
    "set/prepared-7.dat",  # not the canonical name
    "set/prepared-00000003.dat.bak",
    "set/scratch-00000001.dat",  # another pool name
    "set/other.txt",
    "set/sub/prepared-00000001.dat",  # one directory down
    "other-set/prepared-00000001.dat",  # a sibling directory
)


class Store(Protocol):
    target: str
    env: dict[str, str]

    def put(self, rel: str, data: bytes) -> None: ...
    def get(self, rel: str) -> bytes | None: ...


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.target = f"file://{root}/"
        self.env: dict[str, str] = {}

    def put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def get(self, rel: str) -> bytes | None:
        path = self.root / rel
        return path.read_bytes() if path.exists() else None


class MockStore:
    """The mock's bucket ``bench`` under ``run/``, planted and read over plain HTTP (no auth)."""

    def __init__(self, server: MockServer) -> None:
        self.url = server.url.rstrip("/") + "/bench/run/"
        self.target = "s3://bench/run/"
        self.env = server.env()

    def put(self, rel: str, data: bytes) -> None:
        req = urllib.request.Request(self.url + rel, data=data, method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200

    def get(self, rel: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + rel, timeout=10) as resp:
                body: bytes = resp.read()
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "file":
        return FileStore(tmp_path / "data")
    return MockStore(request.getfixturevalue("mock_server"))


@pytest.fixture
def foreign(store: Store, request: pytest.FixtureRequest) -> dict[str, bytes]:
    """Plant the foreign objects with random contents; the test's id seeds them."""
    rng = random.Random(request.node.nodeid)
    planted = {rel: rng.randbytes(rng.randrange(1, 3000)) for rel in FOREIGN_NAMES}
    for rel, data in planted.items():
        store.put(rel, data)
    return planted


def run_config(store: Store, workload: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "target": store.target,
        # Delete-only runs end when their pool runs dry; mixed ones read on until the end. A
        # pool of COUNT objects drains in well under a second even on a loaded 2-core box.
        "duration": "4s",
        "concurrency": 4,
        "prepare": {
            "ensure_objects": [{"base_uri": "set/", "count": COUNT, "size_spec": "1KiB"}],
            "cleanup": True,
        },
        "workload": workload,
    }


def sai3(store: Store, tmp_path: Path, cfg: dict[str, Any]) -> Any:
    path = write_config(tmp_path, cfg)
    args = ["run", "-c", str(path), "--results-dir", str(tmp_path / "results"), "--seed", "7"]
    return run_cli(args, tmp_path, env=store.env)


WORKLOADS = {
    # a glob wider than the set: everything directly under set/
    "delete-wide-glob": [{"op": "delete", "path": "set/*", "weight": 1}],
    # mixed: rewritten to set/deletable-*, where deletable-99999999.dat also matches
    "mixed-delete": [
        {"op": "get", "path": "set/*", "weight": 3},
        {"op": "delete", "path": "set/prepared-*", "weight": 1},
    ],
    # mixed with a delete glob that names no pool: only the deletable- twins may go
    "mixed-wide-delete": [
        {"op": "stat", "path": "set/prepared-*", "weight": 1},
        {"op": "delete", "path": "set/*", "weight": 3},
    ],
}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_delete_workload_and_cleanup_leave_foreign_objects_whole(
    store: Store, foreign: dict[str, bytes], tmp_path: Path, name: str
) -> None:
    proc = sai3(store, tmp_path, run_config(store, WORKLOADS[name]))
    assert proc.returncode == 0, proc.stderr
    assert "every object in its pool was deleted" in proc.stderr  # it ran out, not over
    assert "matching objects alone (not in a prepare set of this run)" in proc.stdout
    for rel, data in foreign.items():
        assert store.get(rel) == data, rel
    for pool in ("prepared", "deletable"):  # the run's own objects are gone
        assert all(store.get(f"set/{pool}-{i:08}.dat") is None for i in range(COUNT))


def test_delete_matching_only_foreign_objects_is_a_config_error(
    store: Store, foreign: dict[str, bytes], tmp_path: Path
) -> None:
    wl = [{"op": "delete", "path": "set/scratch-*", "weight": 1}]
    proc = sai3(store, tmp_path, run_config(store, wl))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (
        f"error: workload[0] (delete {store.target}set/scratch-*): none of the 1 objects matching"
    ) in proc.stderr
    assert "belongs to this run's prepare sets, and a run deletes nothing else" in proc.stderr
    for rel, data in foreign.items():
        assert store.get(rel) == data, rel
    assert store.get("set/prepared-00000000.dat") is None  # prepare's objects were cleaned up


def test_delete_without_a_prepare_set_is_a_config_error(
    store: Store, foreign: dict[str, bytes], tmp_path: Path
) -> None:
    cfg = run_config(store, [{"op": "delete", "path": "set/*", "weight": 1}])
    del cfg["prepare"]
    proc = sai3(store, tmp_path, cfg)
    assert proc.returncode == 2, proc.stderr
    assert "a run deletes nothing else" in proc.stderr
    for rel, data in foreign.items():
        assert store.get(rel) == data, rel
