"""Aligned memory and block sizes for O_DIRECT (direct://).

O_DIRECT moves data between the device and the caller's buffer with no page cache in between,
so the buffer's address, the file offset and the length must each be a multiple of the
device's logical block (512 or 4096 bytes on every disk seen). Upstream (s3dlio's
file_store_direct.rs) aligns to the system page size; we align to the larger of the page size
and the device's logical block, read from sysfs for the device that holds the path.

Owns: one page-aligned ``mmap`` buffer per worker thread (made once, on the thread's first op,
reused by every op after it: no allocation per op) and the block-size lookup.
Never: opens files with O_DIRECT (backends/direct.py) or writes anything.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
from pathlib import Path
from typing import Final

from sai3bench.backends.file import new_temp_name

PAGE: Final = mmap.PAGESIZE
#: Bytes moved per O_DIRECT syscall, and the size of each thread's buffer. Upstream measured
#: direct:// reads of 8 MiB files at 4 MiB chunks 173x faster than its whole-file read (which
#: went one page at a time) and a little faster than 1 MiB chunks (benches/CHUNKED_READS...).
CHUNK: Final = 4 << 20
_MAX_BLOCK: Final = 1 << 16  # a larger "logical block" is a misread sysfs value, not a disk


class AlignedBuffers(threading.local):
    """Per thread: a ``CHUNK``-byte anonymous mapping (page-aligned by construction) and the
    PUT temporary name the file:// backend gives each thread.

    The mapping costs address space only until touched: a thread that moves 4 KiB objects
    touches one page of it.
    """

    def __init__(self) -> None:
        self.temp_name = new_temp_name()
        self.mem = mmap.mmap(-1, CHUNK)
        self.view = memoryview(self.mem)
        #: The mapping's address, for ``pread_into``.
        self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self.mem))


_libc = ctypes.CDLL(None, use_errno=True)
_pread = _libc.pread64
_pread.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64)
_pread.restype = ctypes.c_ssize_t


def pread_into(fd: int, addr: int, length: int, offset: int) -> int:
    """pread(2) into memory at ``addr`` (an aligned buffer's); the GIL is released.

    Why not ``os.preadv``: strace shows an iovec's contents, never its buffer address, and
    the alignment of that address is what O_DIRECT needs and what the strace test
    (tests/integration/test_direct_strace.py) checks. The price: ~3 us more per call than
    ``os.preadv`` (ffi and the GIL hand-off; 4.3-4.7 us against 1.4 us on this loaded 2-vCPU
    VM, tools/bench_direct.py), small beside the ~40 us of kernel CPU of a 4 KiB O_DIRECT read.
    """
    n: int = _pread(fd, addr, length, offset)
    if n < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return n


def round_up(n: int, block: int) -> int:
    """``n`` rounded up to a multiple of ``block`` (a power of two)."""
    return (n + block - 1) & -block


def device_block(path: str) -> int:
    """The alignment O_DIRECT I/O under ``path`` needs: max(page size, the logical block of the
    device holding ``path`` or its nearest existing parent). The page size when sysfs does
    not say (a network or FUSE file system has no block device)."""
    probe = Path(path)
    while True:
        try:
            st = os.stat(probe)
            break
        except (FileNotFoundError, NotADirectoryError):
            if probe == probe.parent:
                return PAGE
            probe = probe.parent
        except (OSError, ValueError):
            return PAGE
    logical = _sysfs_logical_block(os.major(st.st_dev), os.minor(st.st_dev))
    return max(PAGE, logical)


def _sysfs_logical_block(major: int, minor: int) -> int:
    """queue/logical_block_size of the device (a partition's is its disk's), or 0."""
    dev = Path(f"/sys/dev/block/{major}:{minor}")
    for queue in (dev / "queue", dev / ".." / "queue"):
        try:
            size = int((queue / "logical_block_size").read_text().strip())
        except (OSError, ValueError):
            continue
        if 0 < size <= _MAX_BLOCK and size & (size - 1) == 0:
            return size
    return 0
