"""The workload's MKDIR and RMDIR: real directories where the storage has them, markers where not.

file:// and direct:// (``DirectoryMaker``): ``mkdir -p`` (s3dlio's ``create_dir_all``: one that
exists is a success) and rmdir, ``rm -r`` with ``recursive``. A directory already gone is a
success, as in s3dlio; a non-empty one without ``recursive`` fails as the file system says
(ENOTEMPTY, counted as OTHER: a result, not a mis-aimed op that stops the run).

Object stores have no directories: a directory is a key prefix. MKDIR writes the zero-byte
marker ``dir/`` (the convention the S3 console and gsutil use); RMDIR deletes that marker, and
with ``recursive`` every object under ``dir/``. Upstream's s3dlio deletes everything under the
prefix even without ``recursive``; we keep the flag's file-system meaning on every backend, so
one config does the same thing on file:// and s3://. Cleanup removes the markers a tree
workload may have left (engine/tree_stage.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Final

from sai3bench.backends.base import Backend, BatchDeleter, OpResult
from sai3bench.backends.s3shapes import outcome_for
from sai3bench.engine.ops import PlannedOp
from sai3bench.metrics.collector import OpKind
from sai3bench.outcome import OpError, Outcome
from sai3bench.plan.tree import TreePaths

_EMPTY: Final = memoryview(b"")
#: Keys per DeleteObjects request of a recursive RMDIR: S3's limit.
_BATCH: Final = 1000


def marker_key(key: str) -> str:
    """The zero-byte object that stands for directory ``key`` on an object store."""
    return key if key.endswith("/") else key + "/"


def run_dir_sync(op: PlannedOp, key: str) -> int:
    """MKDIR or RMDIR of directory ``key`` in a worker thread (file://, direct://); 0 bytes."""
    maker = op.dirs
    if maker is None:  # resolve refuses such a plan; kept for a hand-made PlannedOp
        raise OpError(Outcome.CLIENT_ERROR, f"{op.label}: this storage has no directories")
    if op.kind == OpKind.MKDIR:
        maker.make_dir(key, parents=True)
    else:
        maker.remove_dir(key, recursive=op.recursive, owned=_owned_below(op, key))
    return 0


def _owned_below(op: PlannedOp, key: str) -> Callable[[str], bool] | None:
    """What a recursive RMDIR of tree directory ``key`` may remove: the tree's own files and
    directories below it (names relative to ``key``), never a file the run did not make."""
    tree = op.keys
    if not op.recursive or not isinstance(tree, TreePaths):
        return None
    layout, at = tree.layout, key[len(tree.base) :].rstrip("/") + "/"
    return lambda rel: layout.owns(at + rel)


async def run_dir_async(op: PlannedOp, key: str) -> OpResult:
    """MKDIR or RMDIR on the event loop: a directory through the backend's threads, or the
    marker object(s) of an object store."""
    if op.dirs is not None:
        executor = op.blocking.executor if op.blocking is not None else None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, run_dir_sync, op, key), 0
    b = op.backend
    marker = marker_key(key)
    if op.kind == OpKind.MKDIR:
        return 0, (await b.put(marker, _EMPTY))[1]
    if not op.recursive:
        try:
            return 0, (await b.delete(marker))[1]
        except OpError as exc:
            if exc.outcome == Outcome.NOT_FOUND:
                return 0, 0  # gone already: a success, as s3dlio counts it
            raise
    owned = _owned_below(op, marker)
    below = [o.key for o in await b.list(marker, recursive=True) if o.key != marker]
    ours = [k for k in below if owned is None or owned(k[len(marker) :])]
    foreign = len(below) - len(ours)
    await delete_keys(b, ours if foreign else [*ours, marker])
    if foreign:  # the "directory" stays, as a disk's would, and says why
        raise OpError(Outcome.OTHER, f"directory not empty: {foreign} object(s) under {marker}")
    return 0, 0


async def delete_keys(b: Backend, keys: Sequence[str], *, in_flight: int = 32) -> None:
    """Delete ``keys``: DeleteObjects batches where offered, else ``in_flight`` DELETEs at once.
    A key already gone (another worker, never made) is no error; any other failure raises."""
    if isinstance(b, BatchDeleter):
        for i in range(0, len(keys), _BATCH):
            failed = await b.delete_many(keys[i : i + _BATCH])
            real = [f for f in failed if f[1] != "NoSuchKey"]
            if real:
                key, code, message = real[0]
                raise OpError(outcome_for(500, code), f"{code} {message}: {key}".strip())
        return
    gate = asyncio.Semaphore(in_flight)

    async def one(key: str) -> None:
        async with gate:
            try:
                await b.delete(key)
            except OpError as exc:
                if exc.outcome != Outcome.NOT_FOUND:
                    raise

    await asyncio.gather(*(one(k) for k in keys))
