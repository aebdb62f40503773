"""What every stage of one run shares: backends, concurrency, output, seeds."""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Protocol

from sai3bench.backends.base import Backend, BlockingBackend
from sai3bench.backends.registry import Backends
from sai3bench.datagen.buffers import DataSource
from sai3bench.engine.intervals import IntervalSink


class Output(Protocol):
    """Where stages say what they do (the console, tee'd into console_log.txt)."""

    def say(self, line: str = "") -> None: ...
    def warn(self, line: str) -> None: ...
    def progress(self, line: str) -> None:
        """A live status line, overwritten by the next one; not part of the saved log."""
        ...


class RunContext:
    """Shared, loop-side state of one run. Not thread-safe."""

    def __init__(
        self,
        *,
        backends: Backends,
        concurrency: int,
        out: Output,
        seed: int,
        rng_seed: int | None = None,
    ) -> None:
        self.backends = backends
        self.concurrency = concurrency
        self.out = out
        #: The run's seed: data pools depend on it alone, so every process writes the same bytes.
        self.seed = seed
        #: Op choices: the share's own seed in a multi-process run (plan/share.py share_seed).
        self.rng = random.Random(seed if rng_seed is None else rng_seed)
        self._data: dict[tuple[str, int, int], DataSource] = {}
        #: Where each stage's closed intervals go (engine/intervals.py), and this process's
        #: share index in the running stage.
        self.intervals: IntervalSink | None = None
        self.share = 0

    def for_share(self, concurrency: int, rng_seed: int) -> RunContext:
        """The same backends and data pools, with one share's concurrency and op-choice seed."""
        ctx = RunContext(
            backends=self.backends,
            concurrency=concurrency,
            out=self.out,
            seed=self.seed,
            rng_seed=rng_seed,
        )
        ctx._data = self._data
        ctx.intervals = self.intervals
        return ctx

    def __repr__(self) -> str:
        return f"<RunContext concurrency={self.concurrency} seed={self.seed}>"

    def data_source(self, fill: str, dedup: int, compress: int) -> DataSource:
        """One data pool per (fill, dedup, compress), shared by every op and set that uses it."""
        key = (fill, dedup, compress)
        ds = self._data.get(key)
        if ds is None:
            seed = self.seed ^ zlib.crc32(repr(key).encode())
            ds = self._data[key] = DataSource(
                fill, dedup_factor=dedup, compress_factor=compress, seed=seed
            )
        return ds

    def executor_for(self, backends: Sequence[Backend], workers: int) -> Executor | None:
        return executor_for(backends, workers)


def executor_for(backends: Sequence[Backend], workers: int) -> Executor | None:
    """A thread pool of ``workers`` threads when every backend is a BlockingBackend (its ops
    then run batched in threads), else None (ops run on the loop)."""
    blocking = [b for b in backends if isinstance(b, BlockingBackend)]
    if not blocking or len(blocking) < len(backends):
        return None
    blocking[0].resize(workers)
    return blocking[0].executor
