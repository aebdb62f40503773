"""``sai3bench run`` end to end for issue 10 items 5 and 6: --duration/--concurrency/--target
override the YAML (and config.yaml records the effective values), bad values exit 2 in one
line, progress off a terminal is plain periodic lines on stderr (none with --quiet, never in
console_log.txt), the console always has an Errors line, results.json carries p99.9/p99.99."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sai3bench.cli.overrides import Overrides, apply_overrides
from sai3bench.config.load import load_config

from .conftest import run_cli_many
from .test_cli import assert_user_error

_YAML = """\
# a sweep's base config: the command line changes duration, concurrency and target
target: file://{root}/yaml-target/   # never used: --target wins
duration: 30s
concurrency: 16
prepare:
  ensure_objects:
    - base_uri: set/
      count: 50
      min_size: 1000
      max_size: 2000
  cleanup: true
workload:
  - op: get
    path: set/*
    weight: 3
  - op: stat
    path: set/*
    weight: 1
"""


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(_YAML.format(root=tmp_path))
    jobs = []
    for name, extra in (("live", []), ("quiet", ["--quiet"])):
        out = tmp_path / name
        out.mkdir()
        jobs.append(
            (
                [
                    "run",
                    "-c",
                    str(cfg),
                    "--results-dir",
                    str(out),
                    "--duration",
                    "6s",
                    "--concurrency",
                    "3",
                    "--target",
                    f"file://{tmp_path}/{name}-data/",
                    *extra,
                ],
                tmp_path,
            )
        )
    live, quiet = run_cli_many(jobs, timeout=120)
    for proc in (live, quiet):
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    (live_dir,) = (tmp_path / "live").glob("sai3-*")
    (quiet_dir,) = (tmp_path / "quiet").glob("sai3-*")
    _check_progress(live.stderr, quiet.stderr, live_dir, live.stdout)
    return live_dir, quiet_dir


def _check_progress(live_err: str, quiet_err: str, live_dir: Path, stdout: str) -> None:
    progress = [ln for ln in live_err.splitlines() if ln.startswith("workload [")]
    assert progress, live_err  # at 5 s of the 6 s workload
    assert "| GET " in progress[0] and "| STAT " in progress[0] and " p99 " in progress[0]
    assert "\r" not in live_err and "\x1b" not in live_err
    assert not [ln for ln in quiet_err.splitlines() if "workload [" in ln or "ops/s" in ln]
    log = (live_dir / "console_log.txt").read_text()
    assert "workload [" not in log and "| GET" not in log
    assert "\nErrors: 0\n" in stdout and "GET Performance:" in stdout
    assert "STAT Performance:" in stdout and "META-DATA" not in stdout


def test_overrides_progress_and_results(tmp_path: Path) -> None:
    live_dir, quiet_dir = _runs(tmp_path)
    for out_dir, name in ((live_dir, "live"), (quiet_dir, "quiet")):
        saved = (out_dir / "config.yaml").read_text()
        config = load_config(saved).config
        assert config.duration == 6.0 and config.concurrency == 3
        assert config.target == f"file://{tmp_path}/{name}-data/"
        assert saved.startswith("# effective values: the command line set --duration 6s")
        assert "# a sweep's base config" in saved  # the file's own comments are kept
    log = (live_dir / "console_log.txt").read_text()
    assert "Duration: 6s" in log and "Concurrency: 3 threads" in log
    data = json.loads((live_dir / "results.json").read_text())
    get = data["summary"]["workload"]["GET"]
    lat = get["latency_ns"]
    assert list(lat) == ["mean", "p50", "p90", "p99", "p99.9", "p99.99", "max"]
    assert lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["p99.99"] <= lat["max"]
    assert get["ops"] > 0 and get["errors"] == 0
    assert data["summary"]["prepare"]["PUT"]["ops"] == 50
    assert data["verdict"]["bound"] in ("client", "storage")


def test_bad_override_values_exit_2_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(_YAML.format(root=tmp_path))
    cases = [
        (["--duration", "abc"], "--duration"),
        (["--duration", "-5s"], "--duration"),
        (["--concurrency", "0"], "--concurrency"),
        (["--concurrency", "many"], "--concurrency"),
        (["--target", "nope://x/"], "--target"),
        (["--target", "s3://"], "--target"),
    ]
    jobs = [(["run", "-c", str(cfg), *args], tmp_path) for args, _ in cases]
    for proc, (args, flag) in zip(run_cli_many(jobs), cases, strict=True):
        line = assert_user_error(proc)
        assert flag in line, (args, line)
    assert not list(tmp_path.glob("sai3-*")), "a refused run made a results directory"


def test_a_config_without_the_keys_gets_them_added(tmp_path: Path) -> None:
    """A YAML with no duration/concurrency line: the override is added, still valid YAML."""
    text = (
        _YAML.format(root=tmp_path).replace("duration: 30s\n", "").replace("concurrency: 16\n", "")
    )
    cfg = tmp_path / "bare.yaml"
    cfg.write_text(text)
    (proc,) = run_cli_many(
        [(["run", "-c", str(cfg), "--dry-run", "--duration", "2m", "--concurrency", "5"], tmp_path)]
    )
    assert proc.returncode == 0, proc.stderr
    assert "\nDuration: 120s\nConcurrency: 5 threads\n" in proc.stdout, proc.stdout
    raw = yaml.safe_load(apply_overrides(text, Overrides(duration="2m", concurrency=5)))
    assert raw["duration"] == "2m" and raw["concurrency"] == 5


def test_every_engine_process_reports_its_vitals(tmp_path: Path) -> None:
    """--processes 2: the coordinator merges both children's vitals into the verdict."""
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(_YAML.format(root=tmp_path))
    args = ["run", "-c", str(cfg), "--results-dir", str(tmp_path), "--processes", "2"]
    args += ["--duration", "2s", "--concurrency", "4", "--target", f"file://{tmp_path}/d/", "-q"]
    (proc,) = run_cli_many([(args, tmp_path)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    (results,) = tmp_path.glob("sai3-*/results.json")
    verdict = json.loads(results.read_text())["verdict"]
    ev = verdict["evidence"]
    assert ev["processes"] == 2 and len(ev["cpu"]) == len(ev["cpu_wait"]) == 2
    assert ev["worker_threads"] == 4 and ev["lag_samples"] >= 2  # both processes sampled
    assert verdict["line"].startswith(f"{verdict['bound']}-bound: 2 engines at ")
    assert verdict["line"] in proc.stdout
