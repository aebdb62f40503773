"""The tree section of ``run --dry-run`` (upstream's "Directory Tree Structure" box, as lines).

Owns: what a ``prepare.directory_structure`` will make, from the config alone: its shape, the
directories per level, the files and their bytes, and one path as ``dir_mask`` names it; and
the warning for mkdir/rmdir with no tree (a run refuses it; upstream's dry run passes it).
"""

from __future__ import annotations

from sai3bench.config.schema import Config
from sai3bench.config.units import fmt_bytes
from sai3bench.plan.sizes import SizeSampler
from sai3bench.plan.tree import dir_op_problem, tree_of, tree_root


def tree_lines(config: Config) -> list[str]:
    """The tree section's lines ("" first), or the mkdir/rmdir warning, or nothing."""
    problem = dir_op_problem(config)
    if problem is not None:
        return ["", f"warning: {problem.msg}", f"  (a run refuses it; {problem.hint})"]
    prep = config.prepare
    layout = tree_of(prep)
    if layout is None or prep is None or not prep.ensure_objects:
        return []
    spec = prep.ensure_objects[0]
    nbytes = layout.total_files * SizeSampler(spec.size_spec).mean_bytes()
    per_level = ", ".join(f"L{i + 1} {n:,}" for i, n in enumerate(layout.levels))
    where = "the leaves" if layout.distribution == "bottom" else "every directory"
    root = tree_root(prep)
    return [
        "",
        f"Directory tree under {root} (upstream tree mode):",
        f"  width {layout.width}, depth {layout.depth}, files_per_dir {layout.files_per_dir}, "
        f"distribution {layout.distribution} (files in {where}), dir_mask {_mask(config)}",
        f"  directories: {layout.total_dirs:,} ({per_level})",
        f"  files: {layout.total_files:,} in {layout.file_dirs:,} directories, {fmt_bytes(nbytes)}",
        f"  e.g. {root}{layout.example_file()}",
        "  workload: get/put/stat/delete pick a tree file, mkdir/rmdir a tree directory "
        "(op paths are ignored, as upstream)",
    ]


def _mask(config: Config) -> str:
    prep = config.prepare
    ds = prep.directory_structure if prep is not None else None
    return ds.dir_mask if ds is not None else ""
