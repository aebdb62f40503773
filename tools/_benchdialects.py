"""tools/bench_http.py's dialect rows: s3://, gs:// and az:// through the same engine against
the bundled mock server (sink mode), so client CPU per op can be compared across the three.

The mock is started once (one process, ``--sink``: it keeps sizes only and serves generated
bytes). Each dialect's 1,000 objects are made by a sai3bench prepare run through that dialect;
then each measured run is ``--skip-prepare`` with ``skip_verification`` (no LIST), exactly as
the nginx rows. CPU per op is the run's CPU minus a 0.2 s run's, over the extra ops; the mock's
(server) CPU per op is its /proc CPU time over the timed run / that run's ops.
"""

from __future__ import annotations

import base64
import functools
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from _benchutil import tree_cpu

#: The well-known Azurite development key: the mock does not check it, the client still signs.
AZ_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZ_ACCOUNT = "devstoreaccount1"


def dialects(url: str) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (root URI of the bench objects, environment for sai3bench)."""
    assert base64.b64decode(AZ_KEY)
    return {
        "s3": (
            "s3://bucket/bench/",
            {
                "AWS_ENDPOINT_URL": url,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench-secret",
                "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
            },
        ),
        "gs": ("gs://bucket/bench/", {"STORAGE_EMULATOR_HOST": url}),
        "az": (
            f"az://{AZ_ACCOUNT}/bucket/bench/",
            {
                "AZURE_STORAGE_ACCOUNT": AZ_ACCOUNT,
                "AZURE_STORAGE_KEY": AZ_KEY,
                "AZURE_STORAGE_ENDPOINT": url,
            },
        ),
    }


@contextmanager
def mock_process(repo: Path, *extra: str) -> Iterator[tuple[str, int]]:
    """``mock-server --sink --bucket bucket`` plus ``extra`` flags (e.g. ``--latency 2ms``);
    yields (URL, PID): tools/bench_scale.py reads the server's CPU time by its PID."""
    cmd = [sys.executable, "-m", "sai3bench", "mock-server", "--port", "0", "--sink"]
    cmd += ["--bucket", "bucket", *extra]
    proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on http://" not in line:
            raise RuntimeError(f"mock server did not start: {line!r}")
        yield line.split()[-1], proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def prepare_objects(
    repo: Path, work: Path, root: str, env: dict[str, str], prefix: str, size: int, n: int
) -> None:
    """Make ``n`` objects of ``size`` bytes under ``root + prefix + data/`` through sai3bench."""
    cfg = {
        "target": root + prefix,
        "duration": "1s",
        "concurrency": 32,
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": n, "size_spec": size}],
        },
        "workload": [{"op": "get", "path": "data/*", "weight": 1}],
    }
    path = work / f"prep-{abs(hash(root + prefix))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "sai3bench", "run", "-c", str(path), "--prepare-only"]
    cmd += ["--results-dir", str(work)]
    r = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"prepare through {root} failed: {r.stderr.strip()[-300:]}")


def run_dialects(
    repo: Path,
    work: Path,
    loads: list[Any],
    reps: int,
    make_runner: Callable[[str, dict[str, str], Callable[[], float]], Any],
    sample: Callable[[Any, Any], Any],
    base_env: dict[str, str],
) -> dict[str, dict[str, list[Any]]]:
    """{load key: {dialect: [Sample | failure text per rep]}}, dialects rotated per rep."""
    out: dict[str, dict[str, list[Any]]] = {}
    with mock_process(repo) as (url, pid):
        table = dialects(url)
        runners = {}
        server = functools.partial(tree_cpu, pid)  # the mock's CPU seconds so far
        for name, (root, env) in table.items():
            full = {**base_env, **env}
            runners[name] = make_runner(root, full, server)
            for ld in loads:
                if ld.op == "get":
                    prepare_objects(repo, work, root, full, ld.prefix, ld.size, 1000)
        for ld in loads:
            res: dict[str, list[Any]] = {name: [] for name in table}
            for rep in range(reps):
                order = list(table)[rep % 3 :] + list(table)[: rep % 3]
                for name in order:
                    try:
                        res[name].append(sample(runners[name], ld))
                    except Exception as e:  # a failed rep is a table cell
                        res[name].append(f"failed: {str(e)[:100]}")
                    print(f"  [mock {ld.key} rep {rep + 1}] {name}", flush=True)
            out[ld.key] = res
    return out
