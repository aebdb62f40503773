"""The workload's ops, planned before the clock starts: pools resolved, samplers built.

A ``PlannedOp`` is one ``workload[i]`` entry made ready to run: a backend, the keys it reads or
deletes (already listed and filtered), the base key new PUT objects go under, its size sampler
and data source. ``pick()`` chooses one op's arguments on the event loop; the batch executor runs
it, in a thread for blocking backends.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from sai3bench.backends.base import Backend, BlockingBackend, DirectoryMaker
from sai3bench.metrics.collector import OpKind
from sai3bench.plan.keys import IndexedKeys
from sai3bench.plan.share import put_salt
from sai3bench.plan.tree import TreePaths

if TYPE_CHECKING:
    from sai3bench.datagen.buffers import DataSource
    from sai3bench.engine.put_pool import Feeder, GrownKeys
    from sai3bench.plan.sizes import SizeSampler

#: One chosen op: (op index, key, size in bytes for PUT, salt for the PUT body).
Task = tuple[int, str, int, int]


class PlannedOp:
    """One workload entry, ready to run. Mutable only through ``pick`` (the delete pool)."""

    __slots__ = (
        "backend",
        "base",
        "blocking",
        "data",
        "dirs",
        "feeder",
        "index",
        "keys",
        "kind",
        "label",
        "recursive",
        "sampler",
        "shards",
        "share",
    )

    def __init__(
        self,
        *,
        index: int,
        kind: OpKind,
        backend: Backend,
        label: str,
        keys: list[str] | IndexedKeys | TreePaths | GrownKeys | None = None,
        base: str = "",
        sampler: SizeSampler | None = None,
        data: DataSource | None = None,
    ) -> None:
        self.index = index
        self.kind = kind
        self.backend = backend
        #: The same backend when its ops can run as blocking calls in a worker thread; checked
        #: here once, so the thread executor needs no per-op test.
        self.blocking = backend if isinstance(backend, BlockingBackend) else None
        self.label = label
        #: GET/STAT: keys to pick from uniformly. DELETE: shuffled keys, popped from the end.
        self.keys: list[str] | IndexedKeys | TreePaths | GrownKeys = (
            keys if keys is not None else []
        )
        #: PUT: directory/prefix key for new objects. LIST: the prefix listed.
        self.base = base
        self.sampler = sampler
        self.data = data
        #: PUT: (share index, share count) of this engine process: its salts are congruent to
        #: the index, so no two processes of a run make the same key (plan/share.py).
        self.share = (0, 1)
        #: MKDIR/RMDIR: the backend itself where it has real directories (file://, direct://),
        #: None for an object store (engine/dirops.py writes and deletes markers there).
        self.dirs: DirectoryMaker | None = None
        #: RMDIR: remove the directory's contents too.
        self.recursive = False
        #: PUT: prepare.key_prefix_shards; keys go under ``{salt % shards:02x}/`` (upstream).
        self.shards = 0
        #: PUT with dynamic_put_pool: the GET/STAT pools its new keys join (engine/put_pool.py).
        self.feeder: Feeder | None = None

    def __repr__(self) -> str:
        return f"<PlannedOp {self.kind.name} {self.label} keys={len(self.keys)}>"

    def pick(self, rng: random.Random) -> Task | None:
        """Arguments for one execution; None when a DELETE pool is empty, or a GET/STAT pool
        that PUTs feed (dynamic_put_pool) has no object yet."""
        kind = self.kind
        if kind == OpKind.GET or kind == OpKind.STAT:
            keys = self.keys
            n = len(keys) if keys is not None else 0
            if not n:
                return None
            i = int(rng.random() * n)
            # MadeKeys.key directly: i is in range, so __getitem__'s checks (two more __len__
            # calls and a type test) are skipped; the same draw picks the same key either way.
            # Every other pool is a MadeKeys: isinstance on list is 0.05 us, on the ABC 0.25 us.
            return (self.index, keys[i] if isinstance(keys, list) else keys.key(i), 0, 0)
        if kind == OpKind.PUT:
            salt = rng.getrandbits(63)
            if self.share[1] > 1:
                salt = put_salt(salt, *self.share)
            assert self.sampler is not None
            keys = self.keys
            if keys:  # tree mode: a PUT overwrites a random tree file, as upstream's does
                key = keys[int(rng.random() * len(keys))]
                return (self.index, key, self.sampler.sample(rng), salt)
            size = self.sampler.sample(rng)
            shards = self.shards
            if shards:
                return (self.index, f"{self.base}{salt % shards:02x}/obj_{salt}", size, salt)
            return (self.index, f"{self.base}obj_{salt}", size, salt)
        if kind == OpKind.DELETE:
            keys = self.keys
            assert isinstance(keys, list)  # delete pools are always materialised
            return (self.index, keys.pop(), 0, 0) if keys else None
        if kind >= OpKind.MKDIR:  # a random tree directory (after PUT: no test added to it)
            keys = self.keys
            return (self.index, keys[int(rng.random() * len(keys))], 0, 0)
        return (self.index, self.base, 0, 0)  # LIST

    def unpick(self, task: Task) -> None:
        """Give back a task that was chosen but never run (only DELETE consumes anything)."""
        if self.kind == OpKind.DELETE:
            assert isinstance(self.keys, list)
            self.keys.append(task[1])
