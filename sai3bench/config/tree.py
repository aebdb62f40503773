"""``prepare.directory_structure``: upstream's tree workloads (sai3-bench §2.7), as config.

Owns: the shape of a tree as the user wrote it, checked. ``width`` directories under each
directory, ``depth`` levels, ``files_per_dir`` files in the leaves (``bottom``) or in every
directory (``all``), directories named by ``dir_mask`` (first ``%d`` the level, second the
1-based index within the parent). The manifest itself (names, counts) is built by plan/tree.py.
Never: touches storage.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from msgspec import Meta

from sai3bench.config.base import Base
from sai3bench.config.node import as_mapping, check_keys, fail, parse_at, path_at, suggest
from sai3bench.config.units import parse_count, show

__all__ = ["DISTRIBUTIONS", "DirectoryStructure", "TreeDistribution", "walk_directory_structure"]

TreeDistribution = Literal["bottom", "all"]
DISTRIBUTIONS: tuple[str, ...] = get_args(TreeDistribution)

DEFAULT_DIR_MASK = "sai3bench.d%d_w%d.dir"
MAX_TREE_DIRS = 100_000_000
"""More directories than any benchmark tree has: a bigger width**depth is a typo."""

_PATH = "prepare.directory_structure"
_EXAMPLE = "e.g. directory_structure: {width: 3, depth: 2, files_per_dir: 5}"
_COUNT_HINT = "write a whole number such as 10 or '1,000'"


class DirectoryStructure(Base, kw_only=True, frozen=True):
    """A tree of ``width``**level directories per level, 1..``depth``."""

    width: Annotated[int, Meta(ge=1)]
    depth: Annotated[int, Meta(ge=1)]
    files_per_dir: Annotated[int, Meta(ge=0)] = 0
    distribution: TreeDistribution = "bottom"
    dir_mask: str = DEFAULT_DIR_MASK


def walk_directory_structure(value: Any, warnings: list[str]) -> dict[str, Any]:
    """The checked node: counts parsed (thousands separators allowed), the mask checked."""
    keys = ("width", "depth", "files_per_dir", "distribution", "dir_mask")
    node = check_keys(as_mapping(_PATH, value, _EXAMPLE), _PATH, keys, {}, warnings)
    for key in ("width", "depth"):
        if key not in node:
            fail(path_at(_PATH, key), "missing", _EXAMPLE)
    for key in ("width", "depth", "files_per_dir"):
        if key in node:
            node[key] = parse_at(path_at(_PATH, key), node[key], parse_count, _COUNT_HINT)
    for key in ("width", "depth"):
        if node[key] < 1:
            fail(path_at(_PATH, key), f"must be at least 1 (got {node[key]})", _EXAMPLE)
    if _dir_count(node["width"], node["depth"]) > MAX_TREE_DIRS:
        fail(
            _PATH,
            f"width {node['width']} and depth {node['depth']} make more than "
            f"{MAX_TREE_DIRS:,} directories",
            "lower width or depth",
        )
    if "distribution" in node:
        dist = node["distribution"]
        if dist not in DISTRIBUTIONS:
            fail(
                path_at(_PATH, "distribution"),
                f"unknown distribution {show(dist)}",
                suggest(str(dist), DISTRIBUTIONS, "distributions"),
            )
    if "dir_mask" in node:
        node["dir_mask"] = _dir_mask(node["dir_mask"])
    return node


def _dir_count(width: int, depth: int) -> int:
    total, level = 0, 1
    for _ in range(depth):
        level *= width
        total += level
        if total > MAX_TREE_DIRS:
            break
    return total


def _dir_mask(mask: Any) -> str:
    hint = "write a name with two %d, e.g. 'sai3bench.d%d_w%d.dir' (level, index)"
    if not isinstance(mask, str) or mask.count("%d") != 2 or "/" in mask:
        fail(
            path_at(_PATH, "dir_mask"), f"needs exactly two %d and no '/' (got {show(mask)})", hint
        )
    try:
        mask % (1, 1)
    except (TypeError, ValueError):
        fail(path_at(_PATH, "dir_mask"), f"is not a usable pattern (got {show(mask)})", hint)
    return mask
