"""direct:// backend: exact bytes through O_DIRECT, aligned buffers, file://'s namespace rules,
and page_cache_mode's posix_fadvise calls (backends/direct.py, aligned.py, pagecache.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sai3bench.backends.aligned import CHUNK, PAGE, AlignedBuffers, device_block, round_up
from sai3bench.backends.direct import DirectBackend
from sai3bench.backends.file import FileBackend, is_temp_name
from sai3bench.backends.pagecache import AUTO_SEQUENTIAL_MIN
from sai3bench.config.storage_opts import PageCacheMode
from sai3bench.datagen.buffers import DataSource
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload

MiB = 1 << 20
#: Not multiples of the block among them: the tail is padded, then truncated away.
SIZES = (1, 4095, 4096, 4097, MiB + 3, CHUNK, CHUNK + 5, 2 * CHUNK + 4097)


def _flat(body: Payload) -> bytes:
    return bytes(body) if isinstance(body, memoryview) else b"".join(bytes(p) for p in body)


@pytest.mark.parametrize("size", SIZES)
def test_put_writes_exactly_the_body_and_get_reads_it_all(tmp_path: Path, size: int) -> None:
    backend = DirectBackend(threads=1)
    body = DataSource("random", seed=3).payload(size, size, bytearray())
    key = str(tmp_path / "sub" / "obj.dat")
    assert backend.put_sync(key, body) == size
    assert Path(key).read_bytes() == _flat(body)
    assert backend.get_sync(key) == size
    assert backend.head_sync(key) == size
    assert not [n for n in os.listdir(tmp_path / "sub") if is_temp_name(n)]


def test_a_body_of_several_views_is_written_in_order(tmp_path: Path) -> None:
    """Bodies above the DataSource's scratch cap are tuples of views (head + pool views)."""
    source = DataSource("random", seed=5, scratch_cap=64 << 10)
    body = source.payload(300_007, 11, bytearray())
    assert isinstance(body, tuple)
    key = str(tmp_path / "big.dat")
    DirectBackend(threads=1).put_sync(key, body)
    assert Path(key).read_bytes() == _flat(body)


def test_zero_fill_and_empty_bodies(tmp_path: Path) -> None:
    backend = DirectBackend(threads=1)
    zeros = DataSource("zero").payload(5000, 0, bytearray())
    backend.put_sync(str(tmp_path / "z"), zeros)
    assert (tmp_path / "z").read_bytes() == bytes(5000)
    backend.put_sync(str(tmp_path / "e"), memoryview(b""))
    assert (tmp_path / "e").stat().st_size == 0
    assert backend.get_sync(str(tmp_path / "e")) == 0


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [(0, 10, 10), (1, 5000, 4096), (4000, 200, 97), (4097, 10, 0), (0, 1 << 30, 4097)],
)
def test_ranged_get_counts_only_the_asked_bytes(
    tmp_path: Path, offset: int, length: int, expected: int
) -> None:
    key = tmp_path / "r.dat"
    key.write_bytes(os.urandom(4097))
    assert DirectBackend(threads=1).get_range_sync(str(key), offset, length) == expected


def test_keys_uris_listing_and_delete_are_file_semantics(tmp_path: Path) -> None:
    backend = DirectBackend(threads=1)
    key = str(tmp_path / "d" / "a.dat")
    backend.put_sync(key, memoryview(b"x" * 10))
    assert backend.uri_of(key) == "direct://" + key
    assert backend.key_of("direct://" + key) == key
    assert [o.key for o in backend.list_sync(str(tmp_path) + "/")] == [key]
    backend.delete_sync(key)
    with pytest.raises(OpError) as err:
        backend.get_sync(key)
    assert err.value.outcome is Outcome.NOT_FOUND


def test_each_thread_has_one_page_aligned_buffer_reused() -> None:
    buffers = AlignedBuffers()
    first = buffers.addr
    assert first % PAGE == 0 and len(buffers.view) == CHUNK
    assert buffers.addr == first  # the same mapping on every op of this thread
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(buffers.addr))
    thread.start()
    thread.join()
    assert other[0] != first and other[0] % PAGE == 0
    assert is_temp_name(buffers.temp_name.lstrip("/"))


def test_block_is_at_least_the_page_and_a_power_of_two(tmp_path: Path) -> None:
    block = device_block(str(tmp_path / "not" / "yet"))
    assert block >= PAGE and block & (block - 1) == 0
    assert round_up(1, 4096) == 4096 and round_up(4096, 4096) == 4096


# -- page_cache_mode ----------------------------------------------------------------------


def _advice_log(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        assert (offset, length) == (0, 0)  # the whole file, as upstream
        calls.append(advice)
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", spy)
    return calls


_EXPECTED = {
    "sequential": [os.POSIX_FADV_SEQUENTIAL],
    "random": [os.POSIX_FADV_RANDOM],
    "normal": [os.POSIX_FADV_NORMAL],
    "dontneed": [os.POSIX_FADV_DONTNEED],
    "auto": [os.POSIX_FADV_RANDOM],  # a small file
}


@pytest.mark.parametrize("backend_cls", [FileBackend, DirectBackend])
@pytest.mark.parametrize("mode", sorted(_EXPECTED))
def test_each_mode_advises_every_get_and_put_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend_cls: type[FileBackend],
    mode: PageCacheMode,
) -> None:
    backend = backend_cls(threads=1, page_cache=mode)
    calls = _advice_log(monkeypatch)
    key = str(tmp_path / "f.dat")
    backend.put_sync(key, memoryview(b"y" * 5000))
    backend.get_sync(key)
    assert calls == _EXPECTED[mode] * 2


def test_no_mode_makes_no_fadvise_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _advice_log(monkeypatch)
    for backend in (FileBackend(threads=1), DirectBackend(threads=1)):
        key = str(tmp_path / "n.dat")
        backend.put_sync(key, memoryview(b"z" * 100))
        backend.get_sync(key)
    assert calls == []


def test_auto_switches_a_file_of_64_mib_to_sequential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3dlio's rule: >= 64 MiB sequential, else random; a read learns the size after its
    first chunk (one fstat), a write knows it from the body."""
    big = tmp_path / "big.dat"
    with open(big, "wb") as f:
        f.truncate(AUTO_SEQUENTIAL_MIN)  # sparse: reads as zeros, costs no disk
    calls = _advice_log(monkeypatch)
    FileBackend(threads=1, page_cache="auto").get_sync(str(big))
    assert calls == [os.POSIX_FADV_RANDOM, os.POSIX_FADV_SEQUENTIAL]
    calls.clear()
    DirectBackend(threads=1, page_cache="auto").get_sync(str(big))  # fstat'd: one call
    assert calls == [os.POSIX_FADV_SEQUENTIAL]
    calls.clear()
    body = DataSource("zero").payload(AUTO_SEQUENTIAL_MIN, 0, bytearray())
    FileBackend(threads=1, page_cache="auto").put_sync(str(tmp_path / "w.dat"), body)
    assert calls == [os.POSIX_FADV_SEQUENTIAL]
