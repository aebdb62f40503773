"""Shared helpers for integration tests: the CLI in a subprocess, configs on disk, a directory
nobody may write to (even root), and a look into a run's results directory."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
RESULTS_DIR_RE = re.compile(r"sai3-\d{8}-\d{6}-(?P<name>.+?)(?:-\d+)?")

TSV_HEADER = (
    "operation\tsize_bucket\tbucket_idx\tmean_us\tp50_us\tp90_us\tp95_us\tp99_us\tmax_us"
    "\tavg_bytes\tops_per_sec\tthroughput_mibps\tcount"
)


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env.update(extra or {})
    return env


def run_cli(
    args: list[str],
    cwd: Path,
    *,
    timeout: float = 90.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m sai3bench *args`` in ``cwd``; output captured as text, never raises on rc.

    ``env`` adds variables to the inherited environment (e.g. TMPDIR)."""
    return subprocess.run(
        [sys.executable, "-m", "sai3bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(env),
        check=False,
    )


def run_cli_many(
    jobs: list[tuple[list[str], Path]], *, timeout: float = 90.0
) -> list[subprocess.CompletedProcess[str]]:
    """Several independent CLI runs at once (start-up dominates short commands); in order."""
    procs = [
        (
            args,
            subprocess.Popen(
                [sys.executable, "-m", "sai3bench", *args],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(None),
            ),
        )
        for args, cwd in jobs
    ]
    done = []
    for args, proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        done.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return done


def write_config(tmp_path: Path, config: Mapping[str, Any] | str, name: str = "bench.yaml") -> Path:
    """Write a config (a dict dumped as YAML, or YAML text as is) under ``tmp_path``."""
    path = tmp_path / name
    text = config if isinstance(config, str) else yaml.safe_dump(dict(config), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def immutable_dir(path: Path) -> Iterator[Path]:
    """Make ``path`` refuse new entries for the duration: ``chattr +i`` as root (root ignores
    mode bits), ``chmod 0o555`` otherwise. Always restored, even if the body fails."""
    if IS_ROOT:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield path
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode & 0o7777
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(mode)


def results_dir(root: Path, name: str) -> Path:
    """The one ``sai3-YYYYMMDD-HHMMSS-<name>[-N]`` directory under ``root``."""
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("sai3-")]
    matches = [p for p in found if (m := RESULTS_DIR_RE.fullmatch(p.name)) and m["name"] == name]
    assert len(matches) == 1, f"expected one results dir for {name!r}, found {found}"
    return matches[0]


def metadata(out_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out_dir / "metadata.json").read_text())
    return data


def tsv_rows(path: Path) -> tuple[str, list[list[str]]]:
    """(header, rows split on tabs) of a results TSV."""
    header, *rows = path.read_text().splitlines()
    return header, [r.split("\t") for r in rows]


def snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``directory`` (relative path) -> (inode, mtime_ns, size)."""
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(directory))] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def prepared_names(directory: Path, pool: str = "prepared") -> list[str]:
    return sorted(p.name for p in directory.glob(f"{pool}-*.dat")) if directory.is_dir() else []


def free_port() -> int:
    """A loopback port nothing listens on right now (the server started next binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, what: str, proc: subprocess.Popen[Any] | None = None, timeout: float = 30.0
) -> None:
    """Return once 127.0.0.1:``port`` accepts; fail with ``what`` (and the process's stderr
    tail) if ``proc`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else b""
            text = err.decode(errors="replace") if isinstance(err, bytes) else str(err or "")
            raise AssertionError(f"{what} exited with {proc.returncode}: {text[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not start within {timeout:g} s")


def mixed_config(target: str, concurrency: int, count: int) -> dict[str, Any]:
    """prepare ``count`` objects of 1-4 KiB under ``data/``, a 1 s GET/STAT/PUT/LIST mix, and
    cleanup: the full flow the backend CLI tests run on each scheme."""
    return {
        "target": target,
        "duration": "1s",
        "concurrency": concurrency,
        "prepare": {
            "cleanup": True,
            "ensure_objects": [
                {"base_uri": "data/", "count": count, "min_size": 1024, "max_size": 4096}
            ],
        },
        "workload": [
            {"op": "get", "path": "data/*", "weight": 60},
            {"op": "stat", "path": "data/*", "weight": 20},
            {"op": "put", "path": "new/", "object_size": 2048, "weight": 15},
            {"op": "list", "path": "data/", "weight": 5},
        ],
    }
