"""``dynamic_put_pool: true``: objects the workload PUTs join the GET and STAT pools that would
have listed them (upstream v0.8.97, warp's mixed mode: the readable population grows).

A pool takes a new key when the key matches the reader's path by the rule its plan-time listing
used (``match_keys``): the exact key, an object directly under a ``prefix/``, or a glob's
pattern (recursive when the glob or key_prefix_shards says so). Upstream compares the PUT URI
with the GET path as a plain prefix (code, src/workload.rs), so a glob such as ``data/*``
never takes one there, only ``data/``; here the glob's own rule decides, and STAT pools take
them too. Each engine process feeds its own pools with its own PUTs (no traffic between
processes). DELETE pools never take PUT objects: a run deletes only its prepared objects
(engine/resolve.py), and a PUT key is not one of them.

With the flag, a GET or STAT whose path matches nothing at plan time is allowed when a PUT of
the workload makes keys it matches (it reads nothing until the first such PUT succeeds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sai3bench.backends.base import Backend
from sai3bench.engine.ops import PlannedOp
from sai3bench.metrics.collector import OpKind
from sai3bench.plan.keys import IndexedKeys, MadeKeys, plan_glob

#: The op kinds whose pools PUT objects join (never DELETE).
READERS = (OpKind.GET, OpKind.STAT)
#: Does a backend key belong to a reader's pool?
KeyFilter = Callable[[str], bool]

#: Stand-ins for the keys a PUT makes (``obj_{random u64}``): a reader is fed when its path
#: matches any (a pattern on the digits, e.g. ``obj_1*``, matches some of them).
_SAMPLE_SALTS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4_294_967_296, 9_223_372_036_854_775_807)


def put_base(backend: Backend, path: str) -> str:
    """The key prefix a PUT's new objects go under: its path's key, ending in ``/``."""
    key = backend.key_of(path)
    return key if key.endswith("/") else key + "/"


def pool_filter(backend: Backend, path: str, *, deep: bool) -> KeyFilter:
    """The keys the plan-time listing of ``path`` would have kept (match_keys' rule)."""
    glob = plan_glob(path, deep=deep)
    if glob is None:
        exact = backend.key_of(path)
        return lambda key: key == exact
    prefix, recursive, pattern = backend.key_of(glob.prefix), glob.recursive, glob.pattern
    uri_of = backend.uri_of

    def keep(key: str) -> bool:
        if not key.startswith(prefix) or (not recursive and "/" in key[len(prefix) :]):
            return False
        return pattern is None or pattern.match(uri_of(key)) is not None

    return keep


def sample_keys(base: str, shards: int) -> list[str]:
    """Keys of the shape a PUT under ``base`` makes (PlannedOp.pick)."""
    if shards:
        return [f"{base}{salt % shards:02x}/obj_{salt}" for salt in _SAMPLE_SALTS]
    return [f"{base}obj_{salt}" for salt in _SAMPLE_SALTS]


def is_fed(
    reader: tuple[Backend, str],
    puts: Sequence[tuple[Backend, str]],
    *,
    shards: int,
) -> bool:
    """Whether a PUT of ``puts`` ((backend, base key)) makes keys the reader's path matches."""
    backend, path = reader
    keep = pool_filter(backend, path, deep=shards > 0)
    return any(b is backend and any(keep(k) for k in sample_keys(base, shards)) for b, base in puts)


class GrownKeys(MadeKeys):
    """An IndexedKeys pool (made on access, ``skip_verification``) and the keys PUTs added after
    it: the indexed names stay unmade, so feeding a pool of a billion prepared objects costs
    no memory (``list()`` of it was the whole pool's names, made before the run)."""

    __slots__ = ("added", "indexed", "n")

    def __init__(self, indexed: IndexedKeys) -> None:
        self.indexed = indexed
        self.n = len(indexed)
        self.added: list[str] = []

    def __len__(self) -> int:
        return self.n + len(self.added)

    def key(self, i: int) -> str:
        return self.indexed.key(i) if i < self.n else self.added[i - self.n]

    def append(self, key: str) -> None:
        self.added.append(key)

    def __repr__(self) -> str:
        return f"<GrownKeys {self.indexed!r} +{len(self.added):,}>"


Pool = list[str] | GrownKeys


class Feeder:
    """One PUT op's readers: after each successful PUT, ``add`` puts the key into every
    reader pool that matches it. Runs where the workload's source and recorder run (the loop,
    or under the pool's lock), so the pools are never read while one grows."""

    __slots__ = ("readers",)

    def __init__(self, readers: list[tuple[Pool, KeyFilter]]) -> None:
        self.readers = readers

    def __repr__(self) -> str:
        return f"<Feeder readers={len(self.readers)}>"

    def add(self, key: str) -> None:
        for keys, keep in self.readers:
            if keep(key):
                keys.append(key)


def wire(planned: Sequence[PlannedOp], paths: Sequence[str], *, shards: int) -> None:
    """Give each PUT of ``planned`` a Feeder for the GET/STAT ops its keys match (``paths``:
    each op's path, in config order). A fed pool becomes its op's own list (pools are shared
    read-only otherwise): a copy of a listed pool, an IndexedKeys wrapped (never made)."""
    own: dict[int, Pool] = {}
    for put in planned:
        if put.kind != OpKind.PUT or put.keys:  # tree-mode PUTs overwrite tree files
            continue
        samples = sample_keys(put.base, shards)
        readers = []
        for op in planned:
            if op.kind not in READERS or op.backend is not put.backend:
                continue
            keep = pool_filter(op.backend, paths[op.index], deep=shards > 0)
            if not any(keep(k) for k in samples) or not isinstance(op.keys, list | IndexedKeys):
                continue
            if op.index not in own:
                keys = op.keys
                op.keys = own[op.index] = (
                    GrownKeys(keys) if isinstance(keys, IndexedKeys) else list(keys)
                )
            readers.append((own[op.index], keep))
        put.feeder = Feeder(readers) if readers else None
