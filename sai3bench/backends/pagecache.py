"""``page_cache_mode``: the ``posix_fadvise`` hint file:// and direct:// give each file.

Upstream (s3dlio's page_cache.rs, called by its file store on a whole-file GET) advises the
whole file (offset 0, length 0) right after opening it: ``sequential``, ``random`` and
``normal`` map to the POSIX advice of that name; ``auto`` is SEQUENTIAL for a file of at least
64 MiB, else RANDOM (``AUTO_SEQUENTIAL_THRESHOLD``; upstream's config doc says "Sequential for
full GETs, Random for range GETs", the code decides by size: we follow the code).

Where we differ, on purpose:
- Upstream passes the mode only when no op-logger is active (a store made with the logger
  drops it). Here it applies always: an op-log must not change what the storage does.
- ``dontneed`` is advised *after* the I/O. Upstream advises it before the read, when nothing of
  the file is cached yet, so it drops nothing; the mode's own doc ("free immediately") means
  after. After a buffered write it starts writeback and drops the pages already clean.
- Writes (PUT) are advised too, by the body's size; upstream hints reads only.
- direct:// keeps O_DIRECT with a mode set. Upstream's workload.rs builds its plain buffered
  file store for a direct:// target whenever page_cache_mode is set (the O_DIRECT store only
  without it), and that store expects file:// URIs.
- No mode (the key absent) means no hint and no syscall. Upstream's s3dlio file store then
  defaults to ``auto``; we leave the kernel's default alone unless asked.

Cost: one ``posix_fadvise`` per op (two with ``auto`` on a file read past its first chunk, which
needs an ``fstat`` for the size). Errors are ignored, as upstream ignores them: a hint is not
the op.
"""

from __future__ import annotations

import os
from typing import Final

from sai3bench.config.storage_opts import PageCacheMode

AUTO_SEQUENTIAL_MIN: Final = 64 << 20
"""``auto``: files of at least this many bytes get SEQUENTIAL, smaller ones RANDOM (s3dlio)."""

_FIXED: Final = {
    "sequential": os.POSIX_FADV_SEQUENTIAL,
    "random": os.POSIX_FADV_RANDOM,
    "normal": os.POSIX_FADV_NORMAL,
}


class PageCacheHint:
    """One run's mode, applied to each file a backend opens. Stateless per op: thread-safe."""

    __slots__ = ("_advice", "_auto", "_dontneed", "mode")

    def __init__(self, mode: PageCacheMode) -> None:
        self.mode = mode
        self._advice = _FIXED.get(mode)
        self._auto = mode == "auto"
        self._dontneed = mode == "dontneed"

    def __repr__(self) -> str:
        return f"<PageCacheHint {self.mode}>"

    def opened(self, fd: int, size: int) -> None:
        """Advise a file just opened; ``size`` is its length if known (a PUT's body), else 0:
        ``auto`` then takes it for small and ``grown`` corrects it for a large file."""
        advice = self._advice
        if self._auto:
            advice = (
                os.POSIX_FADV_SEQUENTIAL if size >= AUTO_SEQUENTIAL_MIN else os.POSIX_FADV_RANDOM
            )
        if advice is not None:
            _advise(fd, advice)

    def grown(self, fd: int) -> None:
        """A read went past its first chunk: ``auto`` learns the size (one fstat) and switches
        a file of at least 64 MiB to SEQUENTIAL. Small files never get here."""
        if self._auto:
            try:
                size = os.fstat(fd).st_size
            except OSError:
                return
            if size >= AUTO_SEQUENTIAL_MIN:
                _advise(fd, os.POSIX_FADV_SEQUENTIAL)

    def done(self, fd: int) -> None:
        """After the file's I/O: ``dontneed`` drops its cached pages."""
        if self._dontneed:
            _advise(fd, os.POSIX_FADV_DONTNEED)


def page_cache_hint(mode: PageCacheMode | None) -> PageCacheHint | None:
    """The hint for ``mode``; None (no syscall at all) when the config sets no mode."""
    return None if mode is None else PageCacheHint(mode)


def _advise(fd: int, advice: int) -> None:
    # try/except, not contextlib.suppress: a with-block costs ~0.2 us more per op.
    try:  # noqa: SIM105
        os.posix_fadvise(fd, 0, 0, advice)
    except OSError:
        pass  # e.g. ESPIPE on a FIFO someone named as a key: the op itself decides
