"""A directory tree's manifest (upstream's tree mode, sai3-bench §2.7), computed, never listed.

Owns: which directories a ``prepare.directory_structure`` makes, which files go where, and their
names, as arithmetic on indices, so a tree of millions of files plans in microseconds and costs
no memory until a name is asked for.

Upstream's order, followed exactly (src/directory_tree.rs, ``TreeManifest``):

- directories are numbered level by level (all of level 1, then all of level 2, ...); within a
  level by their global index ``g`` (1-based), whose parent is ``(g - 1) // width + 1`` one level
  up and whose name is ``dir_mask`` with the level and ``(g - 1) % width + 1``, the index within
  the parent (the first and second ``%d``, replaced as text like Rust's ``replacen``);
- files are ``file_{global index:08}.dat``, ``files_per_dir`` to a directory, numbered in
  directory order over the directories that hold files: the leaves (``bottom``) or every
  directory (``all``). So with ``bottom`` file ``i`` is in leaf ``i // files_per_dir``.

Never: touches storage, prints, or holds a list of every path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from sai3bench.config.schema import Config, MkdirOp, Prepare, RmdirOp
from sai3bench.config.tree import DirectoryStructure
from sai3bench.errors import ConfigError
from sai3bench.plan.keys import MadeKeys, join_key

__all__ = [
    "TreeLayout",
    "TreePaths",
    "check_tree",
    "dir_op_problem",
    "tree_count",
    "tree_of",
    "tree_root",
]

_FILE_RE: Final = re.compile(r"file_([0-9]{8,})\.dat\Z")


class TreeLayout:
    """The manifest of one ``directory_structure``: counts, and paths relative to the tree root.

    Directory indices ``d`` are 0-based in upstream's ``all_directories`` order; file indices are
    upstream's global file indices. Paths never start or end with ``/``.
    """

    __slots__ = (
        "_last",
        "_mask",
        "depth",
        "distribution",
        "files_per_dir",
        "first_file_dir",
        "level_start",
        "levels",
        "total_dirs",
        "total_files",
        "width",
    )

    def __init__(self, ds: DirectoryStructure) -> None:
        self.width = ds.width
        self.depth = ds.depth
        self.files_per_dir = ds.files_per_dir
        self.distribution = ds.distribution
        head, mid, tail = ds.dir_mask.split("%d", 2)
        self._mask = (head, mid, tail)
        #: Directories per level, level 1 first: width ** level.
        self.levels = tuple(ds.width**level for level in range(1, ds.depth + 1))
        starts, total = [], 0
        for n in self.levels:
            starts.append(total)
            total += n
        #: Index of each level's first directory.
        self.level_start = tuple(starts)
        self.total_dirs = total
        #: Index of the first directory holding files: the first leaf, or 0 with ``all``.
        self.first_file_dir = starts[-1] if ds.distribution == "bottom" else 0
        self.total_files = (total - self.first_file_dir) * ds.files_per_dir
        self._last: tuple[int, str] = (-1, "")  # the last directory named: files come in runs

    def __repr__(self) -> str:
        return (
            f"<TreeLayout {self.width}x{self.depth} {self.distribution} "
            f"dirs={self.total_dirs:,} files={self.total_files:,}>"
        )

    @property
    def file_dirs(self) -> int:
        """Directories that hold files."""
        return self.total_dirs - self.first_file_dir

    def dir_name(self, level: int, local: int) -> str:
        """``dir_mask`` for a directory of ``level`` that is child ``local`` (1-based)."""
        head, mid, tail = self._mask
        return f"{head}{level}{mid}{local}{tail}"

    def level_of(self, d: int) -> int:
        """The level (1..depth) of directory ``d``."""
        if not 0 <= d < self.total_dirs:
            raise IndexError(f"directory {d} not in a tree of {self.total_dirs}")
        level = self.depth
        while self.level_start[level - 1] > d:
            level -= 1
        return level

    def dir_path(self, d: int) -> str:
        """``d1_w2.dir/d2_w3.dir``: directory ``d`` below the tree root."""
        level = self.level_of(d)
        g = d - self.level_start[level - 1]  # 0-based index within its level
        w = self.width
        parts = []
        for lv in range(level, 0, -1):
            parts.append(self.dir_name(lv, g % w + 1))
            g //= w
        return "/".join(reversed(parts))

    def file_dir(self, i: int) -> int:
        """The directory index holding file ``i``."""
        if not 0 <= i < self.total_files:
            raise IndexError(f"file {i} not in a tree of {self.total_files}")
        return self.first_file_dir + i // self.files_per_dir

    def file_path(self, i: int) -> str:
        """``d1_w1.dir/d2_w1.dir/file_00000000.dat``: file ``i`` below the tree root."""
        d = self.file_dir(i)
        last = self._last
        if last[0] != d:  # a run of files shares its directory: name it once
            last = self._last = (d, self.dir_path(d))
        return f"{last[1]}/file_{i:08}.dat"

    def index_of(self, rel: str) -> int | None:
        """The file index of a path relative to the root, or None for any other name (only
        the exact path prepare writes counts: a file moved to another directory is foreign)."""
        m = _FILE_RE.search(rel)
        if m is None or m.start() == 0 or rel[m.start() - 1] != "/":
            return None
        i = int(m.group(1))
        if i >= self.total_files or rel != self.file_path(i):
            return None
        return i

    def dir_index_of(self, rel: str) -> int | None:
        """The directory index of a path relative to the root (``d1_w2.dir/d2_w3.dir``), or
        None for any other name: the inverse of ``dir_path``."""
        parts = rel.split("/")
        if not 1 <= len(parts) <= self.depth:
            return None
        head, mid, tail = self._mask
        g = 0
        for level, part in enumerate(parts, 1):
            lead = f"{head}{level}{mid}"
            if not (part.startswith(lead) and part.endswith(tail)):
                return None
            local = part[len(lead) : len(part) - len(tail)] if tail else part[len(lead) :]
            if not local.isdigit() or str(int(local)) != local or not 1 <= int(local) <= self.width:
                return None
            g = g * self.width + int(local) - 1
        d = self.level_start[len(parts) - 1] + g
        return d if self.dir_path(d) == rel else None

    def owns(self, rel: str) -> bool:
        """Whether ``rel`` (below the root; a trailing ``/`` for a directory or its marker) is
        a file or directory of this tree: what a recursive RMDIR may remove. Without the ``/``
        only a tree file: a file (or object) named like a tree directory is not the tree's."""
        if rel.endswith("/"):
            return self.dir_index_of(rel[:-1]) is not None
        return self.index_of(rel) is not None

    def dirs_deepest_first(self) -> Iterator[int]:
        """Every directory index, leaves first (the order an empty tree can be removed in)."""
        return iter(range(self.total_dirs - 1, -1, -1))

    def example_file(self) -> str:
        """The first file's path, or the first leaf's when the tree holds no files."""
        if self.total_files:
            return self.file_path(0)
        return self.dir_path(self.level_start[-1])


class TreePaths(MadeKeys):
    """``base + path`` of every file (or every directory) of a tree, made on access: what a
    workload op picks from without a list of a million strings."""

    __slots__ = ("base", "dirs", "layout")

    def __init__(self, layout: TreeLayout, base: str, *, dirs: bool = False) -> None:
        self.layout = layout
        self.base = base
        self.dirs = dirs

    def __len__(self) -> int:
        return self.layout.total_dirs if self.dirs else self.layout.total_files

    def key(self, i: int) -> str:
        path = self.layout.dir_path(i) if self.dirs else self.layout.file_path(i)
        return self.base + path

    def __repr__(self) -> str:
        what = "dirs" if self.dirs else "files"
        return f"<TreePaths {self.base} {what} x{len(self):,}>"


def tree_of(prepare: Prepare | None) -> TreeLayout | None:
    """The tree a config's prepare makes, or None (flat ``prepared-`` sets)."""
    if prepare is None or prepare.directory_structure is None:
        return None
    return TreeLayout(prepare.directory_structure)


def tree_root(prepare: Prepare) -> str:
    """The URI the tree hangs under, ``/``-terminated: ensure_objects[0].base_uri (upstream)."""
    return join_key(prepare.ensure_objects[0].base_uri, "")


def tree_count(count: int, layout: TreeLayout, entry: int) -> int:
    """An ``ensure_objects`` count in tree mode: 0 means the tree's file count (upstream fills
    it in); any other number must be that count, as upstream refuses a mismatch."""
    if count in (0, layout.total_files):
        return layout.total_files
    raise ConfigError(
        f"prepare.ensure_objects[{entry}].count is {count:,}, but directory_structure makes "
        f"{layout.total_files:,} files",
        hint=f"set count to {layout.total_files:,} or 0 (filled in from the tree), as upstream "
        "requires",
    )


def check_tree(config: Config) -> None:
    """The tree checks upstream makes before anything starts (its dry run too): an
    ``ensure_objects`` entry anchors the tree, and every count matches it (0 is filled in)."""
    prepare = config.prepare
    layout = tree_of(prepare)
    if layout is not None and prepare is not None:
        if not prepare.ensure_objects:
            raise ConfigError(
                "prepare.directory_structure needs an ensure_objects entry: its base_uri is "
                "where the tree goes (as upstream requires)",
                hint="add ensure_objects: [{base_uri: file:///path/tree/, count: 0}]",
            )
        for i, spec in enumerate(prepare.ensure_objects):
            tree_count(spec.count, layout, i)


def dir_op_problem(config: Config) -> ConfigError | None:
    """Why the workload's mkdir/rmdir cannot run (no tree to act on), or None. ``run`` raises
    it before anything starts; ``--dry-run`` prints it as a warning, as upstream's dry run
    accepts such a config."""
    if tree_of(config.prepare) is not None:
        return None
    for i, op in enumerate(config.workload):
        if isinstance(op, MkdirOp | RmdirOp):
            name = str(op.__struct_config__.tag)
            return ConfigError(
                f"workload[{i}] ({name} {op.path}): {name} needs prepare.directory_structure; "
                f'upstream refuses it too, at run time ("{name.upper()} operation requires '
                'directory_structure")',
                hint="add prepare.directory_structure (e.g. {width: 3, depth: 2, files_per_dir: "
                "5}) and an ensure_objects entry for its base_uri, or drop the op",
            )
    return None
