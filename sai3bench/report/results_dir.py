"""The results directory ``sai3-YYYYMMDD-HHMMSS-<name>/`` and what goes into it.

Layout as sai3-bench v0.6.4+: config.yaml, console_log.txt, metadata.json, workload_results.tsv,
prepare_results.tsv; plus results.json, our lossless histograms (docs/FORMAT.md). Unlike
upstream's ``HHMM`` directories, which two runs in the same minute share (the second silently
overwriting the first), a run never writes into a directory it did not create: the name carries
seconds, and a run that finds the name taken adds ``-2``, ``-3``... The directory is made with an
exclusive mkdir, so two runs starting at once cannot both take one name.
"""

from __future__ import annotations

import datetime as dt
import itertools
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
    """A new, empty ``sai3-YYYYMMDD-HHMMSS-<name>[-N]`` directory under ``root``."""
    return make_new_dir(root, f"sai3-{now:%Y%m%d-%H%M%S}-{name}")


def make_new_dir(root: Path, base: str) -> Path:
    """Create ``root/base``, or ``root/base-2``, ``-3``... when taken: the first name this
    process's mkdir created (exclusive, so a concurrent run gets another one)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in itertools.count(1):
            path = root / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
    except OSError as exc:
        raise UsageError(
            f"cannot create results directory under {root}: {exc.strerror}",
            hint="pass --results-dir pointing at a writable directory",
        ) from None
    raise AssertionError("unreachable")  # itertools.count never ends


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
