"""plan/tree.py: upstream's tree manifest as arithmetic (counts, names, order), no listing."""

from __future__ import annotations

import random
import time
import tracemalloc

import pytest

from sai3bench.config.load import load_config
from sai3bench.config.tree import DirectoryStructure
from sai3bench.errors import ConfigError
from sai3bench.plan.limits import Machine, check_limits
from sai3bench.plan.tree import TreeLayout, TreePaths, check_tree, dir_op_problem, tree_count


def _tree(width: int, depth: int, files: int, dist: str = "bottom", mask: str = "") -> TreeLayout:
    extra = {"dir_mask": mask} if mask else {}
    return TreeLayout(
        DirectoryStructure(
            width=width,
            depth=depth,
            files_per_dir=files,
            distribution=dist,  # type: ignore[arg-type]
            **extra,
        )
    )


def _upstream_dirs(width: int, depth: int, mask: str) -> list[str]:
    """upstream's DirectoryTree::generate, transcribed loop by loop: level by level, global
    index g, local index (g - 1) % width + 1, parent (g - 1) // width + 1."""
    paths: dict[tuple[int, int], str] = {}
    out = []
    for level in range(1, depth + 1):
        for g in range(1, width**level + 1):
            local = (g - 1) % width + 1
            name = mask.replace("%d", str(level), 1).replace("%d", str(local), 1)
            path = name if level == 1 else paths[(level - 1, (g - 1) // width + 1)] + "/" + name
            paths[(level, g)] = path
            out.append(path)
    return out


def test_three_by_two_bottom_has_45_files_in_9_leaves_and_12_dirs():
    t = _tree(3, 2, 5, "bottom", "d%d_w%d.dir")
    assert (t.total_dirs, t.total_files, t.file_dirs, t.levels) == (12, 45, 9, (3, 9))
    assert t.dir_path(0) == "d1_w1.dir"
    assert t.dir_path(3) == "d1_w1.dir/d2_w1.dir"
    assert t.dir_path(11) == "d1_w3.dir/d2_w3.dir"
    assert t.file_path(0) == "d1_w1.dir/d2_w1.dir/file_00000000.dat"
    assert t.file_path(5) == "d1_w1.dir/d2_w2.dir/file_00000005.dat"
    assert t.file_path(44) == "d1_w3.dir/d2_w3.dir/file_00000044.dat"


def test_four_by_three_all_has_84_dirs_and_840_files():
    t = _tree(4, 3, 10, "all")
    assert (t.total_dirs, t.total_files, t.file_dirs) == (84, 840, 84)
    assert t.file_path(0) == "sai3bench.d1_w1.dir/file_00000000.dat"  # level 1 holds files
    assert t.file_path(839).count("/") == 3  # the last leaf


@pytest.mark.parametrize(("width", "depth", "mask"), [(2, 2, "x%d_%d"), (3, 3, "d%d_w%d.dir")])
def test_directory_order_and_names_are_upstreams(width: int, depth: int, mask: str):
    t = _tree(width, depth, 0, mask=mask)
    assert [t.dir_path(d) for d in range(t.total_dirs)] == _upstream_dirs(width, depth, mask)


@pytest.mark.parametrize("dist", ["bottom", "all"])
def test_file_order_is_upstreams_compute_file_ranges(dist: str):
    """Global index runs over the file-holding directories in all_directories order."""
    t = _tree(3, 3, 4, dist)
    dirs = _upstream_dirs(3, 3, "sai3bench.d%d_w%d.dir")
    holders = [d for d in dirs if dist == "all" or d.count("/") == 2]
    want = [f"{d}/file_{i * 4 + k:08}.dat" for i, d in enumerate(holders) for k in range(4)]
    assert [t.file_path(i) for i in range(t.total_files)] == want


def test_mask_is_replaced_as_text_like_rusts_replacen():
    t = _tree(2, 1, 0, mask="a%%d%d")  # '%%' stays: not printf
    assert t.dir_path(1) == "a%1" + "2"


def test_index_of_takes_only_the_exact_path_prepare_writes():
    t = _tree(3, 2, 5, "bottom", "d%d_w%d.dir")
    assert all(t.index_of(t.file_path(i)) == i for i in range(t.total_files))
    assert t.index_of("d1_w1.dir/d2_w1.dir/file_00000007.dat") is None  # 7 lives in d2_w2
    assert t.index_of("d1_w1.dir/d2_w1.dir/file_7.dat") is None
    assert t.index_of("d1_w3.dir/d2_w3.dir/file_00000045.dat") is None  # beyond the tree
    assert t.index_of("file_00000000.dat") is None
    assert t.index_of("d1_w1.dir/d2_w1.dir/xfile_00000000.dat") is None
    assert t.index_of("d1_w1.dir/d2_w1.dir/file_00000000.dat.sai3tmp") is None


def test_deepest_first_lists_every_directory_children_before_parents():
    t = _tree(2, 3, 1)
    order = [t.dir_path(d) for d in t.dirs_deepest_first()]
    assert sorted(order) == sorted(t.dir_path(d) for d in range(t.total_dirs))
    for i, path in enumerate(order):  # no child of a directory comes after it
        assert not any(later.startswith(path + "/") for later in order[i + 1 :])


def test_tree_paths_pick_files_and_dirs_without_a_list():
    t = _tree(3, 2, 5)
    files, dirs = TreePaths(t, "/base/"), TreePaths(t, "/base/", dirs=True)
    assert (len(files), len(dirs)) == (45, 12)
    assert files[0] == "/base/" + t.file_path(0) and files[-1] == "/base/" + t.file_path(44)
    assert dirs[1:3] == ["/base/" + t.dir_path(1), "/base/" + t.dir_path(2)]
    rng = random.Random(1)
    assert all(files[int(rng.random() * len(files))].startswith("/base/") for _ in range(100))


def test_a_hundred_thousand_files_plan_fast_and_ten_million_cost_nothing():
    tracemalloc.start()
    t0 = time.process_time()
    big = _tree(10, 4, 1000)  # 10,000 leaves: 10M files
    assert big.total_files == 10_000_000
    assert big.file_path(9_999_999).endswith("file_09999999.dat")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000  # nothing per file or directory is kept
    t = _tree(10, 2, 1000)
    names = [t.file_path(i) for i in range(t.total_files)]
    assert len(set(names)) == 100_000
    assert time.process_time() - t0 < 5.0  # ~0.05 s here: a generous bound for a loaded box


def test_count_zero_is_filled_and_a_wrong_count_is_one_line():
    t = _tree(3, 2, 5)
    assert tree_count(0, t, 0) == 45 and tree_count(45, t, 0) == 45
    with pytest.raises(ConfigError) as err:
        tree_count(44, t, 1)
    assert "ensure_objects[1].count is 44" in err.value.msg and "45" in (err.value.hint or "")


_TREE_YAML = """
target: file:///tmp/x/
duration: 1s
prepare:
  directory_structure: {width: 3, depth: 2, files_per_dir: 5}
  ensure_objects: [{base_uri: file:///tmp/x/, count: COUNT, size_spec: 1024}]
workload: [{op: mkdir, path: /, weight: 1}]
"""


def test_check_tree_refuses_a_mismatched_count_and_accepts_zero():
    check_tree(load_config(_TREE_YAML.replace("COUNT", "0")).config)
    with pytest.raises(ConfigError, match="count is 7"):
        check_tree(load_config(_TREE_YAML.replace("COUNT", "7")).config)


def test_mkdir_without_a_tree_is_refused_naming_upstream_and_the_fix():
    text = "target: file:///tmp/x/\nduration: 1s\nworkload: [{op: rmdir, path: d/, weight: 1}]\n"
    err = dir_op_problem(load_config(text).config)
    assert err is not None
    assert "needs prepare.directory_structure" in err.msg
    assert "upstream refuses it too" in err.msg
    assert "directory_structure" in (err.hint or "")
    assert dir_op_problem(load_config(_TREE_YAML.replace("COUNT", "0")).config) is None


def test_limits_count_a_tree_by_its_files_not_its_zero_count():
    """count: 0 is filled in from the tree, so the free-disk check sees 45 x 1 MiB, not 0."""
    config = load_config(
        _TREE_YAML.replace("COUNT", "0").replace("size_spec: 1024", "size_spec: 1048576")
    ).config
    machine = Machine(
        max_threads=1000,
        max_open_files=1024,
        available_memory=1 << 33,
        free_bytes=lambda _: 10 << 20,
    )
    with pytest.raises(ConfigError, match="45 objects"):
        check_limits(config, machine)
