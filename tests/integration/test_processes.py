"""``processes: 2`` end to end: a real ``sai3bench run`` whose stages run in two engine child
processes, against the mock server (whose own counters, ``GET /_mock/stats``, are the referee)
and against file:// in tmp_path.

What a two-process run must keep (issue 9, "Tests"): the ops we report are the ops the server
saw; no PUT key is written twice (both processes draw keys from the same seeded generator
unless their seeds and salts differ); prepare makes exactly the N objects a one-process run
makes, same names, same sizes; cleanup deletes exactly what the run created; and
metadata.json's per-process sections add up to the merged totals.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.config.load import load_config
from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.plan.cores import usable_cores
from sai3bench.plan.tasks import is_mixed, prepare_sets

from .conftest import run_cli, run_cli_many, snapshot, write_config
from .test_s3_mock import MockServer, _start

COUNT = 40  # per pool: a mixed config prepares COUNT prepared- and COUNT deletable- objects
#: LIST requests the coordinator sends once, whatever the processes: one per prepare set
#: (prepared-, deletable-) and one per glob of the workload (get, stat, delete). Each is one
#: page (fewer than 1,000 keys).
COORDINATOR_LISTS = 2 + 3
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


def _mix(target: str, duration: str = "2s", concurrency: int = 4, **extra: Any) -> dict[str, Any]:
    """get/stat/put/delete over one prepared base: prepared- for reads, deletable- to delete."""
    return {
        "target": target,
        "duration": duration,
        "concurrency": concurrency,
        "prepare": {
            "cleanup": True,
            "ensure_objects": [
                {"base_uri": "data/", "count": COUNT, "min_size": 1024, "max_size": 8192}
            ],
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 40},
            {"op": "stat", "path": "data/*", "weight": 20},
            {"op": "put", "path": "new/", "object_size": 1024, "weight": 30},
            {"op": "delete", "path": "data/*", "weight": 5},
        ],
        **extra,
    }


def _run(
    tmp_path: Path, config: dict[str, Any], *args: str, env: dict[str, str] | None = None
) -> tuple[Path, Any]:
    """Run ``config`` with ``args``; (its results directory, the completed process)."""
    results = tmp_path / "results"
    cfg = write_config(tmp_path, config)
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(results), *args], tmp_path, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    (out,) = results.glob("sai3-*")
    return out, proc


def _stages(out: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((out / "metadata.json").read_text())["stages"]
    return meta


def _collectors(out: Path) -> dict[str, Collector]:
    doc = json.loads((out / "results.json").read_text())
    return {k: Collector.decode(base64.b64decode(v)) for k, v in doc["stages"].items()}


def _mock_stats(mock: MockServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{mock.url}/_mock/stats", timeout=5) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def _list(mock: MockServer, prefix: str) -> dict[str, int]:
    """key -> size of every object under ``prefix`` (ListObjectsV2, every page). The mock runs
    without --auth, so a plain request is enough (and GET /_mock/stats does not count it)."""
    out: dict[str, int] = {}
    token = ""
    while True:
        query = {"list-type": "2", "prefix": prefix}
        if token:
            query["continuation-token"] = token
        url = f"{mock.url}/bench?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            root = ET.fromstring(resp.read())
        for c in root.iter(f"{_S3_NS}Contents"):
            out[c.findtext(f"{_S3_NS}Key", "")] = int(c.findtext(f"{_S3_NS}Size", "0"))
        token = root.findtext(f"{_S3_NS}NextContinuationToken") or ""
        if not token:
            return out


def _expected_prepare(config: dict[str, Any], base: str) -> dict[str, int]:
    """The names and sizes prepare must make: they depend on the index only."""
    cfg = load_config(json.dumps(config)).config
    assert cfg.prepare is not None
    out = {}
    for ps in prepare_sets(cfg.prepare, mixed=is_mixed(cfg)):
        for idx, size in enumerate(ps.sizes()):
            out[base + ps.uri(idx).removeprefix(cfg.target or "")] = size
    return out


def _assert_process_sections(stages: dict[str, Any], processes: int = 2) -> None:
    """Every stage has one section per process, and their ops add up to the merged total."""
    for name, stage in stages.items():
        sections = stage["processes"]
        assert [s["process"] for s in sections] == list(range(processes)), name
        total = sum(s["ops"] for s in sections)
        if name == "workload":
            assert total == stage["ops"]
        assert all(s["errors"] == 0 for s in sections), name
    assert (
        sum(s["ops"] for s in stages["prepare"]["processes"])
        == stages["prepare"]["objects_created"]
    )


# -- against the mock server --------------------------------------------------------------------


def test_mock_op_counts_equal_ours_and_no_put_key_is_written_twice(
    tmp_path: Path, mock: MockServer
) -> None:
    foreign = {"other/keep.bin": b"x" * 10}
    for key, body in foreign.items():
        req = urllib.request.Request(f"{mock.url}/bench/{key}", data=body, method="PUT")
        urllib.request.urlopen(req, timeout=5).close()
    before = _mock_stats(mock)
    config = _mix("s3://bench/mix/")
    out, proc = _run(tmp_path, config, "--processes", "2", env=mock.env())
    assert proc.returncode == 0, proc.stderr
    assert "Processes: 2 engine processes on this host" in proc.stdout
    after = _mock_stats(mock)
    seen = Counter(after["requests"]) - Counter(before["requests"])
    c = _collectors(out)
    stages = _stages(out)
    late = stages["workload"]["late"]
    ours = {
        "GET": c["workload"].ops(OpKind.GET) + c["workload"].ops(OpKind.LIST),
        "HEAD": c["workload"].ops(OpKind.STAT),
        "PUT": c["prepare"].ops(OpKind.PUT) + c["workload"].ops(OpKind.PUT),
        "DELETE": c["workload"].ops(OpKind.DELETE),
        "POST": c["cleanup"].ops(OpKind.DELETE),  # DeleteObjects batches
    }
    assert set(seen) <= set(ours), seen
    assert all(c[s].error_count() == 0 for s in c)
    # Each method: the server saw what we counted, plus ops that ended after the deadline
    # (late: sent, not counted), plus the coordinator's own LISTs (GET).
    extra = {m: seen[m] - n for m, n in ours.items()}
    assert all(n >= 0 for n in extra.values()), (seen, ours)
    assert sum(extra.values()) == late + COORDINATOR_LISTS, (seen, ours, late)
    assert extra["POST"] == 0  # cleanup has no deadline
    assert c["prepare"].ops(OpKind.PUT) == stages["prepare"]["objects_created"] == 2 * COUNT
    # No PUT key duplicated: every workload PUT the server saw left its own object.
    new = _list(mock, "mix/new/")
    workload_puts = seen["PUT"] - 2 * COUNT
    assert len(new) == workload_puts >= c["workload"].ops(OpKind.PUT) > 0
    # ...because each process salts its keys with its own residue (put_salt): both show up.
    salts = Counter(int(re.sub(r"\D", "", k.rsplit("/", 1)[1])) % 2 for k in new)
    assert salts[0] > 0 and salts[1] > 0, salts
    # Cleanup is exact: everything prepared is gone, the workload's PUTs and the foreign
    # object stay (as upstream), nothing else.
    assert _list(mock, "mix/data/") == {}
    assert after["objects"]["bench"] == len(foreign) + len(new)
    # DELETE pools are disjoint: no deletable- key was deleted twice (S3 answers 204 again).
    assert seen["DELETE"] <= COUNT
    # The mix holds in aggregate (GET:STAT:PUT 40:20:30; DELETE stops when its pool is gone).
    w = c["workload"]
    counts = {k: w.ops(k) for k in (OpKind.GET, OpKind.STAT, OpKind.PUT)}
    for kind, weight in ((OpKind.GET, 40), (OpKind.STAT, 20), (OpKind.PUT, 30)):
        assert abs(counts[kind] / sum(counts.values()) - weight / 90) < 0.05, counts
    # ...and cleanup deleted what the workload's DELETEs (late ones too) left of prepare's.
    assert stages["cleanup"]["objects_deleted"] == 2 * COUNT - seen["DELETE"]
    _assert_process_sections(stages)


def test_mock_prepare_makes_exactly_n_objects_named_and_sized_by_index(
    tmp_path: Path, mock: MockServer
) -> None:
    config = _mix("s3://bench/prep/")
    out, proc = _run(tmp_path, config, "--processes", "2", "--prepare-only", env=mock.env())
    assert proc.returncode == 0, proc.stderr
    expected = _expected_prepare(config, "prep/")
    assert len(expected) == 2 * COUNT
    assert _list(mock, "prep/") == expected  # each name once, each with its index's size
    puts = _mock_stats(mock)["requests"]["PUT"]
    assert puts == 2 * COUNT  # each index made exactly once, by one process
    sections = _stages(out)["prepare"]["processes"]
    assert [s["ops"] for s in sections] == [COUNT, COUNT]  # dealt evenly
    # cleanup-only over two processes deletes exactly those.
    out2 = tmp_path / "again"
    out2.mkdir()
    _, proc = _run(out2, config, "--processes", "2", "--cleanup-only", env=mock.env())
    assert proc.returncode == 0, proc.stderr
    assert _list(mock, "prep/") == {}


# -- file:// ------------------------------------------------------------------------------------


def test_file_two_processes_cleanup_is_exact_and_put_keys_unique(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "data").mkdir(parents=True)
    (store / "data" / "keep.txt").write_text("foreign: never touched")
    before = snapshot(store)
    out, proc = _run(tmp_path, _mix(store.as_uri() + "/"), "--processes", "2")
    assert proc.returncode == 0, proc.stderr
    c = _collectors(out)
    stages = _stages(out)
    after = snapshot(store)
    new = {k: v for k, v in after.items() if k.startswith("new/")}
    assert {k: v for k, v in after.items() if k not in new} == before
    # Every counted PUT wrote its own file; late PUTs (ended after the deadline) may add some.
    puts = c["workload"].ops(OpKind.PUT)
    assert puts <= len(new) <= puts + stages["workload"]["late"]
    assert {v[2] for v in new.values()} == {1024}
    assert stages["prepare"]["objects_created"] == 2 * COUNT
    _assert_process_sections(stages)


def test_file_prepare_names_and_sizes_do_not_depend_on_the_processes(tmp_path: Path) -> None:
    """The same store made by 2 processes, then (emptied) by 1: the same files. Sizes are
    seeded by the set's URI, so both runs must use the same directory."""
    store = tmp_path / "store"
    config = _mix(store.as_uri() + "/")

    def prepared(n: str) -> dict[str, int]:
        shutil.rmtree(store, ignore_errors=True)
        work = tmp_path / f"p{n}"
        work.mkdir()
        _, proc = _run(work, config, "--processes", n, "--prepare-only", "--seed", "7")
        assert proc.returncode == 0, proc.stderr
        return {k: v[2] for k, v in snapshot(store).items()}

    two = prepared("2")
    assert two == _expected_prepare(config, "") and len(two) == 2 * COUNT
    assert prepared("1") == two


# -- the setting --------------------------------------------------------------------------------


def test_processes_auto_yaml_and_more_than_workers(tmp_path: Path) -> None:
    """``--processes auto`` (the usable cores), YAML ``processes: 2``, and ``--processes 3``
    with concurrency 2 (runs 2, says so): three short runs at once."""
    jobs = []
    cases = {
        "auto": (_mix("", duration="0.5s"), ["--processes", "auto"]),
        "yaml": (_mix("", duration="0.5s", processes=2), []),
        "three": (_mix("", duration="0.5s", concurrency=2), ["--processes", "3"]),
    }
    for name, (config, args) in cases.items():
        work = tmp_path / name
        work.mkdir()
        config["target"] = (work / "store").as_uri() + "/"
        cfg = write_config(work, config)
        jobs.append((["run", "-c", str(cfg), "--results-dir", str(work / "r"), *args], work))
    procs = dict(zip(cases, run_cli_many(jobs), strict=True))
    for name, proc in procs.items():
        assert proc.returncode == 0, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    auto = min(usable_cores(), 4)  # concurrency 4 caps it
    for name, n in (("auto", auto), ("yaml", 2), ("three", 2)):
        (out,) = (tmp_path / name / "r").glob("sai3-*")
        stages = _stages(out)
        if n > 1:
            assert f"Processes: {n} engine processes on this host" in procs[name].stdout
            _assert_process_sections(stages, n)
        else:
            assert "processes" not in stages["workload"]
        left = snapshot(tmp_path / name / "store")
        assert left and all(k.startswith("new/") for k in left), name  # cleanup was exact
    warn = "processes: 3 asked for, 2 run (concurrency 2: each process needs at least one worker)"
    assert warn in procs["three"].stderr + procs["three"].stdout


@pytest.mark.parametrize("value", ["0", "many", "1025", "-1"])
def test_a_bad_processes_value_is_one_error_line_exit_2(tmp_path: Path, value: str) -> None:
    cfg = write_config(tmp_path, _mix((tmp_path / "store").as_uri() + "/"))
    proc = run_cli(["run", "-c", str(cfg), "--processes", value], tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "--processes" in errors[0], proc.stderr
    assert not (tmp_path / "store").exists()  # refused before anything ran
