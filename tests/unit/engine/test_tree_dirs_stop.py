"""A signal in a tree's directory pass stops it at the next directory; those made so far stay
recorded in ``created_dirs`` (cleanup removes them). Before, the pass ran on to the last of its
directories, the stage was abandoned after its grace and every directory stayed on disk,
recorded nowhere."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sai3bench.backends.file import FileBackend
from sai3bench.config.tree import DirectoryStructure
from sai3bench.engine import interrupt
from sai3bench.engine.prepare import PreparedSet
from sai3bench.engine.tree_stage import make_tree_dirs
from sai3bench.plan.tree import TreeLayout


class _SignalAfter(FileBackend):
    """A file backend whose ``after``-th make_dir delivers the first signal's pool stop."""

    def __init__(self, intr: interrupt.Interrupt, after: int) -> None:
        super().__init__(threads=4)
        self.intr, self.after, self.calls = intr, after, 0

    def make_dir(self, path: str, *, parents: bool = False) -> bool:
        made = super().make_dir(path, parents=parents)
        self.calls += 1
        if self.calls == self.after:
            self.intr.signum, self.intr._halt = 2, True
            self.intr._stop_pools()
        return made


def test_a_signal_stops_the_directory_pass_and_the_books_hold_what_is_on_disk(
    tmp_path: Path,
) -> None:
    layout = TreeLayout(DirectoryStructure(width=8, depth=3, files_per_dir=1))  # 584 dirs
    intr = interrupt.Interrupt()
    backend = _SignalAfter(intr, after=20)
    root = tmp_path / "tree"
    pset = SimpleNamespace(tree=layout, base_uri=f"file://{root}/")
    ps = PreparedSet(cast(Any, pset), backend, f"{root}/")
    ctx = SimpleNamespace(out=SimpleNamespace(say=lambda line: None))
    token = interrupt._active.set(intr)
    try:
        asyncio.run(make_tree_dirs(cast(Any, ctx), ps))
    finally:
        interrupt._active.reset(token)
        backend.executor.shutdown()
    on_disk = {str(tmp_path)} | {t for t, _, _ in os.walk(tmp_path)}
    assert {d.rstrip("/") for d in ps.created_dirs} == on_disk - {str(tmp_path)}
    assert 0 < len(ps.created_dirs) < 100  # stopped soon after the signal, not at 585
