"""plan.cores: the cores ``processes: auto`` means (affinity capped by the cgroup CPU quota)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sai3bench.plan.cores import (
    cap_cores,
    cgroup_paths,
    quota_cores,
    quota_cores_v1,
    read_quota_cores,
    resolve_processes,
    usable_cores,
)

# --- pure parsers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        ("max 100000\n", None),
        ("200000 100000\n", 2.0),
        ("150000 100000", 1.5),
        ("50000 100000", 0.5),
        ("  400000   100000  \n", 4.0),
        # malformed: no limit rather than an error
        ("", None),
        ("max", None),
        ("200000", None),
        ("200000 100000 7", None),
        ("abc def", None),
        ("0 100000", None),
        ("-1 100000", None),
        ("200000 0", None),
        ("2e5 1e5", None),
        ("２００ １００", None),  # fullwidth digits: str.isdigit() alone says yes
    ],
)
def test_quota_cores_v2(text, cores):
    assert quota_cores(text) == cores


@pytest.mark.parametrize(
    ("quota", "period", "cores"),
    [
        ("-1\n", "100000\n", None),
        ("200000\n", "100000\n", 2.0),
        ("50000", "100000", 0.5),
        ("", "", None),
        ("x", "100000", None),
        ("100000", "0", None),
        ("100000", "", None),
        ("0", "100000", None),
    ],
)
def test_quota_cores_v1(quota, period, cores):
    assert quota_cores_v1(quota, period) == cores


def test_cgroup_paths():
    hybrid = "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n0::/user.slice/s.scope\n"
    assert cgroup_paths(hybrid) == ("/user.slice/s.scope", "/docker/abc")
    assert cgroup_paths("0::/\n") == ("/", None)
    assert cgroup_paths("2:cpuacct:/a\n") == (None, None)  # cpuacct is not cpu
    assert cgroup_paths("") == (None, None)
    assert cgroup_paths("junk\n0:\n0::relative\n") == (None, None)


@pytest.mark.parametrize(
    ("affinity", "quota", "cores"),
    [
        (64, 2.0, 2),  # a 2-CPU container on a 64-core host
        (64, 1.5, 2),  # rounded up
        (64, 0.5, 1),  # at least 1
        (4, 8.0, 4),  # the quota never raises the count
        (4, None, 4),
        (0, None, 1),
    ],
)
def test_cap_cores(affinity, quota, cores):
    assert cap_cores(affinity, quota) == cores


# --- the reader, on files of our own ----------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _proc(tmp_path: Path, text: str) -> Path:
    _write(tmp_path / "proc-self-cgroup", text)
    return tmp_path / "proc-self-cgroup"


def test_v2_root_quota(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cpu.max", "200000 100000\n")
    proc = _proc(tmp_path, "0::/\n")
    assert read_quota_cores(root, proc) == 2.0
    assert usable_cores(root, proc, affinity=64) == 2


def test_v2_smallest_quota_on_the_path_wins(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cpu.max", "800000 100000\n")
    _write(root / "a" / "cpu.max", "300000 100000\n")  # a slice limits its children
    _write(root / "a" / "b" / "cpu.max", "max 100000\n")
    proc = _proc(tmp_path, "0::/a/b\n")
    assert read_quota_cores(root, proc) == 3.0
    assert usable_cores(root, proc, affinity=16) == 3


def test_v2_host_path_missing_in_a_container_reads_its_root(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cpu.max", "100000 100000\n")
    proc = _proc(tmp_path, "0::/system.slice/docker-abc.scope\n")
    assert usable_cores(root, proc, affinity=8) == 1


def test_v1_quota(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cpu" / "docker" / "cpu.cfs_quota_us", "250000\n")
    _write(root / "cpu" / "docker" / "cpu.cfs_period_us", "100000\n")
    _write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    proc = _proc(tmp_path, "3:cpu,cpuacct:/docker\n0::/\n")
    assert read_quota_cores(root, proc) == 2.5
    assert usable_cores(root, proc, affinity=32) == 3


def test_no_quota_anywhere_is_the_affinity(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cpu.max", "max 100000\n")
    _write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    proc = _proc(tmp_path, "1:cpu:/\n0::/\n")
    assert read_quota_cores(root, proc) is None
    assert usable_cores(root, proc, affinity=6) == 6


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02\xff\xfe", b"max", b"lots of junk here", b"-5 -5\n"],
)
def test_malformed_files_mean_no_quota(tmp_path, content):
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cpu.max").write_bytes(content)
    (root / "cpu").mkdir()
    (root / "cpu" / "cpu.cfs_quota_us").write_bytes(content)
    (root / "cpu" / "cpu.cfs_period_us").write_bytes(content)
    proc = _proc(tmp_path, "0::/\n1:cpu:/\n")
    assert read_quota_cores(root, proc) is None
    assert usable_cores(root, proc, affinity=5) == 5


def test_unreadable_files_mean_no_quota(tmp_path):
    root = tmp_path / "cg"
    (root / "cpu.max").mkdir(parents=True)  # a directory where the file should be
    assert usable_cores(root, tmp_path / "no-such-proc-file", affinity=3) == 3
    assert usable_cores(tmp_path / "nothing-here", tmp_path / "nope", affinity=3) == 3


def test_usable_cores_on_this_machine():
    """Within [1, affinity]: the real files parse (or are absent) without an error."""
    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))


# --- resolve_processes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "cores", "default", "count"),
    [
        (None, 8, 1, 1),  # neither --processes nor processes: given: the default
        (None, 8, "auto", 8),
        ("auto", 3, 1, 3),
        (1, 8, "auto", 1),
        (5, 2, 1, 5),  # an explicit count is not capped by the cores
    ],
)
def test_resolve_processes(setting, cores, default, count):
    assert resolve_processes(setting, cores=cores, default=default) == count


@pytest.mark.parametrize(
    ("setting", "cores", "default"),
    [(0, 4, 1), (-2, 4, 1), (None, 4, 0), ("auto", 0, 1), (True, 4, 1)],
)
def test_resolve_processes_refuses_nonsense(setting, cores, default):
    with pytest.raises(ValueError):
        resolve_processes(setting, cores=cores, default=default)
