"""direct:// backend: file:// semantics, with every data read and write through O_DIRECT.

Everything but the data path is file://'s (this class inherits it): keys are absolute paths,
listing, stat, delete, directories, a PUT's hidden temporary name renamed onto the key, the
``page_cache_mode`` hint. Listings hold the backend's own keys, so a glob matches a direct://
URI as it matches a file:// one (upstream normalises the schemes for the same effect).

The data path (rules of O_DIRECT, see backends/aligned.py):
- Buffers: each worker thread's one page-aligned ``mmap`` of 4 MiB (``AlignedBuffers``), made
  on its first op and reused; no allocation per op.
- PUT: the body (from the run's DataSource) is copied into the aligned buffer, 4 MiB at a time,
  and written with ``pwrite`` at aligned offsets. The last piece is zero-padded to a whole
  block, then ``ftruncate`` cuts the file to the body's length: every write is O_DIRECT and the
  file holds exactly the body. Upstream does the same pad-and-truncate (s3dlio
  ``try_write_file_direct``) but writes bodies under one page through the page cache and one
  page per syscall otherwise; here a 1-byte PUT is one O_DIRECT block write plus the truncate.
  The copy is the price of O_DIRECT from generated data (DataSource views are not aligned):
  measured ~0.25 us per 4 KiB and ~35 us per 1 MiB on this VM (tools/bench_direct.py).
- GET: one ``fstat``, then ``pread`` of at most 4 MiB at a time at offsets 0, 4 MiB, ...,
  each asking for the rest of the file rounded up to a block (the last read returns the
  unaligned tail: the kernel allows that at end of file). Upstream reads whole files one page
  per syscall, which it measured 173x slower than 4 MiB chunks.
- Ranged GET (``util get --range``): the range widened to whole blocks, only the asked-for
  bytes counted.
Unlike upstream, a failed O_DIRECT call is an op error, never a silent retry through the page
cache: a benchmark that says direct:// must not measure the cache. The file system is checked
before the run (backends/direct_probe.py): tmpfs and any that refuse O_DIRECT are named there.
"""

from __future__ import annotations

import os
from typing import Final

from sai3bench.backends.aligned import (
    CHUNK,
    PAGE,
    AlignedBuffers,
    device_block,
    pread_into,
    round_up,
)
from sai3bench.backends.file import FileBackend
from sai3bench.config.storage_opts import PageCacheMode
from sai3bench.outcome import OpError, Outcome
from sai3bench.payload import Payload

_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_DIRECT_READ: Final = os.O_RDONLY | os.O_DIRECT | _CLOEXEC
_DIRECT_WRITE: Final = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT | _CLOEXEC
#: Zeros for the pad after a body's last byte (a block at most; the pad is then truncated away).
_ZEROS: Final = memoryview(bytes(1 << 16))


class DirectBackend(FileBackend):
    """POSIX files under ``direct://``, data through O_DIRECT. Thread-safe like FileBackend."""

    root_uri = "direct://"
    _write_flags = _DIRECT_WRITE
    _read_flags = _DIRECT_READ

    def __init__(
        self, *, threads: int = 16, page_cache: PageCacheMode | None = None, block: int = PAGE
    ) -> None:
        super().__init__(threads=threads, page_cache=page_cache)
        #: Offsets and lengths are multiples of this (aligned.device_block of the targets).
        self.block = block
        self._aligned = AlignedBuffers()

    def __repr__(self) -> str:
        return f"<DirectBackend threads={self._threads} block={self.block}>"

    def widen(self, path: str) -> None:
        """Align to the device under ``path`` too (a multi-endpoint run over several disks)."""
        self.block = max(self.block, device_block(path))

    def _temp_name(self) -> str:
        return self._aligned.temp_name

    def _write_file(self, fd: int, body: Payload) -> int:
        """Copy the body into the aligned buffer and write whole blocks; truncate the pad."""
        hint = self._hint
        parts = (body,) if isinstance(body, memoryview) else body
        size = sum(len(p) for p in parts)
        if hint is not None:
            hint.opened(fd, size)
        buf, block = self._aligned.view, self.block
        fill = offset = 0
        for part in parts:
            pos, n = 0, len(part)
            while pos < n:
                take = min(CHUNK - fill, n - pos)
                buf[fill : fill + take] = part[pos : pos + take]
                fill, pos = fill + take, pos + take
                if fill == CHUNK:
                    offset += _pwrite_all(fd, buf, offset, block)
                    fill = 0
        if fill:
            padded = round_up(fill, block)
            buf[fill:padded] = _ZEROS[: padded - fill]
            _pwrite_all(fd, buf[:padded], offset, block)
            if padded != fill:
                os.ftruncate(fd, size)
        if hint is not None:
            hint.done(fd)
        return size

    def _read_whole(self, fd: int, _offset: int, _length: int) -> int:
        """The whole file in aligned preads of at most 4 MiB, each asking for no more than
        the file holds (rounded up to the block): the size comes from one fstat, because the
        kernel pins every page of the buffer a read asks for, however little the file has.
        Measured on 4 KiB files: +54 us of CPU per GET asking 4 MiB instead of 4 KiB."""
        addr, block, hint = self._aligned.addr, self.block, self._hint
        size = os.fstat(fd).st_size
        if hint is not None:
            hint.opened(fd, size)
        total = 0
        while total < size:
            want = min(CHUNK, round_up(size - total, block))
            n = pread_into(fd, addr, want, total)
            total += n
            if n < want:
                break  # the end of the file (or it shrank since the fstat)
        return total

    def _read_range(self, fd: int, offset: int, length: int) -> int:
        """``length`` bytes from ``offset``: whole blocks around them, only those counted."""
        addr, block = self._aligned.addr, self.block
        if self._hint is not None:
            self._hint.opened(fd, length)
        end, pos, got = offset + length, offset & -block, 0
        while pos < end:
            want = min(CHUNK, round_up(end - pos, block))
            n = pread_into(fd, addr, want, pos)
            got += max(0, min(end, pos + n) - max(offset, pos))
            pos += n
            if n < want:
                break
        return got


def _pwrite_all(fd: int, view: memoryview, offset: int, block: int) -> int:
    """Write all of ``view`` (whole blocks) at ``offset``. O_DIRECT writes are all or nothing
    in practice; a short one (a full disk) is retried from where it stopped while it stays on a
    block boundary, else reported."""
    total = len(view)
    done = os.pwrite(fd, view, offset)
    while done < total:
        if done % block:
            raise OpError(Outcome.NO_SPACE, f"short O_DIRECT write ({done} of {total} bytes)")
        n = os.pwrite(fd, view[done:], offset + done)
        if n == 0:
            raise OpError(Outcome.NO_SPACE, f"O_DIRECT write stopped at {done} of {total} bytes")
        done += n
    return total
