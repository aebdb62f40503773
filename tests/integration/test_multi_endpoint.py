"""multi_endpoint and S3_ENDPOINT_URIS: ops spread over endpoints that share one namespace,
with per-endpoint statistics. One mock server process listens on three ports (one store)."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import results_dir, run_cli, write_config
from .test_s3_mock import MockServer


@pytest.fixture
def three_ports() -> Iterator[tuple[MockServer, list[str]]]:
    cmd = [sys.executable, "-m", "sai3bench", "mock-server", "--port", "0", "--listeners", "3"]
    cmd += ["--bucket", "bkt"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        try:
            assert p.stdout is not None
            lines = [p.stdout.readline() for _ in range(3)]
            assert all("listening on http://127.0.0.1:" in line for line in lines), lines
            urls = [line.split()[-1] for line in lines]
            yield MockServer(p, urls[0]), urls
        finally:
            p.terminate()
            p.wait(timeout=10)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _config(**top: object) -> dict[str, object]:
    return {
        "duration": "1s",
        "concurrency": 6,
        "prepare": {
            "cleanup": True,
            "ensure_objects": [
                {"base_uri": "data/", "count": 60, "min_size": 1024, "max_size": 1024}
            ],
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 80},
            {"op": "put", "path": "new/", "object_size": 512, "weight": 20},
        ],
        **top,
    }


@pytest.mark.parametrize("strategy", ["round_robin", "least_connections"])
def test_s3_multi_endpoint_spreads_ops_and_writes_stats(
    tmp_path: Path, three_ports: tuple[MockServer, list[str]], strategy: str
) -> None:
    mock, urls = three_ports
    eps = [f"s3://{u.split('://')[1]}/bkt/run/" for u in urls]
    cfg = write_config(
        tmp_path,
        _config(multi_endpoint={"strategy": strategy, "endpoints": eps}),
        name="multi.yaml",
    )
    proc = run_cli(
        ["run", "--config", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=mock.env()
    )
    assert proc.returncode == 0, proc.stderr
    assert "Per-Endpoint Statistics:" in proc.stdout
    out = results_dir(tmp_path, "multi")
    prep = _rows(out / "prepare_endpoint_stats.tsv")
    assert [r["endpoint_uri"] for r in prep] == eps
    assert sum(int(r["bytes_written"]) for r in prep) == 60 * 1024
    work = _rows(out / "workload_endpoint_stats.tsv")
    reqs = [int(r["total_requests"]) for r in work]
    assert min(reqs) > 0 and all(r["error_count"] == "0" for r in work)
    if strategy == "round_robin":  # exact rotation: counts differ by at most one
        assert max(reqs) - min(reqs) <= 1, reqs
    assert abs(sum(float(r["request_pct"]) for r in work) - 100.0) < 0.05
    assert "Cleanup complete: deleted 60 objects" in proc.stdout


def test_s3_endpoint_uris_env(tmp_path: Path, three_ports: tuple[MockServer, list[str]]) -> None:
    mock, urls = three_ports
    cfg = write_config(tmp_path, _config(target="s3://bkt/env/"), name="envuris.yaml")
    env = {**mock.env(), "S3_ENDPOINT_URIS": ",".join(urls)}
    proc = run_cli(["run", "--config", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "S3_ENDPOINT_URIS: 3 endpoints, round_robin" in proc.stdout
    work = _rows(results_dir(tmp_path, "envuris") / "workload_endpoint_stats.tsv")
    assert [r["endpoint_uri"] for r in work] == [f"s3://{u.split('://')[1]}/bkt/env/" for u in urls]
    assert all(int(r["total_requests"]) > 0 for r in work)


def test_file_multi_endpoint_cleans_up_its_directories(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("ep1", "ep2"):
        (tmp_path / name).symlink_to(shared)  # two mounts of one namespace
    eps = [f"file://{tmp_path}/ep1/", f"file://{tmp_path}/ep2/"]
    cfg = write_config(tmp_path, _config(multi_endpoint={"endpoints": eps}), name="fmulti.yaml")
    proc = run_cli(["run", "--config", str(cfg), "--results-dir", str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    work = _rows(results_dir(tmp_path, "fmulti") / "workload_endpoint_stats.tsv")
    assert all(int(r["total_requests"]) > 0 for r in work)
    assert sorted(p.name for p in shared.iterdir()) == ["new"]  # workload PUTs are kept


@pytest.mark.parametrize(
    ("multi", "message"),
    [
        ({"endpoints": []}, "multi_endpoint.endpoints: has 0 entries"),
        ({"endpoints": ["file:///a/", "s3://b/"]}, "mixes schemes (file, s3)"),
        ({"strategy": "random", "endpoints": ["file:///a/"]}, "strategy"),
        ({"endpoint": ["file:///a/"]}, "did you mean 'endpoints'"),
    ],
)
def test_bad_multi_endpoint_is_one_line(tmp_path: Path, multi: object, message: str) -> None:
    cfg = write_config(tmp_path, _config(multi_endpoint=multi))
    proc = run_cli(["run", "--config", str(cfg), "--dry-run"], tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr
