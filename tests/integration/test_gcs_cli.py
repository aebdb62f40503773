"""gs:// through the whole CLI: prepare -> workload -> cleanup, against the bundled mock server
(GCS dialect, 32 in flight) and against gcp-storage-emulator (a third party; 4 in flight)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvloop

from sai3bench.backends.gcs import gcs_backend_from_env

from .conftest import metadata, mixed_config, results_dir, run_cli, write_config
from .test_gcs_emulator import emulator  # noqa: F401 - the fixture
from .test_s3_mock import MockServer, _start


@pytest.fixture
def gcs_mock() -> Any:
    yield from _start("--bucket", "bkt")


def _env(host: str) -> dict[str, str]:
    return {"STORAGE_EMULATOR_HOST": host, "GOOGLE_CLOUD_PROJECT": "bench"}


def _check(proc: Any, tmp_path: Path, name: str, count: int) -> None:
    assert proc.returncode == 0, proc.stderr
    meta = metadata(results_dir(tmp_path, name))
    stages = meta["stages"]
    assert stages["prepare"]["objects_created"] == count
    assert stages["workload"]["ops"] > 0 and stages["workload"]["errors"] == 0
    assert stages["cleanup"]["objects_deleted"] == count


def test_gs_full_run_against_the_mock(tmp_path: Path, gcs_mock: MockServer) -> None:
    cfg = write_config(tmp_path, mixed_config("gs://bkt/run/", 32, 200), name="gsmock.yaml")
    proc = run_cli(
        ["run", "--config", str(cfg), "--results-dir", str(tmp_path)],
        tmp_path,
        env=_env(gcs_mock.url),
    )
    _check(proc, tmp_path, "gsmock", 200)
    again = run_cli(  # nothing prepare made is left: a second listing finds none of it
        ["util", "list", "gs://bkt/run/data/"], tmp_path, env=_env(gcs_mock.url)
    )
    assert again.stdout.strip().endswith("Total objects: 0"), again.stdout


def test_gs_full_run_against_gcp_storage_emulator(
    tmp_path: Path,
    emulator: str,  # noqa: F811
) -> None:
    os.environ.update(_env(emulator))  # for the in-process bucket creation below
    try:

        async def make_bucket() -> None:
            b = gcs_backend_from_env("emu-bkt", max_connections=1)
            try:
                await b.create_bucket()
            finally:
                await b.close()

        uvloop.run(make_bucket())
    finally:
        for k in _env(emulator):
            os.environ.pop(k, None)
    cfg = write_config(tmp_path, mixed_config("gs://emu-bkt/run/", 4, 20), name="gsemu.yaml")
    proc = run_cli(
        ["run", "--config", str(cfg), "--results-dir", str(tmp_path)],
        tmp_path,
        env=_env(emulator),
        timeout=120,
    )
    _check(proc, tmp_path, "gsemu", 20)


def test_gs_missing_bucket_is_one_line(tmp_path: Path, gcs_mock: MockServer) -> None:
    cfg = write_config(tmp_path, mixed_config("gs://nobucket/run/", 4, 5), name="gsnob.yaml")
    proc = run_cli(["run", "--config", str(cfg)], tmp_path, env=_env(gcs_mock.url))
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("error:") == 1 and "bucket" in proc.stderr.lower(), proc.stderr


def test_gs_without_credentials_names_the_fix(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, mixed_config("gs://bkt/run/", 4, 5), name="gsnocred.yaml")
    env = {
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json"),
        "GCE_METADATA_HOST": "127.0.0.1:9",  # no metadata server: never leave loopback
        "GCE_METADATA_IP": "127.0.0.1:9",
        "NO_GCE_CHECK": "True",
    }
    proc = run_cli(["run", "--config", str(cfg)], tmp_path, env=env)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr
    assert "GOOGLE_APPLICATION_CREDENTIALS" in proc.stderr or "gcloud" in proc.stderr
