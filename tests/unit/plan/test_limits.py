"""plan.limits: a config the target or this machine cannot run is refused at load, in one line
that names the limit and the number asked for (issue 8 items 9 and 10: a 1 PiB object, a count
of 2^64 and ``concurrency: 1000000000`` used to run until MemoryError or "can't start new
thread")."""

from __future__ import annotations

import textwrap

import pytest

from sai3bench.config.load import load_config
from sai3bench.errors import ConfigError
from sai3bench.plan.limits import PLAN_BYTES_PER_OBJECT, Machine, check_limits

GIB = 1 << 30
GET = "{op: get, path: 'd/*', weight: 1}"


def small_machine(free: int = 100 * GIB) -> Machine:
    return Machine(
        max_threads=1000, max_open_files=1024, available_memory=8 * GIB, free_bytes=lambda _: free
    )


def refused(text: str, machine: Machine | None = None) -> str:
    config = load_config(textwrap.dedent(text)).config
    with pytest.raises(ConfigError) as err:
        check_limits(config, machine or small_machine())
    assert "\n" not in err.value.msg and err.value.hint
    return err.value.msg


def allowed(text: str, machine: Machine | None = None) -> None:
    check_limits(load_config(textwrap.dedent(text)).config, machine or small_machine())


def test_threads_for_file_workers():
    msg = refused(f"target: file:///t/\nconcurrency: 1000000000\nworkload: [{GET}]")
    assert msg.startswith("concurrency: 1,000,000,000 workers need 1,000,000,000 threads")
    assert "at most 984" in msg
    allowed(f"target: file:///t/\nconcurrency: 984\nworkload: [{GET}]")


def test_a_per_op_cap_counts_too():
    text = "target: file:///t/\nworkload: [{op: get, path: a, weight: 1, concurrency: 5000}]"
    assert refused(text).startswith("workload[].concurrency: 5,000 workers")


def test_a_file_prepare_under_a_network_workload_needs_threads():
    text = f"""
    target: s3://b/
    concurrency: 5000
    prepare: {{ensure_objects: [{{base_uri: 'file:///t/d/', count: 1, min_size: 1, max_size: 1}}]}}
    workload: [{GET}]
    """
    assert "5,000 threads" in refused(text)


def test_connections_for_network_workers():
    msg = refused(f"target: s3://b/\nconcurrency: 30000\nworkload: [{GET}]")
    assert "30,000 connections" in msg and "ulimit -n is 1,024" in msg
    allowed(f"target: s3://b/\nconcurrency: 960\nworkload: [{GET}]")


@pytest.mark.parametrize("target", ["s3://b/", "gs://b/", "az://a/c/"])
def test_http2_workers_share_connections(target):
    """``run --http2`` multiplexes s3://, gs:// and az:// workers over 2 connections per
    endpoint: 30,000 of them were refused for ulimit -n 1,024 as if each held its own (gs://
    and az:// were, even after they went over HTTP/2 too)."""
    config = load_config(f"target: {target}\nconcurrency: 30000\nworkload: [{GET}]").config
    check_limits(config, small_machine(), http2=True)
    with pytest.raises(ConfigError, match="30,000 workers need 30,000"):
        check_limits(config, small_machine(), http2=False)


def test_http2_does_not_lift_the_thread_limit_of_file_targets():
    """file:// runs a thread per worker whatever --http2 says."""
    config = load_config(f"target: file:///t/\nconcurrency: 30000\nworkload: [{GET}]").config
    with pytest.raises(ConfigError, match="30,000 workers need 30,000"):
        check_limits(config, small_machine(), http2=True)


@pytest.mark.parametrize(
    "target,size,limit",
    [
        ("s3://b/", "6TiB", "S3's largest object (5 TiB)"),
        ("gs://b/", "5TiB + 1", "GCS's largest object (5 TiB)"),
        ("az://a/c/", "1PiB", "Azure's largest block blob"),
        ("s3://b/", "9000000000000000000", "S3's largest object"),
        ("file:///t/", "101GiB", "the free space of the file system under /t/p/: 100.00 GiB"),
    ],
)
def test_an_object_larger_than_its_storage_takes(target, size, limit):
    size = str(5 * (1 << 40) + 1) if size == "5TiB + 1" else size
    msg = refused(
        f"target: {target}\nworkload: [{{op: put, path: p/, object_size: {size}, weight: 1}}]"
    )
    assert msg.startswith("workload[0]: an object of ") and limit in msg


def test_the_largest_object_of_a_size_spec_counts():
    spec = "{type: uniform, min: 1KiB, max: 6TiB}"
    text = f"target: s3://b/\nworkload: [{{op: put, path: p/, size_spec: {spec}, weight: 1}}]"
    assert "6.00 TiB" in refused(text)
    # An unbounded lognormal is judged by its mean: its default max is not a real object size.
    spec = "{type: lognormal, mean: 1MiB, std_dev: 64KiB}"
    allowed(f"target: s3://b/\nworkload: [{{op: put, path: p/, size_spec: {spec}, weight: 1}}]")
    allowed("target: s3://b/\nworkload: [{op: put, path: p/, object_size: 5TiB, weight: 1}]")


@pytest.mark.parametrize("count", [10**13, 2**64])
def test_a_count_whose_plan_cannot_fit_in_memory(count):
    text = f"""
    target: s3://b/
    prepare: {{ensure_objects: [{{base_uri: d/, count: {count}, min_size: 1, max_size: 1}}]}}
    workload: [{GET}]
    """
    msg = refused(text)
    assert msg.startswith(f"prepare.ensure_objects: {count:,} objects need ")
    assert f"({PLAN_BYTES_PER_OBJECT} bytes each), but 8.00 GiB is available" in msg


def test_a_file_prepare_must_fit_in_free_space(tmp_path):
    text = f"""
    target: file://{tmp_path}/
    prepare: {{ensure_objects: [{{base_uri: d/, count: 1000, min_size: 1MiB, max_size: 1MiB}}]}}
    workload: [{GET}]
    """
    msg = refused(text, small_machine(free=999 << 20))
    assert msg == (
        f"prepare.ensure_objects[0]: 1,000 objects of 1.00 MiB on average need 1,000.00 MiB, "
        f"but the file system under {tmp_path}/d/ has 999.00 MiB free"
    )
    allowed(text, small_machine(free=1000 << 20))
    # Objects that exist already take no new space: a rerun over a set that fills the disk runs.
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "prepared-00000000.dat").write_bytes(bytes(1 << 20))
    (tmp_path / "d" / "other.dat").write_bytes(bytes(1 << 20))  # not the set's: not counted
    allowed(text, small_machine(free=999 << 20))
    refused(text, small_machine(free=998 << 20))


def test_the_real_machine_is_checked_by_run_before_anything_starts(tmp_path):
    """``sai3bench run`` checks the loaded config against this machine (cli/run.py ``_load``),
    before the results directory or any storage is touched."""
    from sai3bench.cli.run import _load

    path = tmp_path / "c.yaml"
    path.write_text(f"target: file://{tmp_path}/\nconcurrency: 1000000000\nworkload: [{GET}]\n")
    with pytest.raises(ConfigError, match="threads, but this process may start at most"):
        _load(path)
    path.write_text(f"target: file://{tmp_path}/\nconcurrency: 8\nworkload: [{GET}]\n")
    assert _load(path)[0].config.concurrency == 8


def test_run_passes_http2_to_the_limits(tmp_path, monkeypatch):
    """--http2 multiplexes an s3:// run's workers over a few connections: 2,000 workers under
    ``ulimit -n 1024`` run (``run`` used to check them as one socket each)."""
    from sai3bench.cli.run import _load

    monkeypatch.setattr(Machine, "current", staticmethod(small_machine))
    path = tmp_path / "c.yaml"
    path.write_text(f"target: s3://b/\nconcurrency: 2000\nworkload: [{GET}]\n")
    with pytest.raises(ConfigError, match="connections, but this process may open"):
        _load(path)
    assert _load(path, http2=True)[0].config.concurrency == 2000


def test_free_space_of_a_path_that_does_not_exist_yet(tmp_path):
    from sai3bench.plan.limits import _free

    deep, here = _free(str(tmp_path / "a" / "b" / "c")), _free(str(tmp_path))
    assert 0 < deep < 2**63 - 1 and abs(deep - here) < here / 10  # others write meanwhile


def test_a_file_system_that_reports_no_size_is_not_judged():
    from sai3bench.plan.limits import _free

    assert _free("/proc/self") == 2**63 - 1  # procfs: 0 blocks in all, so 0 free means nothing
