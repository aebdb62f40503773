"""The results directory ``sai3-YYYYMMDD-HHMM-<name>/`` and what goes into it.

Layout as sai3-bench v0.6.4+: config.yaml, console_log.txt, metadata.json, workload_results.tsv,
prepare_results.tsv; plus results.json, our lossless histograms (docs/FORMAT.md). Two runs with
the same name in the same minute share the directory, as upstream's do; files are overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from pathlib import Path
from typing import Any

import orjson

from sai3bench import __version__
from sai3bench.errors import UsageError


def test_name_for(config_path: str | None, tsv_name: str | None) -> str:
    """``--tsv-name`` or the config file's stem, made safe for a directory name."""
    raw = tsv_name or (Path(config_path).stem if config_path else "quickstart")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw) or "run"


def make_results_dir(root: Path, name: str, now: dt.datetime) -> Path:
    path = root / f"sai3-{now:%Y%m%d-%H%M}-{name}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create results directory {path}: {exc.strerror}",
            hint="pass --results-dir pointing at a writable directory",
        ) from None
    return path


def metadata(
    *,
    test_name: str,
    config_path: str | None,
    start: dt.datetime,
    end: dt.datetime,
    command_line: list[str],
    stages: dict[str, Any],
    seed: int | None,
    hosts: list[str] | None = None,
) -> dict[str, Any]:
    """sai3-bench's metadata.json keys, then ours (``stages``, ``seed``). ``hosts``: the
    host labels of a distributed (``--cluster``) run, sai3-bench's ``agents``."""
    return {
        "version": __version__,
        "tool": "sai3bench",
        "test_name": test_name,
        "config_path": config_path,
        "start_time": start.astimezone().isoformat(),
        "end_time": end.astimezone().isoformat(),
        "duration_secs": round((end - start).total_seconds(), 6),
        "command_line": command_line,
        "hostname": socket.gethostname(),
        "distributed": hosts is not None,
        "agents": hosts or [],
        "pid": os.getpid(),
        "seed": seed,
        "stages": stages,
    }


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
