"""prepare -> workload -> cleanup end to end on tmp_path, in process (``run_command``).

Runs the same code path as ``sai3bench run`` minus the interpreter start-up, so each run costs
its configured duration (kept short: the workload length does not matter to these checks) and
the results directory can be read back. Seeds are fixed; nothing asserts on time.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sai3bench.cli.run import RunFlags, run_command
from sai3bench.config.schema import EnsureObjects, Prepare
from sai3bench.config.sizespec import UniformSize
from sai3bench.errors import ConfigError, RunFailed, StorageError
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.plan.tasks import prepare_sets
from tests.integration.conftest import (
    immutable_dir,
    metadata,
    prepared_names,
    results_dir,
    snapshot,
    write_config,
)

pytestmark = pytest.mark.integration

SEED = 1357
COUNT = 60
LO, HI = 1000, 3000


def config(
    data: Path,
    *,
    count: int = COUNT,
    workload: list[dict[str, Any]] | None = None,
    cleanup: bool = True,
    base: str = "set/",
    duration: str = "150ms",
    concurrency: int = 4,
    **top: Any,
) -> dict[str, Any]:
    return {
        "target": f"file://{data}/",
        "duration": duration,
        "concurrency": concurrency,
        "prepare": {
            "ensure_objects": [
                {"base_uri": base, "count": count, "min_size": LO, "max_size": HI},
            ],
            "cleanup": cleanup,
        },
        "workload": workload or [{"op": "get", "path": base + "*", "weight": 1}],
        **top,
    }


class Run:
    """One in-process run: its results directory, metadata and console text."""

    def __init__(self, out_dir: Path, stdout: str, stderr: str) -> None:
        self.out_dir = out_dir
        self.meta = metadata(out_dir)
        self.stages: dict[str, Any] = self.meta["stages"]
        self.stdout = stdout
        self.stderr = stderr

    def collector(self, stage: str) -> Collector:
        blob = json.loads((self.out_dir / "results.json").read_text())["stages"][stage]
        return Collector.decode(base64.b64decode(blob))


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    counter = [0]

    def go(cfg: dict[str, Any], fails: str | None = None, **flags: Any) -> Run:
        """``fails``: the run must end in RunFailed matching it (its results still saved)."""
        counter[0] += 1
        name = f"r{counter[0]}"
        path = write_config(tmp_path, cfg, f"{name}.yaml")
        rdir = tmp_path / "results"
        if fails is not None:
            with pytest.raises(RunFailed, match=fails):
                run_command(path, RunFlags(results_dir=rdir, seed=SEED, **flags))
        else:
            assert run_command(path, RunFlags(results_dir=rdir, seed=SEED, **flags)) == 0
        cap = capsys.readouterr()
        return Run(results_dir(rdir, name), cap.out, cap.err)

    return go


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def planned_size(data: Path, idx: int, count: int = COUNT, base: str = "set/") -> int:
    """The size prepare gives object ``idx`` of ``config(data, count=count, base=base)``."""
    spec = EnsureObjects(
        base_uri=f"file://{data}/{base}", count=count, size_spec=UniformSize(min=LO, max=HI)
    )
    (pset,) = prepare_sets(Prepare(ensure_objects=(spec,)), mixed=False)
    return pset.sizes()[idx]


def test_second_run_creates_nothing_and_touches_nothing(run: Any, data: Path) -> None:
    cfg = config(data)
    first = run(cfg, no_cleanup=True)
    assert first.stages["prepare"]["objects_created"] == COUNT
    before = snapshot(data)
    assert len(before) == COUNT
    second = run(cfg, no_cleanup=True)
    assert second.stages["prepare"]["objects_created"] == 0
    assert second.stages["prepare"]["objects_existed"] == COUNT
    assert "cleanup" not in second.stages
    assert snapshot(data) == before
    assert not (second.out_dir / "prepare_results.tsv").exists()  # nothing was PUT


def test_gap_fill_recreates_exactly_the_missing_with_the_same_sizes(run: Any, data: Path) -> None:
    cfg = config(data)
    run(cfg, no_cleanup=True)
    before = snapshot(data)
    gone = ["set/prepared-00000003.dat", "set/prepared-00000030.dat", "set/prepared-00000059.dat"]
    for rel in gone:
        (data / rel).unlink()
    again = run(cfg, no_cleanup=True)
    assert again.stages["prepare"]["objects_created"] == 3
    assert again.stages["prepare"]["objects_existed"] == COUNT - 3
    after = snapshot(data)
    assert set(after) == set(before)
    for rel, (ino, mtime, size) in before.items():
        if rel in gone:
            assert after[rel][2] == size, rel  # same deterministic size
        else:
            assert after[rel] == (ino, mtime, size), rel  # untouched


def test_short_and_empty_objects_are_recreated_on_rerun(run: Any, data: Path) -> None:
    """What a full disk or a killed prepare used to leave: wrong sizes under real names."""
    cfg = config(data)
    run(cfg, no_cleanup=True)
    before = snapshot(data)
    short = {"set/prepared-00000003.dat": 0, "set/prepared-00000030.dat": 7}
    for rel, size in short.items():
        with (data / rel).open("r+b") as f:
            f.truncate(size)
    again = run(cfg, no_cleanup=True)
    assert again.stages["prepare"]["objects_created"] == 2
    assert again.stages["prepare"]["objects_existed"] == COUNT - 2
    assert "2 objects under" in again.stderr and "have the wrong size" in again.stderr
    after = snapshot(data)
    for rel, (ino, mtime, size) in before.items():
        if rel in short:
            assert after[rel][2] == size, rel  # the planned size again
        else:
            assert after[rel] == (ino, mtime, size), rel  # untouched
    third = run(cfg)  # re-created objects count as this run's: cleanup removes those two only
    assert third.stages["prepare"]["objects_created"] == 0


def test_recreated_objects_count_as_created_and_are_cleaned_up(run: Any, data: Path) -> None:
    cfg = config(data)
    run(cfg, no_cleanup=True)
    (data / "set/prepared-00000005.dat").write_bytes(b"")
    r = run(cfg)
    assert r.stages["prepare"]["objects_created"] == 1
    assert r.stages["cleanup"]["objects_deleted"] == 1
    assert len(prepared_names(data / "set")) == COUNT - 1
    assert not (data / "set/prepared-00000005.dat").exists()


def test_prepare_stopped_by_a_full_disk_leaves_no_short_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC part way through the 11th PUT: no file under that name, no temporary left."""
    import errno
    import os
    import threading

    from sai3bench.backends import file as file_mod

    lock, puts = threading.Lock(), [0]
    real = file_mod._write_all

    def write_all(fd: int, view: memoryview) -> int:
        with lock:
            puts[0] += 1
            full = puts[0] > 10
        if full:
            os.write(fd, view[: len(view) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, view)

    monkeypatch.setattr(file_mod, "_write_all", write_all)
    data = tmp_path / "data"
    path = write_config(tmp_path, config(data, cleanup=False, concurrency=1))
    with pytest.raises(StorageError, match="prepare failed"):
        run_command(path, RunFlags(results_dir=tmp_path / "results", seed=SEED))
    names = sorted(p.name for p in (data / "set").iterdir())
    assert names == [f"prepared-{i:08}.dat" for i in range(len(names))]  # no hidden temp files
    assert all(
        (data / "set" / n).stat().st_size == planned_size(data, i) for i, n in enumerate(names)
    )


def test_sizes_follow_the_spec(run: Any, data: Path) -> None:
    run(config(data), prepare_only=True)
    sizes = [p.stat().st_size for p in (data / "set").iterdir()]
    assert len(sizes) == COUNT
    assert all(LO <= s <= HI for s in sizes)
    assert len(set(sizes)) > COUNT // 2  # uniform, not one repeated size


def test_cleanup_deletes_only_what_the_run_created(run: Any, data: Path) -> None:
    d = data / "set"
    d.mkdir(parents=True)
    foreign = {
        # the right name and the planned size: counts as existing (a wrong size is re-created)
        "prepared-00000000.dat": b"e" * planned_size(data, 0),
        f"prepared-{9999:08}.dat": b"beyond count",
        "other.txt": b"not ours",
    }
    for name, content in foreign.items():
        (d / name).write_bytes(content)
    r = run(config(data))
    assert r.stages["prepare"]["objects_created"] == COUNT - 1
    assert r.stages["prepare"]["objects_existed"] == 1
    assert r.stages["cleanup"]["objects_deleted"] == COUNT - 1
    assert r.stages["cleanup"]["errors"] == 0
    assert {p.name: p.read_bytes() for p in d.iterdir()} == foreign


def test_cleanup_removes_the_directories_prepare_made(run: Any, tmp_path: Path) -> None:
    data = tmp_path / "deep" / "er"
    r = run(config(data, base="a/b/"))
    assert r.stages["cleanup"]["objects_deleted"] == COUNT
    assert not (tmp_path / "deep").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1.yaml", "results"]


def test_mixed_get_delete_uses_a_deletable_pool(run: Any, data: Path) -> None:
    d = data / "set"
    d.mkdir(parents=True)
    (d / "other.txt").write_bytes(b"keep")
    count = 150
    wl = [
        {"op": "get", "path": "set/*", "weight": 25},
        {"op": "delete", "path": "set/prepared-*", "weight": 1},
    ]
    r = run(config(data, count=count, workload=wl))
    assert "Mixed workload: Using separate object pools" in r.stdout
    assert r.stages["prepare"]["objects_created"] == 2 * count
    assert r.stages["workload"]["errors"] == 0
    deleted = r.collector("workload").ops(OpKind.DELETE)
    assert deleted > 0
    assert r.collector("workload").ops(OpKind.GET) > 0
    cleanup = r.stages["cleanup"]
    assert cleanup["errors"] == 0
    assert cleanup["already_deleted"] == 0
    assert cleanup["objects_deleted"] + cleanup["already_deleted"] == 2 * count - deleted
    assert [p.name for p in d.iterdir()] == ["other.txt"]
    assert (d / "other.txt").read_bytes() == b"keep"


def test_mixed_deletes_never_touch_the_read_pool(run: Any, data: Path) -> None:
    wl = [
        {"op": "get", "path": "set/*", "weight": 1},
        {"op": "delete", "path": "set/prepared-*", "weight": 1},
    ]
    run(config(data, count=60, workload=wl), no_cleanup=True)
    assert len(prepared_names(data / "set")) == 60
    assert len(prepared_names(data / "set", "deletable")) < 60


def test_delete_pool_exhaustion_ends_cleanly_and_warns(run: Any, data: Path) -> None:
    wl = [
        {"op": "get", "path": "set/*", "weight": 1},
        {"op": "delete", "path": "set/prepared-*", "weight": 20},
    ]
    r = run(config(data, count=20, workload=wl, duration="1s"))
    assert "every object in its pool was deleted" in r.stderr
    assert r.stages["workload"]["errors"] == 0
    assert r.stages["workload"]["aborted"] is None
    assert r.collector("workload").ops(OpKind.DELETE) == 20
    assert r.stages["cleanup"]["objects_deleted"] == 20  # the read pool
    assert r.stages["cleanup"]["already_deleted"] == 0
    assert not data.exists()


def test_delete_only_workload_stops_when_the_pool_is_empty(run: Any, data: Path) -> None:
    wl = [{"op": "delete", "path": "set/prepared-*", "weight": 1}]
    r = run(config(data, count=30, workload=wl, duration="30s"))
    assert "every object in its pool was deleted" in r.stderr
    assert r.collector("workload").ops(OpKind.DELETE) == 30
    assert r.stages["workload"]["errors"] == 0
    assert r.stages["cleanup"]["objects_deleted"] == 0
    assert r.stages["cleanup"]["already_deleted"] == 0
    assert not data.exists()


def test_per_op_cap_above_global_concurrency_sets_the_workers(run: Any, data: Path) -> None:
    wl = [
        {"op": "get", "path": "set/*", "weight": 3, "concurrency": 7},
        {"op": "stat", "path": "set/*", "weight": 1},
    ]
    r = run(config(data, count=50, workload=wl, concurrency=2))
    assert r.stages["workload"]["workers"] == 7
    assert r.stages["workload"]["errors"] == 0


def test_low_per_op_cap_does_not_stall_the_other_ops(run: Any, data: Path) -> None:
    wl = [
        {"op": "get", "path": "set/*", "weight": 1},
        {"op": "stat", "path": "set/*", "weight": 1, "concurrency": 1},
    ]
    r = run(config(data, count=50, workload=wl, concurrency=6))
    c = r.collector("workload")
    assert c.ops(OpKind.GET) > 0
    assert c.ops(OpKind.STAT) > 0
    assert r.stages["workload"]["workers"] == 6


def test_prepare_only_skip_prepare_cleanup_only(run: Any, data: Path) -> None:
    wl = [
        {"op": "get", "path": "set/*", "weight": 20},
        {"op": "delete", "path": "set/prepared-*", "weight": 1},
    ]
    cfg = config(data, count=80, workload=wl)
    p = run(cfg, prepare_only=True)
    assert set(p.stages) == {"prepare"}
    assert p.stages["prepare"]["objects_created"] == 160
    assert not (p.out_dir / "workload_results.tsv").exists()
    d = data / "set"
    foreign = ["other.txt", f"prepared-{80:08}.dat", "prepared-00000001.dat.tmp"]
    for name in foreign:
        (d / name).write_bytes(b"foreign")

    w = run(cfg, skip_prepare=True)
    assert set(w.stages) == {"workload"}  # no prepare, so no cleanup either
    assert w.stages["workload"]["errors"] == 0
    assert w.collector("workload").ops(OpKind.DELETE) > 0
    assert len(prepared_names(d)) == 80 + 1
    left = len(prepared_names(d, "deletable"))
    assert left < 80
    # the workload's delete glob would have taken this one; cleanup-only must not
    foreign.append(f"deletable-{9999:08}.dat")
    (d / foreign[-1]).write_bytes(b"foreign")

    c = run(cfg, cleanup_only=True)
    assert set(c.stages) == {"cleanup"}
    assert c.stages["cleanup"]["objects_deleted"] == 80 + left
    assert c.stages["cleanup"]["already_deleted"] == 0
    assert sorted(p.name for p in d.iterdir()) == sorted(foreign)


def test_verify_after_prepare_and_after_a_loss(run: Any, data: Path, tmp_path: Path) -> None:
    cfg = config(data, count=40)
    run(cfg, prepare_only=True)
    ok = run(cfg, verify=True)
    assert "Verified 40 objects" in ok.stdout
    (data / "set" / "prepared-00000007.dat").unlink()
    path = write_config(tmp_path, cfg, "v.yaml")
    with pytest.raises(RunFailed, match=r"has 39 of 40 objects"):
        run_command(path, RunFlags(results_dir=tmp_path / "results", verify=True))


def test_verify_names_objects_of_the_wrong_size(run: Any, data: Path, tmp_path: Path) -> None:
    cfg = config(data, count=40)
    run(cfg, prepare_only=True)
    (data / "set" / "prepared-00000007.dat").write_bytes(b"")
    with (data / "set" / "prepared-00000009.dat").open("r+b") as f:
        f.truncate(100)
    (data / "set" / "prepared-00000011.dat").unlink()
    path = write_config(tmp_path, cfg, "v.yaml")
    with pytest.raises(RunFailed) as info:
        run_command(path, RunFlags(results_dir=tmp_path / "results", verify=True))
    assert info.value.msg == (
        f"verify: prepare.ensure_objects[0] (prepared) has 37 of 40 objects under "
        f"file://{data}/set/ (1 missing; 2 of the wrong size: prepared-00000007.dat is 0 bytes, "
        f"planned {planned_size(data, 7, 40):,}; prepared-00000009.dat is 100 bytes, planned "
        f"{planned_size(data, 9, 40):,})"
    )


def test_put_workload_objects_follow_the_size_spec_and_survive_cleanup(
    run: Any, data: Path
) -> None:
    wl = [
        {"op": "get", "path": "set/*", "weight": 1},
        {
            "op": "put",
            "path": "new/",
            "weight": 1,
            "size_spec": {"type": "uniform", "min": 500, "max": 1500},
        },
    ]
    r = run(config(data, count=50, workload=wl))
    puts = r.collector("workload").ops(OpKind.PUT)
    assert puts > 0
    new = list((data / "new").iterdir())
    # ops that finish after the deadline are written but not counted (tallied as late)
    assert puts <= len(new) <= puts + r.stages["workload"]["late"]
    for p in new:
        assert p.name.startswith("obj_") and p.name[4:].isdigit(), p.name
        assert 500 <= p.stat().st_size <= 1500, p
    assert len({p.stat().st_size for p in new}) > 1 or puts == 1
    assert r.stages["cleanup"]["objects_deleted"] == 50
    assert not (data / "set").exists()


def test_prepare_failure_removes_what_it_made(tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    locked = data / "locked"
    locked.mkdir(parents=True)
    cfg = config(data, count=30)
    cfg["prepare"]["ensure_objects"].append(
        {"base_uri": "locked/", "count": 5, "min_size": 10, "max_size": 10}
    )
    path = write_config(tmp_path, cfg)
    with immutable_dir(locked), pytest.raises(StorageError, match="prepare failed writing"):
        run_command(path, RunFlags(results_dir=tmp_path / "results", seed=SEED))
    assert "removing the 30 objects it made" in capsys.readouterr().err
    assert not (data / "set").exists()
    assert list(locked.iterdir()) == []


def test_glob_matching_nothing_is_a_config_error(tmp_path: Path) -> None:
    cfg = config(tmp_path / "data", workload=[{"op": "get", "path": "elsewhere/*", "weight": 1}])
    path = write_config(tmp_path, cfg)
    with pytest.raises(ConfigError, match=r"no objects match .*elsewhere/\*") as info:
        run_command(path, RunFlags(results_dir=tmp_path / "results", seed=SEED))
    assert "workload[0]" in info.value.msg
    assert info.value.hint


def test_failed_run_after_prepare_still_cleans_up(tmp_path: Path) -> None:
    cfg = config(tmp_path / "data", workload=[{"op": "get", "path": "elsewhere/*", "weight": 1}])
    path = write_config(tmp_path, cfg)
    with pytest.raises(ConfigError):
        run_command(path, RunFlags(results_dir=tmp_path / "results", seed=SEED))
    assert not (tmp_path / "data").exists()


def test_mixed_workload_with_prepared_in_the_directory_name(run: Any, data: Path) -> None:
    wl = [
        {"op": "get", "path": "prepared-sets/*", "weight": 1},
        {"op": "delete", "path": "prepared-sets/prepared-*", "weight": 1},
    ]
    r = run(config(data, count=20, base="prepared-sets/", workload=wl))
    assert r.stages["workload"]["errors"] == 0


def test_non_canonical_name_does_not_count_as_prepared(run: Any, data: Path) -> None:
    (data / "set").mkdir(parents=True)
    (data / "set" / "prepared-1.dat").write_bytes(b"foreign")
    cfg = config(data, count=5)
    run(cfg, prepare_only=True)
    assert (data / "set" / "prepared-00000001.dat").exists()


@pytest.fixture
def slow_first_deletes(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The first ``n`` file deletes take 0.4 s: longer than the workload, so they end late."""
    import threading
    import time as time_mod

    from sai3bench.backends.file import FileBackend

    original = FileBackend.delete_sync
    lock = threading.Lock()
    left = [0]

    def delete_sync(self: FileBackend, key: str) -> int:
        with lock:
            slow = left[0] > 0
            left[0] -= 1
        if slow:
            time_mod.sleep(0.4)
        return original(self, key)

    monkeypatch.setattr(FileBackend, "delete_sync", delete_sync)

    def arm(n: int) -> None:
        left[0] = n

    return arm


def delete_only(data: Path, **kw: Any) -> dict[str, Any]:
    wl = [{"op": "delete", "path": "set/prepared-*", "weight": 1}]
    return config(data, count=30, workload=wl, duration="100ms", concurrency=2, **kw)


def test_late_deletes_are_not_counted_but_done(
    run: Any, data: Path, slow_first_deletes: Any
) -> None:
    slow_first_deletes(2)
    r = run(delete_only(data), fails="no op completed", no_cleanup=True)
    late = r.stages["workload"]["late"]
    assert late >= 1  # a worker may hold every key in one batch: then only its first op runs
    assert r.collector("workload").ops(OpKind.DELETE) == 0
    assert len(prepared_names(data / "set")) == 30 - late  # late deletes did delete


def test_late_deletes_are_not_deleted_twice_by_cleanup(
    run: Any, data: Path, slow_first_deletes: Any
) -> None:
    slow_first_deletes(2)
    r = run(delete_only(data), fails="no op completed")
    assert r.stages["cleanup"]["already_deleted"] == 0
