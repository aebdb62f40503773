"""Cleanup's directory removal runs off the event loop and a stopping signal ends it at the
next directory. Before, 8,421 tree directories were removed on the loop in one thread (16 s on
a loaded VM) and a second Ctrl-C was not even seen until they were all gone."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any, cast

from sai3bench.engine import interrupt
from sai3bench.engine.cleanup import remove_created_dirs
from sai3bench.engine.prepare import PreparedSet


class _Dirs:
    """A DirectoryOwner: records removals; the ``after``-th one stops the pools, as a second
    signal does."""

    def __init__(self, intr: interrupt.Interrupt, after: int) -> None:
        self.intr, self.after = intr, after
        self.removed: list[str] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def child_keys(self, key: str) -> list[str]:
        return [key]

    def rmdir_if_empty(self, path: str) -> bool:
        with self.lock:
            self.threads.add(threading.get_ident())
            self.removed.append(path)
            if len(self.removed) == self.after:
                self.intr._stop_pools()
        return True


def _dirs() -> list[str]:
    """A 3-level tree, outermost first: 10 + 100 + 1,000 directories."""
    top = [f"r/a{i}" for i in range(10)]
    mid = [f"{t}/b{j}" for t in top for j in range(10)]
    return top + mid + [f"{m}/c{k}" for m in mid for k in range(10)]


def _run(backend: _Dirs) -> int:
    ps = PreparedSet(cast(Any, SimpleNamespace()), cast(Any, backend), "r/")
    ps.created_dirs = _dirs()
    token = interrupt._active.set(backend.intr)
    try:
        return asyncio.run(remove_created_dirs([ps]))
    finally:
        interrupt._active.reset(token)


def test_directories_go_deepest_first_off_the_event_loop() -> None:
    backend = _Dirs(interrupt.Interrupt(), after=0)
    assert _run(backend) == 1110
    depth = [p.count("/") for p in backend.removed]
    assert depth == sorted(depth, reverse=True)  # no parent before any of its children
    assert threading.main_thread().ident not in backend.threads


def test_a_stopping_signal_ends_the_removal_at_the_next_directory() -> None:
    backend = _Dirs(interrupt.Interrupt(), after=50)
    removed = _run(backend)
    assert removed == len(backend.removed)
    assert 50 <= removed < 1000  # the deepest level was not even finished
