"""Prepare and cleanup plans (pure): which objects to create or delete, with which sizes.

Sizes are deterministic per (base_uri, pool, index), so a second run that gap-fills a partly
prepared set creates each missing object with the size the first run would have given it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, NamedTuple

import msgspec

from sai3bench.config.schema import Config, EnsureObjects, Prepare
from sai3bench.plan.keys import (
    DELETABLE,
    PREPARED,
    join_key,
    object_name,
    parse_object_name,
    set_key,
)
from sai3bench.plan.sizes import SizeSampler, seed_for_uri
from sai3bench.plan.tree import TreeLayout, tree_count, tree_of

#: The pool name of a tree's files (labels, size seeds): ``prepare.ensure_objects[0] (tree)``.
TREE: Final = "tree"


class PrepareSet(NamedTuple):
    """One pool of one ``ensure_objects`` entry: ``count`` objects named ``{pool}-NNNNNNNN.dat``."""

    entry: int  # index in prepare.ensure_objects
    pool: str  # PREPARED or DELETABLE
    spec: EnsureObjects
    base_uri: str  # always ends with "/"
    shards: int = 0  # prepare.key_prefix_shards: names under {idx % shards:02x}/
    #: Tree mode (prepare.directory_structure): names are the tree's file paths (plan/tree.py).
    tree: TreeLayout | None = None

    @property
    def label(self) -> str:
        return f"prepare.ensure_objects[{self.entry}] ({self.pool})"

    def name(self, idx: int) -> str:
        """Object ``idx``'s key relative to the base: ``[2a/]prepared-00000042.dat``, or in
        tree mode ``d1_w1.dir/d2_w1.dir/file_00000042.dat``."""
        if self.tree is not None:
            return self.tree.file_path(idx)
        return set_key(self.pool, idx, self.shards)

    def uri(self, idx: int) -> str:
        return self.base_uri + self.name(idx)

    def list_prefix(self, base_key: str) -> str:
        """What to list (recursively) to find this set's objects under ``base_key``: its
        ``prepared-`` names, or the whole base when they sit in shard directories."""
        if self.shards > 0 or self.tree is not None:
            return base_key
        return base_key + self.pool + "-"

    @property
    def glob(self) -> str:
        """The set's objects as a glob, for messages: ``{base}[*/]prepared-*``."""
        if self.tree is not None:
            return f"{self.base_uri}**/file_*"
        return f"{self.base_uri}{'*/' if self.shards > 0 else ''}{self.pool}-*"

    def sizes(self) -> array[int]:
        """Deterministic sizes for indices 0..count-1."""
        seed = seed_for_uri(self.base_uri + self.pool)
        return SizeSampler(self.spec.size_spec).sample_array(self.spec.count, seed)


def is_mixed(config: Config) -> bool:
    """A workload that deletes *and* reads gets a separate ``deletable-`` pool (upstream 0.5.7)."""
    if config.prepare is not None and config.prepare.directory_structure is not None:
        return False  # tree mode: one tree; upstream's second pool would write the same paths
    kinds = {op.__struct_config__.tag for op in config.workload}
    return "delete" in kinds and bool(kinds & {"get", "stat"})


def prepare_sets(prepare: Prepare | None, *, mixed: bool) -> list[PrepareSet]:
    """Every pool to prepare, in config order (deletable right after its prepared twin)."""
    if prepare is None:
        return []
    tree = tree_of(prepare)
    if tree is not None:  # every entry gets the tree (upstream); entry 0's is the workload's
        trees = []
        for i, spec in enumerate(prepare.ensure_objects):
            filled = msgspec.structs.replace(spec, count=tree_count(spec.count, tree, i))
            trees.append(PrepareSet(i, TREE, filled, join_key(spec.base_uri, ""), 0, tree))
        return trees
    out = []
    shards = prepare.key_prefix_shards
    for i, spec in enumerate(prepare.ensure_objects):
        base = join_key(spec.base_uri, "")
        out.append(PrepareSet(i, PREPARED, spec, base, shards))
        if mixed:
            out.append(PrepareSet(i, DELETABLE, spec, base, shards))
    return out


def set_index(
    name: str, pool: str, count: int, shards: int = 0, tree: TreeLayout | None = None
) -> int | None:
    """The index of ``name`` in the set ``{pool}-NNNNNNNN.dat`` below ``count``, else None.

    Only the exact name prepare writes counts: ``prepared-1.dat`` is not object 1, and
    ``prepared-00000010.dat`` is no object of a 10-object set. With ``shards`` only the name in
    its own shard directory counts (``2a/prepared-00000042.dat`` for 256 shards).
    """
    if tree is not None:  # the manifest's path for that index, exactly
        return tree.index_of(name)
    if shards > 0:
        shard, slash, name = name.partition("/")
        idx = set_index(name, pool, count) if slash else None
        return idx if idx is not None and shard == f"{idx % shards:02x}" else None
    parsed = parse_object_name(name)
    if parsed is None or parsed[0] != pool or parsed[1] >= count:
        return None
    return parsed[1] if name == object_name(pool, parsed[1]) else None


def existing_indices(
    names: Iterable[str],
    pool: str,
    count: int,
    shards: int = 0,
    tree: TreeLayout | None = None,
) -> set[int]:
    """Indices below ``count`` of the ``{pool}-N.dat`` names (tree: file paths) listed under
    the base."""
    found = set()
    for name in names:
        idx = set_index(name, pool, count, shards, tree)
        if idx is not None:
            found.add(idx)
    return found


class Census(NamedTuple):
    """What a listing holds of one prepare set, each object's listed size against the plan's.

    ``intact``: indices whose size is the planned one, or unknown (-1: a listing without
    sizes). ``wrong_size``: index -> listed size, for objects a full disk or a killed prepare
    left short; they are re-created, never read or counted as prepared.
    """

    intact: set[int]
    wrong_size: dict[int, int]


def take_census(
    listed: Iterable[tuple[str, int]],
    pool: str,
    count: int,
    sizes: Sequence[int],
    shards: int = 0,
    tree: TreeLayout | None = None,
) -> Census:
    """Sort listed (name relative to the base, size) pairs of one set into a Census.

    ``sizes`` is the set's ``PrepareSet.sizes()``: the planned size of each index.
    """
    intact: set[int] = set()
    wrong: dict[int, int] = {}
    for name, size in listed:
        idx = set_index(name, pool, count, shards, tree)
        if idx is None:
            continue
        if size < 0 or size == sizes[idx]:
            intact.add(idx)
        else:
            wrong[idx] = size
    return Census(intact, wrong)


def describe_wrong_sizes(
    pset: PrepareSet, census: Census, sizes: Sequence[int], most: int = 3
) -> str:
    """``prepared-00000007.dat is 0 bytes, planned 1,234; ...`` for the first ``most`` of them."""
    shown = [
        f"{pset.name(i)} is {census.wrong_size[i]:,} bytes, planned {sizes[i]:,}"
        for i in sorted(census.wrong_size)[:most]
    ]
    more = len(census.wrong_size) - len(shown)
    return "; ".join(shown) + (f"; and {more:,} more" if more > 0 else "")


def missing_indices(count: int, existing: set[int]) -> array[int]:
    return array("q", (i for i in range(count) if i not in existing))


def interleave(lists: Sequence[Sequence[int]]) -> Iterator[tuple[int, int]]:
    """Round-robin (list index, item) over several lists: ``prepare_strategy: parallel``."""
    iters = [iter(x) for x in lists]
    live = list(range(len(iters)))
    while live:
        still = []
        for i in live:
            item = next(iters[i], None)
            if item is not None:
                yield i, item
                still.append(i)
        live = still


def rewrite_delete_path(path: str) -> str:
    """In a mixed workload DELETE draws from ``deletable-`` objects, never from ``prepared-``.

    Only the last path segment is rewritten: a directory named ``prepared-sets/`` stays.
    """
    head, sep, name = path.rpartition("/")
    return head + sep + name.replace(PREPARED + "-", DELETABLE + "-")
