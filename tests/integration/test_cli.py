"""``sai3bench`` as users run it: a subprocess, exit codes, stderr lines, the results directory.

Short commands run several at a time (``run_cli_many``): interpreter start-up dominates them.
"""

from __future__ import annotations

import json
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sai3bench.config.load import load_config_file
from tests.integration.conftest import (
    RESULTS_DIR_RE,
    TSV_HEADER,
    immutable_dir,
    metadata,
    results_dir,
    run_cli,
    run_cli_many,
    tsv_rows,
    write_config,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (REPO / "configs").glob("*.y*ml") if p.is_file())


def base_config(data: Path, count: int = 50, **prepare: Any) -> dict[str, Any]:
    return {
        "target": f"file://{data}/",
        "duration": "1s",
        "concurrency": 4,
        "prepare": {
            "ensure_objects": [
                {"base_uri": "set/", "count": count, "min_size": 1000, "max_size": 20000}
            ],
            "cleanup": True,
            **prepare,
        },
        "workload": [{"op": "get", "path": "set/*", "weight": 1}],
    }


def assert_user_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """Exit ``code``, an ``error:`` line then a ``hint:`` line on stderr, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert lines[1].startswith("hint: "), proc.stderr
    return lines[0]


def check_tsv(path: Path, op: str, all_idx: int, total: int | None = None) -> None:
    header, rows = tsv_rows(path)
    assert header == TSV_HEADER
    assert rows, path
    assert all(len(r) == 13 for r in rows)
    assert {r[0] for r in rows} == {op}
    idx = [int(r[2]) for r in rows]
    assert idx == sorted(idx)
    *buckets, last = rows
    assert buckets, "at least one size-bucket row"
    assert (last[1], last[2]) == ("ALL", str(all_idx))
    assert all(r[1] != "ALL" and int(r[2]) < 9 for r in buckets)
    counts = [int(r[12]) for r in buckets]
    assert int(last[12]) == sum(counts)
    if total is not None:
        assert sum(counts) == total
    for r in rows:
        assert re.fullmatch(r"\d+\.\d\d", r[3]), r  # mean_us %.2f
        assert float(r[3]) > 0


def test_full_run_results_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cfg = write_config(tmp_path, base_config(data, count=100))
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(tmp_path), "--seed", "7"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = results_dir(tmp_path, "bench")
    assert RESULTS_DIR_RE.fullmatch(out.name)
    assert {p.name for p in out.iterdir()} >= {
        "config.yaml",
        "console_log.txt",
        "metadata.json",
        "workload_results.tsv",
        "prepare_results.tsv",
        "results.json",
    }
    assert (out / "config.yaml").read_text() == cfg.read_text()
    log = (out / "console_log.txt").read_text()
    for phase in ("Prepare", "Test", "Cleanup"):
        assert f"=== {phase} Phase ===" in log
    meta = metadata(out)
    assert meta["test_name"] == "bench"
    assert meta["seed"] == 7
    stages = meta["stages"]
    assert stages["prepare"]["objects_created"] == 100
    assert stages["workload"]["errors"] == 0
    assert stages["workload"]["ops"] > 0
    assert stages["cleanup"]["objects_deleted"] == 100
    check_tsv(out / "workload_results.tsv", "GET", 98, stages["workload"]["ops"])
    check_tsv(out / "prepare_results.tsv", "PUT", 99, 100)
    res = json.loads((out / "results.json").read_text())
    assert (res["format"], res["version"]) == ("sai3bench-results", 1)
    assert set(res["stages"]) == {"prepare", "workload", "cleanup"}
    assert not data.exists()  # objects and the directories prepare made are gone


def test_verify_passes_then_fails_after_a_loss(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cfg = str(write_config(tmp_path, base_config(data, count=50)))
    common = ["--results-dir", str(tmp_path)]
    prep = run_cli(["run", "-c", cfg, "--prepare-only", *common], tmp_path)
    assert prep.returncode == 0, prep.stderr
    ok = run_cli(["run", "-c", cfg, "--verify", *common], tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Verified 50 objects" in ok.stdout
    (data / "set" / "prepared-00000042.dat").unlink()
    bad = run_cli(["run", "-c", cfg, "--verify", *common], tmp_path)
    line = assert_user_error(bad, code=1)
    assert "49 of 50" in line


ERROR_CASES = {
    "unknown_key": (
        "duration: 1s\nconcurrancy: 4\ntarget: file:///{d}/\n"
        "workload:\n  - {{op: get, path: 'x/*', weight: 1}}\n",
        ["concurrancy", "did you mean 'concurrency'"],
    ),
    "unknown_op_key": (
        "duration: 1s\ntarget: file:///{d}/\nworkload:\n  - {{op: get, path: 'x/*', wieght: 1}}\n",
        ["workload[0].wieght", "did you mean 'weight'"],
    ),
    "bad_size": (
        "duration: 1s\ntarget: file:///{d}/\n"
        "workload:\n  - {{op: put, path: 'x/', object_size: '12 parsecs', weight: 1}}\n",
        ["workload[0].object_size", "12 parsecs"],
    ),
    "glob_matches_nothing": (
        "duration: 1s\ntarget: file:///{d}/\nworkload:\n  - {{op: get, path: 'x/*', weight: 1}}\n",
        ["no objects match", "x/*"],
    ),
    "gs_no_credentials": (
        "duration: 1s\ntarget: gs://bucket/pre/\n"
        "workload:\n  - {{op: get, path: 'x/*', weight: 1}}\n",
        ["no Google credentials found", "GOOGLE_APPLICATION_CREDENTIALS"],
    ),
}


def test_user_errors_exit_2_with_error_and_hint(tmp_path: Path) -> None:
    d = str(tmp_path / "data").lstrip("/")
    jobs: list[tuple[list[str], Path]] = []
    for name, (text, _) in ERROR_CASES.items():
        cfg = write_config(tmp_path, text.format(d=d), f"{name}.yaml")
        jobs.append((["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path))
    ok_cfg = str(write_config(tmp_path, base_config(tmp_path / "data")))
    jobs.append((["run", "-c", str(tmp_path / "nope.yaml")], tmp_path))
    jobs.append((["run", "-c", ok_cfg, "--prepare-only", "--verify"], tmp_path))
    jobs.append((["run", "-c", ok_cfg, "--cleanup-only", "--no-cleanup"], tmp_path))
    procs = run_cli_many(jobs)
    for (name, (_, needles)), proc in zip(ERROR_CASES.items(), procs, strict=False):
        line = assert_user_error(proc)
        for needle in needles:
            assert needle in line or needle in proc.stderr, (name, proc.stderr)
    missing, conflict, conflict2 = procs[len(ERROR_CASES) :]
    assert "nope.yaml" in assert_user_error(missing)
    assert "--prepare-only and --verify" in assert_user_error(conflict)
    assert "--cleanup-only and --no-cleanup" in assert_user_error(conflict2)
    assert not (tmp_path / "data").exists()  # nothing touched storage


def test_unwritable_base_uri_is_a_user_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cfg = str(write_config(tmp_path, base_config(data)))
    with immutable_dir(data):
        proc = run_cli(["run", "-c", cfg, "--results-dir", str(tmp_path)], tmp_path)
    line = assert_user_error(proc)
    assert "prepare failed writing" in line
    assert "writable" in proc.stderr
    assert list(data.iterdir()) == []


def local_paths(config_file: Path) -> list[Path]:
    """Every local directory a config would write to or read from."""
    config = load_config_file(config_file).config
    uris = [config.target or ""]
    if config.prepare is not None:
        uris += [e.base_uri for e in config.prepare.ensure_objects]
    uris += [op.path for op in config.workload]
    out = []
    for uri in uris:
        if uri.startswith(("file://", "direct://")):
            path = uri.split("://", 1)[1].split("*", 1)[0]
            out.append(Path(path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"))
    return sorted(set(out))


def listing(path: Path) -> list[str] | None:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else None


def test_dry_run_every_shipped_config_touches_nothing(tmp_path: Path) -> None:
    assert len(CONFIGS) >= 2, "configs/ should ship several examples"
    paths = {cfg: local_paths(cfg) for cfg in CONFIGS}
    before = {p: listing(p) for ps in paths.values() for p in ps}
    procs = run_cli_many(
        [
            (["run", "-c", str(cfg), "--dry-run", "--results-dir", str(tmp_path)], tmp_path)
            for cfg in CONFIGS
        ]
    )
    for cfg, proc in zip(CONFIGS, procs, strict=True):
        assert proc.returncode == 0, (cfg.name, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert "Dry run" in proc.stdout, cfg.name
        for p in paths[cfg]:
            assert listing(p) == before[p], (cfg.name, p)
    assert list(tmp_path.iterdir()) == []  # no results directory either


def test_util_round_trip(tmp_path: Path) -> None:
    u = f"file://{tmp_path}/u"

    def util(*args: str) -> subprocess.CompletedProcess[str]:
        proc = run_cli(["util", *args], tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        return proc

    def listed(proc: subprocess.CompletedProcess[str]) -> list[str]:
        *uris, total = proc.stdout.splitlines()
        assert total == f"Total objects: {len(uris)}"
        return uris

    puts = run_cli_many(
        [
            (
                ["util", "put", f"{u}/a/prepared-*.dat", "--objects", "3", "--object-size", "100"],
                tmp_path,
            ),
            (["util", "put", f"{u}/b/", "--objects", "2", "--object-size", "50"], tmp_path),
            (["util", "put", f"{u}/one.bin", "--object-size", "7"], tmp_path),
        ]
    )
    assert [p.returncode for p in puts] == [0, 0, 0], [p.stderr for p in puts]
    assert "Uploaded 3 objects" in puts[0].stdout
    a = [f"{u}/a/prepared-{i:06}.dat" for i in range(3)]
    b = [f"{u}/b/obj_{i:06}.dat" for i in range(2)]
    assert all(
        (tmp_path / "u" / "a" / f"prepared-{i:06}.dat").stat().st_size == 100 for i in range(3)
    )

    lists = run_cli_many(
        [
            (["util", "list", f"{u}/"], tmp_path),
            (["util", "list", f"{u}/a/prepared-*"], tmp_path),
            (["util", "list", f"{u}/a/pre"], tmp_path),
            (["util", "list", f"{u}/*/obj_*"], tmp_path),
            (["util", "stat", f"{u}/one.bin"], tmp_path),
            (["util", "get", f"{u}/a/*"], tmp_path),
            (["util", "get", f"{u}/b/"], tmp_path),
            (["util", "list", f"{u}/nothing/"], tmp_path),
            (["util", "get", f"{u}/a/prepared-000001.dat", "--range", "10-19"], tmp_path),
        ]
    )
    assert all(p.returncode == 0 for p in lists), [p.stderr for p in lists]
    assert listed(lists[0]) == sorted([*a, *b, f"{u}/one.bin"])
    assert listed(lists[1]) == a
    assert listed(lists[2]) == a
    assert listed(lists[3]) == b
    assert "Size : 7 bytes" in lists[4].stdout
    assert "Downloaded 300 B from 3 objects" in lists[5].stdout
    assert "Downloaded 100 B from 2 objects" in lists[6].stdout
    assert listed(lists[7]) == []
    assert "Downloaded 10 B (bytes 10-19)" in lists[8].stdout

    dels = run_cli_many(
        [
            (["util", "delete", f"{u}/a/prepared-*"], tmp_path),
            (["util", "delete", f"{u}/b/"], tmp_path),
        ]
    )
    assert "Deleted 3 objects" in dels[0].stdout, dels[0].stderr
    assert "Deleted 2 objects" in dels[1].stdout, dels[1].stderr
    assert listed(util("list", f"{u}/")) == [f"{u}/one.bin"]
    assert "Deleted 1 objects" in util("delete", f"{u}/one.bin").stdout
    assert not (tmp_path / "u" / "one.bin").exists()


def test_util_missing_objects(tmp_path: Path) -> None:
    u = f"file://{tmp_path}"
    stat, glob = run_cli_many(
        [
            (["util", "stat", f"{u}/missing"], tmp_path),
            (["util", "get", f"{u}/zz/*"], tmp_path),
        ]
    )
    assert "missing" in assert_user_error(stat)
    assert "no objects match" in assert_user_error(glob)
    bad = run_cli(["util", "get", f"{u}/x", "--range", "9-1"], tmp_path)
    assert "bad --range '9-1'" in assert_user_error(bad)


@pytest.mark.parametrize("verb", ["get", "delete"])
def test_util_get_delete_missing_exit_2(tmp_path: Path, verb: str) -> None:
    proc = run_cli(["util", verb, f"file://{tmp_path}/missing"], tmp_path)
    assert "missing" in assert_user_error(proc)


def test_quickstart_without_config_leaves_no_temp_dir(tmp_path: Path) -> None:
    """The embedded quickstart: a 10 s run, so just this one test runs it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_cli(
        ["run", "--results-dir", str(tmp_path), "--seed", "3"], tmp_path, env={"TMPDIR": str(tmp)}
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    meta = metadata(results_dir(tmp_path, "quickstart"))
    stages = meta["stages"]
    assert stages["workload"]["errors"] == 0
    assert stages["cleanup"]["errors"] == 0
    assert stages["cleanup"]["already_deleted"] == 0  # late DELETEs are not deleted twice
    assert list(tmp.iterdir()) == []


def test_insecure_flag_warns_loudly(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"duration: 200ms\nconcurrency: 1\ntarget: file://{tmp_path}/d/\n"
        "workload:\n  - {op: put, path: 'x/', object_size: 10, weight: 1}\n"
    )
    proc = run_cli(["run", "-c", str(cfg), "--insecure", "--results-dir", str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: --insecure: TLS certificates are NOT checked" in proc.stderr


def test_seed_beyond_64_bits_is_refused_at_once(tmp_path: Path) -> None:
    """It used to run the whole benchmark, then fail writing metadata.json (TypeError)."""
    cfg = write_config(tmp_path, base_config(tmp_path / "data"))
    args = ["run", "-c", str(cfg), "--results-dir", str(tmp_path), "--seed"]
    big, negative = run_cli_many(
        [([*args, "99999999999999999999999"], tmp_path), ([*args, "-1"], tmp_path)]
    )
    for proc in (big, negative):
        assert "--seed" in assert_user_error(proc)
        assert not list(tmp_path.glob("sai3-*")) and not (tmp_path / "data").exists()


def test_top_level_help_names_every_scheme(tmp_path: Path) -> None:
    proc = run_cli(["--help"], tmp_path)
    assert proc.returncode == 0
    assert "to come" not in proc.stdout
    assert all(s in proc.stdout for s in ("file://", "s3://", "gs://", "az://"))


def _run_with_full_file(cfg: Path, root: Path, file: str) -> subprocess.CompletedProcess[str]:
    """Run ``cfg``; as soon as its results directory appears, its ``file`` becomes a symlink to
    /dev/full: every write there fails with ENOSPC, as on a full disk. (The run makes a new
    directory of its own, so it cannot be made in advance.)"""
    args = [sys.executable, "-m", "sai3bench", "run", "-c", str(cfg), "--results-dir", str(root)]
    with subprocess.Popen(
        args, cwd=cfg.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 60
        while not (made := list(root.glob("sai3-*"))) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert made, "the run made no results directory"
        (made[0] / file).symlink_to("/dev/full")
        out, err = proc.communicate(timeout=90)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_results_on_a_full_disk_are_printed_then_one_line_exit_1(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, base_config(tmp_path / "data"), "full.yaml")
    proc = _run_with_full_file(cfg, tmp_path / "r", "metadata.json")
    line = assert_user_error(proc, code=1)
    assert re.fullmatch(
        r"error: results not saved: cannot write \S+/metadata\.json: No space left on "
        r"device \(ENOSPC\)",
        line,
    ), line
    assert "GET Performance" in proc.stdout  # the results were printed all the same
    assert "Cleanup complete" in proc.stdout


def _no_file_growth() -> None:
    """In the child: a file size limit of 0 and SIGXFSZ ignored, so the first byte written to
    any file fails with EFBIG, as the first write to a full disk fails with ENOSPC."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_a_failed_first_write_refuses_the_run_before_it_touches_anything(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, base_config(tmp_path / "data"), "full.yaml")
    args = [sys.executable, "-m", "sai3bench", "run", "-c", str(cfg), "--results-dir", "r"]
    proc = subprocess.run(
        args,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        preexec_fn=_no_file_growth,
        check=False,
    )
    assert "config.yaml: File too large (EFBIG)" in assert_user_error(proc)
    assert not (tmp_path / "data").exists()


def test_a_workload_in_which_nothing_finished_in_time_fails(tmp_path: Path) -> None:
    """Every op answered after the 0.3 s deadline (the mock waits 1.5 s): 0 ops, all late.
    That is no result: exit 1 with one line, not exit 0."""
    from tests.integration.test_s3_mock import _start

    cfg = {
        "target": "s3://bench/late/",
        "duration": "0.3s",
        "concurrency": 2,
        "workload": [{"op": "put", "path": "new/", "object_size": 10, "weight": 1}],
    }
    path = write_config(tmp_path, cfg)
    for mock in _start("--bucket", "bench", "--latency", "1500ms"):
        proc = run_cli(
            ["run", "-c", str(path), "--results-dir", str(tmp_path)], tmp_path, env=mock.env()
        )
    line = assert_user_error(proc, code=1)
    assert "no op completed within the 0.3s duration (2 finished after it)" in line, line
