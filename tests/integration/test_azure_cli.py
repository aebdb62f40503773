"""az:// through the whole CLI: prepare -> workload -> cleanup against Azurite (Shared Key really
checked) and the bundled mock server's Azure dialect at 32 in flight; a wrong key stops the run
at once with one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from sai3bench.backends.azure import azure_backend_from_env
from sai3bench.signers.azure import DEV_ACCOUNT, DEV_KEY

from .conftest import metadata, mixed_config, results_dir, run_cli, write_config
from .test_azure_azurite import WRONG_KEY, azurite  # noqa: F401 - the fixture


def _env(url: str, key: str = DEV_KEY) -> dict[str, str]:
    return {
        "AZURE_STORAGE_ACCOUNT": DEV_ACCOUNT,
        "AZURE_STORAGE_KEY": key,
        "AZURE_STORAGE_ENDPOINT": url,
    }


def _make_container(url: str, container: str) -> None:
    async def go() -> None:
        b = azure_backend_from_env(DEV_ACCOUNT, container, max_connections=1, env=_env(url))
        try:
            await b.create_container()
        finally:
            await b.close()

    uvloop.run(go())


def _check(proc: Any, tmp_path: Path, name: str, count: int) -> None:
    assert proc.returncode == 0, proc.stderr
    stages = metadata(results_dir(tmp_path, name))["stages"]
    assert stages["prepare"]["objects_created"] == count
    assert stages["workload"]["ops"] > 0 and stages["workload"]["errors"] == 0
    assert stages["cleanup"]["objects_deleted"] == count


@pytest.fixture
def az_mock() -> Iterator[str]:
    """The bundled mock server with Shared Key checking on; container ``cont`` exists."""
    cmd = [sys.executable, "-m", "sai3bench", "mock-server", "--port", "0", "--bucket", "cont"]
    cmd += ["--azure-key", f"{DEV_ACCOUNT}:{DEV_KEY}"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        try:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert "listening on http://127.0.0.1:" in line, line
            yield line.split()[-1]
        finally:
            p.terminate()
            p.wait(timeout=10)


def test_az_full_run_against_azurite(tmp_path: Path, azurite: str) -> None:  # noqa: F811
    _make_container(azurite, "clirun")
    cfg = write_config(tmp_path, mixed_config(f"az://{DEV_ACCOUNT}/clirun/run/", 8, 40), "azu.yaml")
    proc = run_cli(
        ["run", "--config", str(cfg), "--results-dir", str(tmp_path)],
        tmp_path,
        env=_env(azurite),
        timeout=120,
    )
    _check(proc, tmp_path, "azu", 40)


def test_az_wrong_key_fails_fast_with_one_line(tmp_path: Path, azurite: str) -> None:  # noqa: F811
    _make_container(azurite, "denied")
    cfg = write_config(
        tmp_path, mixed_config(f"az://{DEV_ACCOUNT}/denied/run/", 8, 40), "azbad.yaml"
    )
    proc = run_cli(["run", "--config", str(cfg)], tmp_path, env=_env(azurite, WRONG_KEY))
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1
    assert "authenticat" in proc.stderr.lower(), proc.stderr


def test_az_full_run_against_the_mock_with_shared_key(tmp_path: Path, az_mock: str) -> None:
    cfg = write_config(tmp_path, mixed_config(f"az://{DEV_ACCOUNT}/cont/run/", 32, 200), "azm.yaml")
    proc = run_cli(
        ["run", "--config", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=_env(az_mock)
    )
    _check(proc, tmp_path, "azm", 200)
    bad = run_cli(
        ["util", "list", f"az://{DEV_ACCOUNT}/cont/"], tmp_path, env=_env(az_mock, WRONG_KEY)
    )
    assert bad.returncode == 2 and "authenticat" in bad.stderr.lower(), bad.stderr


def test_az_missing_credentials_names_the_variables(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, mixed_config(f"az://{DEV_ACCOUNT}/cont/run/", 4, 5), "aznocred.yaml"
    )
    proc = run_cli(["run", "--config", str(cfg)], tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr and "AZURE_STORAGE" in proc.stderr, proc.stderr
