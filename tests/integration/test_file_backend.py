"""file:// backend on a real file system under tmp_path: round trips, listing, error outcomes."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from sai3bench.backends.base import ObjectInfo
from sai3bench.backends.file import TEMP_SUFFIX, FileBackend
from sai3bench.outcome import OpError, Outcome
from tests.integration.conftest import immutable_dir

pytestmark = pytest.mark.integration

SEED = 424242


def body(n: int, seed: int = SEED) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.fixture
def fb() -> FileBackend:
    return FileBackend(threads=2)


def outcome_of(fn: Callable[..., object], *args: object) -> Outcome:
    with pytest.raises(OpError) as info:
        fn(*args)
    return info.value.outcome


def keys(infos: list[ObjectInfo]) -> list[str]:
    return sorted(i.key for i in infos)


def test_sync_round_trip(fb: FileBackend, tmp_path: Path) -> None:
    key = str(tmp_path / "obj.dat")
    data = body(3000)
    assert fb.put_sync(key, memoryview(data)) == 3000
    assert Path(key).read_bytes() == data
    assert fb.get_sync(key) == 3000
    assert fb.head_sync(key) == 3000
    assert fb.delete_sync(key) == 0
    assert not Path(key).exists()
    assert outcome_of(fb.get_sync, key) == Outcome.NOT_FOUND
    assert outcome_of(fb.head_sync, key) == Outcome.NOT_FOUND
    assert outcome_of(fb.delete_sync, key) == Outcome.NOT_FOUND


def test_put_overwrites_and_truncates(fb: FileBackend, tmp_path: Path) -> None:
    key = str(tmp_path / "o")
    fb.put_sync(key, memoryview(body(5000)))
    fb.put_sync(key, memoryview(b"short"))
    assert Path(key).read_bytes() == b"short"


def test_get_larger_than_read_chunk(fb: FileBackend, tmp_path: Path) -> None:
    key = tmp_path / "big"
    key.write_bytes(body((5 << 20) // 2 + 17))
    assert fb.get_sync(str(key)) == (5 << 20) // 2 + 17


def test_zero_byte_object(fb: FileBackend, tmp_path: Path) -> None:
    key = str(tmp_path / "empty")
    assert fb.put_sync(key, memoryview(b"")) == 0
    assert fb.get_sync(key) == 0
    assert fb.head_sync(key) == 0


def test_put_creates_parent_directories(fb: FileBackend, tmp_path: Path) -> None:
    key = tmp_path / "a" / "b" / "c" / "x.dat"
    assert fb.put_sync(str(key), memoryview(b"hello")) == 5
    assert key.read_bytes() == b"hello"


def test_multi_part_payload_writes_every_part_in_order(fb: FileBackend, tmp_path: Path) -> None:
    parts = [body(1 << 20, 1), body(7, 2), body(65536 + 3, 3)]
    key = str(tmp_path / "multi")
    n = fb.put_sync(key, tuple(memoryview(p) for p in parts))
    assert n == sum(len(p) for p in parts)
    assert Path(key).read_bytes() == b"".join(parts)


def make_tree(root: Path) -> None:
    for rel in (
        "prepared-00000000.dat",
        "prepared-00000001.dat",
        "deletable-00000000.dat",
        "other.txt",
        "sub/prepared-00000002.dat",
        "sub/deeper/z.dat",
        "prepared-dir/inner.dat",
    ):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rel.encode())  # sizes differ: len(rel)


def test_list_directory_recursive_and_not(fb: FileBackend, tmp_path: Path) -> None:
    make_tree(tmp_path / "d")
    d = str(tmp_path / "d")
    flat = {"prepared-00000000.dat", "prepared-00000001.dat", "deletable-00000000.dat"}
    flat.add("other.txt")
    assert keys(fb.list_sync(d + "/", recursive=False)) == sorted(f"{d}/{n}" for n in flat)
    deep = flat | {"sub/prepared-00000002.dat", "sub/deeper/z.dat", "prepared-dir/inner.dat"}
    assert keys(fb.list_sync(d + "/", recursive=True)) == sorted(f"{d}/{n}" for n in deep)
    assert {i.key: i.size for i in fb.list_sync(d + "/")} == {f"{d}/{n}": len(n) for n in deep}
    # The workload's LIST op: the same names, no stat per file.
    bare = fb.list_sync(d + "/", sizes=False)
    assert keys(bare) == keys(fb.list_sync(d + "/")) and {i.size for i in bare} == {-1}


def test_list_name_prefix_filters_first_level_only(fb: FileBackend, tmp_path: Path) -> None:
    make_tree(tmp_path / "d")
    d = str(tmp_path / "d")
    got = keys(fb.list_sync(d + "/prepared-", recursive=False))
    assert got == [f"{d}/prepared-00000000.dat", f"{d}/prepared-00000001.dat"]
    got = keys(fb.list_sync(d + "/prepared-", recursive=True))
    assert got == [
        f"{d}/prepared-00000000.dat",
        f"{d}/prepared-00000001.dat",
        f"{d}/prepared-dir/inner.dat",
    ]
    assert keys(fb.list_sync(d + "/deletable-", recursive=False)) == [f"{d}/deletable-00000000.dat"]
    assert fb.list_sync(d + "/nomatch-", recursive=True) == []


def test_list_missing_is_empty(fb: FileBackend, tmp_path: Path) -> None:
    assert fb.list_sync(str(tmp_path / "missing") + "/") == []
    assert fb.list_sync(str(tmp_path / "missing" / "prepared-")) == []
    (tmp_path / "file").write_bytes(b"x")
    assert fb.list_sync(str(tmp_path / "file") + "/") == []  # a file is not a directory


def test_errors_map_to_outcomes(fb: FileBackend, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "x")
    assert outcome_of(fb.get_sync, missing) == Outcome.NOT_FOUND
    assert outcome_of(fb.head_sync, str(tmp_path)) == Outcome.CLIENT_ERROR  # a directory
    assert outcome_of(fb.get_sync, str(tmp_path)) == Outcome.CLIENT_ERROR
    assert outcome_of(fb.delete_sync, str(tmp_path)) in (Outcome.CLIENT_ERROR, Outcome.PERMISSION)
    assert outcome_of(fb.put_sync, str(tmp_path), memoryview(b"x")) == Outcome.CLIENT_ERROR
    long_name = str(tmp_path / ("n" * 300))
    assert outcome_of(fb.put_sync, long_name, memoryview(b"x")) == Outcome.CLIENT_ERROR


def test_put_under_a_file_is_a_client_error(fb: FileBackend, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    assert outcome_of(fb.put_sync, str(tmp_path / "f" / "x"), memoryview(b"x")) == (
        Outcome.CLIENT_ERROR
    )


def test_permission_denied_put_and_delete(fb: FileBackend, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "keep.dat").write_bytes(b"keep")
    with immutable_dir(locked):
        with pytest.raises(OpError) as err:
            fb.put_sync(str(locked / "new.dat"), memoryview(b"x"))
        assert err.value.outcome == Outcome.PERMISSION
        assert str(locked / "new.dat") in err.value.detail
        assert outcome_of(fb.delete_sync, str(locked / "keep.dat")) == Outcome.PERMISSION
        assert outcome_of(fb.put_sync, str(locked / "sub" / "x"), memoryview(b"x")) == (
            Outcome.PERMISSION
        )
    assert (locked / "keep.dat").read_bytes() == b"keep"
    assert not (locked / "new.dat").exists()
    assert fb.put_sync(str(locked / "new.dat"), memoryview(b"ok")) == 2  # restored


def test_rmdir_if_empty(fb: FileBackend, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "f").write_bytes(b"x")
    assert fb.rmdir_if_empty(str(full)) is False
    assert (full / "f").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert fb.rmdir_if_empty(str(empty)) is True
    assert not empty.exists()
    assert fb.rmdir_if_empty(str(tmp_path / "never")) is False
    assert fb.rmdir_if_empty(str(full / "f")) is False  # a file is never removed
    assert (full / "f").exists()


def test_key_uri_round_trip(fb: FileBackend) -> None:
    assert fb.key_of("file:///a/b") == "/a/b"
    assert fb.uri_of("/a/b") == "file:///a/b"
    assert fb.key_of(fb.uri_of("/x/y/")) == "/x/y/"


def test_async_round_trip(tmp_path: Path) -> None:
    async def go() -> None:
        fb = FileBackend(threads=3)
        try:
            d = tmp_path / "async"
            data = body(10_000)
            puts = await asyncio.gather(
                *(fb.put(str(d / f"prepared-{i:08}.dat"), memoryview(data)) for i in range(5))
            )
            assert puts == [(10_000, 0)] * 5  # a file has no time to first byte
            assert (await fb.get(str(d / "prepared-00000003.dat")))[0] == 10_000
            assert (await fb.head(str(d / "prepared-00000004.dat")))[0] == 10_000
            listed = await fb.list(str(d) + "/prepared-", recursive=False)
            assert keys(listed) == [str(d / f"prepared-{i:08}.dat") for i in range(5)]
            assert (await fb.delete(str(d / "prepared-00000000.dat")))[0] == 0
            with pytest.raises(OpError) as info:
                await fb.get(str(d / "prepared-00000000.dat"))
            assert info.value.outcome == Outcome.NOT_FOUND
            assert len(await fb.list(str(d) + "/")) == 4
        finally:
            await fb.close()

    asyncio.run(go())
    assert sorted(os.listdir(tmp_path / "async")) == [f"prepared-{i:08}.dat" for i in (1, 2, 3, 4)]


def test_get_range_reads_the_span_or_what_is_left(tmp_path: Path) -> None:
    path = tmp_path / "obj"
    path.write_bytes(bytes(range(256)) * 8192)  # 2 MiB: ranges cross the 1 MiB read buffer
    b = FileBackend(threads=1)
    assert b.get_range_sync(str(path), 100, 1500) == 1500
    assert b.get_range_sync(str(path), 500_000, 1_500_000) == 1_500_000
    assert b.get_range_sync(str(path), 2 * 1024 * 1024 - 10, 100) == 10
    assert b.get_range_sync(str(path), 5 * 1024 * 1024, 100) == 0


def test_list_hides_put_temporary_files(fb: FileBackend, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / f".0123456789ab{TEMP_SUFFIX}").write_bytes(b"half written")
    (d / ".hidden").write_bytes(b"a user's file")
    fb.put_sync(str(d / "prepared-00000000.dat"), memoryview(b"whole"))
    listed = {i.key: i.size for i in fb.list_sync(str(d) + "/")}
    assert listed == {str(d / ".hidden"): 13, str(d / "prepared-00000000.dat"): 5}


@pytest.fixture
def disk_full_after(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """The backend's writes put ``n`` more bytes on disk, then fail with ENOSPC."""
    import errno

    from sai3bench.backends import file as file_mod

    left = [0]

    def write_all(fd: int, view: memoryview) -> int:
        n = os.write(fd, view[: max(left[0], 0)])
        left[0] -= n
        if n < len(view):
            raise OSError(errno.ENOSPC, "No space left on device")
        return n

    monkeypatch.setattr(file_mod, "_write_all", write_all)
    return lambda n: left.__setitem__(0, n)


def test_put_failing_mid_write_leaves_no_object(
    fb: FileBackend, tmp_path: Path, disk_full_after: Callable[[int], None]
) -> None:
    d = tmp_path / "d"
    key = str(d / "prepared-00000001.dat")
    disk_full_after(1000)
    with pytest.raises(OpError) as info:
        fb.put_sync(key, memoryview(body(5000)))
    assert info.value.outcome == Outcome.NO_SPACE
    assert key in info.value.detail  # names the key, not the temporary file
    assert os.listdir(d) == []  # no short object, no temporary file
    assert fb.list_sync(str(d) + "/") == []


def test_failed_overwrite_keeps_the_old_object_whole(
    fb: FileBackend, tmp_path: Path, disk_full_after: Callable[[int], None]
) -> None:
    key = str(tmp_path / "obj")
    old = body(3000, seed=1)
    disk_full_after(1 << 30)
    fb.put_sync(key, memoryview(old))
    disk_full_after(10)
    with pytest.raises(OpError):
        fb.put_sync(key, (memoryview(body(2000)), memoryview(body(2000))))
    assert Path(key).read_bytes() == old
    assert os.listdir(tmp_path) == ["obj"]


_FSIZE_CHILD = """
import resource, signal, sys
from sai3bench.backends.file import FileBackend
from sai3bench.outcome import OpError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
try:
    FileBackend(threads=1).put_sync(sys.argv[1], memoryview(bytes(1 << 20)))
except OpError as exc:
    print(exc.outcome.name)
"""


def test_put_cut_short_by_the_kernel_leaves_no_object(tmp_path: Path) -> None:
    """A real mid-write failure: the kernel's file size limit stops the write at 64 KiB."""
    import subprocess
    import sys

    key = tmp_path / "prepared-00000000.dat"
    proc = subprocess.run(
        [sys.executable, "-c", _FSIZE_CHILD, str(key)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "CLIENT_ERROR"  # EFBIG: larger than the target takes
    assert os.listdir(tmp_path) == []
