"""MKDIR and RMDIR: real directories on file:// (DirectoryMaker), dir/ markers on object stores,
and the tree op's key picks."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from sai3bench.backends.base import ObjectInfo, OpResult
from sai3bench.backends.file import FileBackend
from sai3bench.config.tree import DirectoryStructure
from sai3bench.engine.dirops import marker_key, run_dir_async, run_dir_sync
from sai3bench.engine.ops import PlannedOp
from sai3bench.metrics.collector import OpKind
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload
from sai3bench.plan.tree import TreeLayout, TreePaths


class _Store:
    """An object store in a dict: PUT, DELETE (404 when absent) and a prefix LIST."""

    root_uri = "s3://b/"

    def __init__(self) -> None:
        self.objects: dict[str, int] = {}

    def key_of(self, uri: str) -> str:
        return uri.removeprefix(self.root_uri)

    def uri_of(self, key: str) -> str:
        return self.root_uri + key

    async def put(self, key: str, body: Payload) -> OpResult:
        self.objects[key] = len(body) if isinstance(body, memoryview) else 0
        return self.objects[key], 0

    async def get(self, key: str) -> OpResult:
        return self.objects[key], 0

    async def head(self, key: str) -> OpResult:
        return self.objects[key], 0

    async def delete(self, key: str) -> OpResult:
        if self.objects.pop(key, None) is None:
            raise OpError(Outcome.NOT_FOUND, key)
        return 0, 0

    async def list(self, prefix: str, *, recursive: bool = True) -> list[ObjectInfo]:
        return [ObjectInfo(k, n) for k, n in self.objects.items() if k.startswith(prefix)]

    async def close(self) -> None:
        pass


def _op(kind: OpKind, backend: object, *, recursive: bool = False) -> PlannedOp:
    p = PlannedOp(index=0, kind=kind, backend=backend, label="t")  # type: ignore[arg-type]
    p.dirs = backend if isinstance(backend, FileBackend) else None
    p.recursive = recursive
    return p


def test_file_mkdir_is_mkdir_p_and_rmdir_follows_the_file_system(tmp_path: Path) -> None:
    b = FileBackend(threads=1)
    d = str(tmp_path / "a" / "b")
    assert run_dir_sync(_op(OpKind.MKDIR, b), d) == 0  # parents made too
    assert run_dir_sync(_op(OpKind.MKDIR, b), d) == 0  # there already: still a success
    (tmp_path / "a" / "b" / "f").write_bytes(b"x")
    with pytest.raises(OpError) as err:
        run_dir_sync(_op(OpKind.RMDIR, b), d)  # not empty, not recursive
    assert err.value.outcome == Outcome.OTHER and "not empty" in err.value.detail
    run_dir_sync(_op(OpKind.RMDIR, b, recursive=True), str(tmp_path / "a"))
    assert not (tmp_path / "a").exists()
    run_dir_sync(_op(OpKind.RMDIR, b), d)  # gone already: a success, as s3dlio counts it


def test_make_dir_says_whether_it_made_the_directory(tmp_path: Path) -> None:
    b = FileBackend(threads=1)
    assert b.make_dir(str(tmp_path / "x")) is True
    assert b.make_dir(str(tmp_path / "x")) is False
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(OpError) as err:
        b.make_dir(str(tmp_path / "f"))
    assert err.value.outcome == Outcome.CLIENT_ERROR
    with pytest.raises(OpError) as missing:
        b.make_dir(str(tmp_path / "no" / "parent"))
    assert missing.value.outcome == Outcome.NOT_FOUND


def test_object_store_dirs_are_markers() -> None:
    store = _Store()

    async def go() -> None:
        await run_dir_async(_op(OpKind.MKDIR, store), "t/d1")
        assert store.objects == {"t/d1/": 0}
        store.objects["t/d1/file_00000000.dat"] = 10
        await run_dir_async(_op(OpKind.RMDIR, store), "t/d1")  # the marker only
        assert store.objects == {"t/d1/file_00000000.dat": 10}
        await run_dir_async(_op(OpKind.RMDIR, store), "t/d1")  # no marker: a success
        store.objects["t/d10/file_00000001.dat"] = 1  # d10 is not under d1/
        await run_dir_async(_op(OpKind.RMDIR, store, recursive=True), "t/d1")
        assert store.objects == {"t/d10/file_00000001.dat": 1}

    asyncio.run(go())
    assert marker_key("a/b") == marker_key("a/b/") == "a/b/"


def test_tree_ops_pick_tree_files_and_dirs() -> None:
    t = TreeLayout(DirectoryStructure(width=2, depth=2, files_per_dir=3))
    rng = random.Random(3)
    mk = PlannedOp(index=0, kind=OpKind.MKDIR, backend=_Store(), label="m")
    mk.keys = TreePaths(t, "base/", dirs=True)
    picked = {mk.pick(rng)[1] for _ in range(200)}  # type: ignore[index]
    assert picked == {"base/" + t.dir_path(d) for d in range(t.total_dirs)}


def _tree_rmdir(backend: object, base: str) -> tuple[TreeLayout, PlannedOp]:
    t = TreeLayout(DirectoryStructure(width=2, depth=2, files_per_dir=2, dir_mask="d%d_w%d"))
    op = _op(OpKind.RMDIR, backend, recursive=True)
    op.keys = TreePaths(t, base, dirs=True)
    return t, op


def test_tree_layout_knows_its_own_entries() -> None:
    t = TreeLayout(DirectoryStructure(width=3, depth=3, files_per_dir=2, dir_mask="d%d_w%d.dir"))
    assert [t.dir_index_of(t.dir_path(d)) for d in range(t.total_dirs)] == list(range(39))
    assert all(t.owns(t.file_path(i)) for i in range(t.total_files))
    assert t.owns("d1_w3.dir/") and t.owns("d1_w3.dir/d2_w1.dir/")
    for foreign in (
        "d1_w3.dir/d2_w1.dir",  # a file or object named like a tree directory
        "d1_w4.dir",
        "d1_w01.dir",
        "d2_w1.dir",
        "d1_w1.dir/x.txt",
        "x/",
        "",
        "d1_w1.dir/d2_w1.dir/d3_w1.dir/d4_w1.dir",
        "d1_w1.dir/file_00000000.dat",
    ):
        assert not t.owns(foreign), foreign


def test_recursive_rmdir_on_disk_keeps_a_foreign_file_and_its_directories(
    tmp_path: Path,
) -> None:
    b = FileBackend(threads=1)
    base = str(tmp_path) + "/"
    t, op = _tree_rmdir(b, base)
    for d in range(t.total_dirs):
        (tmp_path / t.dir_path(d)).mkdir(parents=True, exist_ok=True)
    for i in range(t.total_files):
        (tmp_path / t.file_path(i)).write_bytes(b"x")
    foreign = tmp_path / "d1_w1" / "d2_w2" / "notes.txt"
    foreign.write_bytes(b"mine")
    with pytest.raises(OpError) as err:
        run_dir_sync(op, base + "d1_w1")
    assert err.value.outcome == Outcome.OTHER  # the directory stays: it holds a foreign file
    assert foreign.read_bytes() == b"mine"
    assert sorted(p.name for p in (tmp_path / "d1_w1").iterdir()) == ["d2_w2"]
    assert [p.name for p in (tmp_path / "d1_w1" / "d2_w2").iterdir()] == ["notes.txt"]
    run_dir_sync(op, base + "d1_w2")  # all the tree's own: removed whole
    assert not (tmp_path / "d1_w2").exists()


def test_recursive_rmdir_on_disk_keeps_a_foreign_file_named_like_a_tree_directory(
    tmp_path: Path,
) -> None:
    """A file where a tree directory would be is not the tree's (was unlinked by the RMDIR)."""
    b = FileBackend(threads=1)
    base = str(tmp_path) + "/"
    _, op = _tree_rmdir(b, base)
    (tmp_path / "d1_w1").mkdir()
    (tmp_path / "d1_w1" / "d2_w1").write_bytes(b"mine")
    with pytest.raises(OpError) as err:
        run_dir_sync(op, base + "d1_w1")
    assert err.value.outcome == Outcome.OTHER
    assert (tmp_path / "d1_w1" / "d2_w1").read_bytes() == b"mine"


def test_recursive_rmdir_on_a_store_keeps_foreign_objects_and_the_marker() -> None:
    store = _Store()
    t, op = _tree_rmdir(store, "t/")
    for i in range(t.total_files):
        store.objects["t/" + t.file_path(i)] = 1
    store.objects["t/d1_w1/"] = 0
    store.objects["t/d1_w1/d2_w1/other.bin"] = 5

    async def go() -> None:
        with pytest.raises(OpError) as err:
            await run_dir_async(op, "t/d1_w1")
        assert err.value.outcome == Outcome.OTHER
        assert sorted(k for k in store.objects if k.startswith("t/d1_w1/")) == [
            "t/d1_w1/",
            "t/d1_w1/d2_w1/other.bin",
        ]
        store.objects["t/d1_w2/"] = 0
        await run_dir_async(op, "t/d1_w2")
        assert not [k for k in store.objects if k.startswith("t/d1_w2/")]

    asyncio.run(go())
