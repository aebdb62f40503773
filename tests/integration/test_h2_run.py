"""``sai3bench run --http2`` end to end on gs:// and az://: nginx speaks HTTP/2 (h2c, or TLS
with ALPN and a CA made here) and proxies HTTP/1.1 to the bundled mock server.

prepare -> a GET/STAT/PUT/LIST/DELETE workload -> cleanup, with zero errors, nothing prepared
left behind, and every request carried by HTTP/2: nginx's ``keepalive_requests 100`` ends each
connection with a graceful GOAWAY every 100 streams, so the run crosses dozens of them (the
drain-and-resend path, on a real server, counted as retries, never as errors).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.signers.azure import DEV_ACCOUNT, DEV_KEY

from .conftest import metadata, mixed_config, results_dir, run_cli, write_config
from .h2nginx import Nginx, run_nginx
from .test_s3_mock import MockServer, _start
from .tlscerts import CertFiles, make_certs

pytestmark = pytest.mark.integration

PREPARED = 300
KEEPALIVE = 100


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    """One mock for the module: bucket ``bkt`` (gs://) is also container ``bkt`` (az://)."""
    yield from _start("--bucket", "bkt", "--azure-key", f"{DEV_ACCOUNT}:{DEV_KEY}")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module", params=["h2c", "tls"])
def front(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    mock: MockServer,
    certs: CertFiles,
) -> Iterator[Nginx]:
    """nginx (HTTP/2 only towards us) in front of the mock."""
    upstream = int(mock.url.rsplit(":", 1)[1])
    with run_nginx(
        tmp_path_factory.mktemp(f"front-{request.param}"),
        certs=certs if request.param == "tls" else None,
        upstream=upstream,
        keepalive=KEEPALIVE,
    ) as server:
        yield server


def gs_env(url: str, certs: CertFiles | None = None) -> dict[str, str]:
    """gs:// at an emulator (anonymous: no token); SSL_CERT_FILE trusts our CA over TLS."""
    env = {"STORAGE_EMULATOR_HOST": url, "GOOGLE_CLOUD_PROJECT": "bench"}
    if certs is not None:
        env["SSL_CERT_FILE"] = str(certs.ca)
    return env


def az_env(url: str, certs: CertFiles | None = None) -> dict[str, str]:
    env = {
        "AZURE_STORAGE_ACCOUNT": DEV_ACCOUNT,
        "AZURE_STORAGE_KEY": DEV_KEY,
        "AZURE_STORAGE_ENDPOINT": url,
    }
    if certs is not None:
        env["SSL_CERT_FILE"] = str(certs.ca)
    return env


def h2_config(target: str, duration: str = "2s", concurrency: int = 32) -> dict[str, Any]:
    """conftest's mixed_config (``PREPARED`` objects of 1-4 KiB under data/, GET, STAT, PUT,
    LIST, cleanup) for ``duration``, plus DELETE: every op kind over HTTP/2."""
    config = mixed_config(target, concurrency, PREPARED)
    config["duration"] = duration
    config["workload"].append({"op": "delete", "path": "data/*", "weight": 5})
    return config


def s3_env(url: str, certs: CertFiles | None = None) -> dict[str, str]:
    """s3:// at ``url`` (the mock checks no signature: nginx rewrites Host); AWS_CA_BUNDLE
    trusts our CA over TLS."""
    env = MockServer(None, url).env()  # type: ignore[arg-type]
    if certs is not None:
        env["AWS_CA_BUNDLE"] = str(certs.ca)
    return env


ENVS = {"gs": gs_env, "az": az_env, "s3": s3_env}


def _target(scheme: str, name: str) -> str:
    return {
        "gs": f"gs://bkt/{name}/",
        "az": f"az://{DEV_ACCOUNT}/bkt/{name}/",
        "s3": f"s3://bkt/{name}/",
    }[scheme]


def _listed(uri: str, scheme: str, mock: MockServer, cwd: Path) -> int:
    """Objects under ``uri``, listed by ``util list`` from the mock itself (no nginx)."""
    env = ENVS[scheme](mock.url)
    proc = run_cli(["util", "list", uri], cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1].split()[-1].replace(",", ""))


def _summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "results.json").read_text())["summary"]["workload"]
    return data


@pytest.mark.parametrize("scheme", ["gs", "az", "s3"])
def test_full_run_over_http2(
    tmp_path: Path, mock: MockServer, front: Nginx, certs: CertFiles, scheme: str
) -> None:
    _full_run(tmp_path, mock, front, certs, scheme)


def test_full_run_over_http2_in_two_engine_processes(
    tmp_path: Path, mock: MockServer, front: Nginx, certs: CertFiles
) -> None:
    """--http2 travels to the engine processes: each has its own pool of HTTP/2 connections."""
    _full_run(tmp_path, mock, front, certs, "gs", "--processes", "2")


def _full_run(
    tmp_path: Path, mock: MockServer, front: Nginx, certs: CertFiles, scheme: str, *extra: str
) -> None:
    name = f"{scheme}{'tls' if front.tls else 'h2c'}{len(extra)}"
    target = _target(scheme, name)
    env = ENVS[scheme](front.url, certs if front.tls else None)
    cfg = write_config(tmp_path, h2_config(target), name=f"{name}.yaml")
    args = ["run", "--http2", *extra, "-c", str(cfg), "--results-dir", str(tmp_path)]
    proc = run_cli(args, tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    out = results_dir(tmp_path, name)
    stages = metadata(out)["stages"]
    assert stages["prepare"]["objects_created"] == 2 * PREPARED  # prepared- and deletable-
    assert stages["prepare"]["errors"] == 0, proc.stdout[-3000:]
    assert stages["workload"]["errors"] == 0, proc.stdout[-3000:]
    # nginx's GOAWAYs may leave streams unprocessed: those are retries after CONNECTION, and
    # nothing else is retried.
    for kind, after in stages["workload"]["retried_after"].items():
        assert set(after) <= {"CONNECTION"}, (kind, after)
    summary = _summary(out)
    assert {"GET", "STAT", "PUT", "LIST", "DELETE"} <= set(summary), summary
    # Nothing prepared is left (ops finished after the deadline are not in the counts, so
    # these are read from the store, straight from the mock over HTTP/1.1).
    assert _listed(f"{target}data/", scheme, mock, tmp_path) == 0
    assert _listed(f"{target}new/", scheme, mock, tmp_path) >= summary["PUT"]["ops"]
    # More requests than one connection may carry went through: nginx's graceful GOAWAYs
    # (every KEEPALIVE streams) were crossed without an error.
    assert sum(v["ops"] for v in summary.values()) > 2 * KEEPALIVE


def test_tls_server_without_h2_stops_the_run_at_once(
    tmp_path: Path, mock: MockServer, certs: CertFiles
) -> None:
    """--http2 against a TLS server whose ALPN offers only http/1.1: the same answer every
    time, so one error line at once (it was retried 8 times, ~17 s, first)."""
    upstream = int(mock.url.rsplit(":", 1)[1])
    (tmp_path / "front").mkdir()
    with run_nginx(tmp_path / "front", certs=certs, upstream=upstream, h2=False) as server:
        cfg = write_config(tmp_path, h2_config("gs://bkt/noh2/"), name="noh2.yaml")
        args = ["run", "--http2", "-c", str(cfg), "--results-dir", str(tmp_path)]
        proc = run_cli(args, tmp_path, env=gs_env(server.url, certs), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("did not negotiate h2") == 1, proc.stderr  # no retry warnings
    assert "error:" in proc.stderr and "--http2" in proc.stderr  # the hint names the fix
