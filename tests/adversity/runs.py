"""Starting a ``sai3bench run`` to signal, and reading its stdout up to a banner: shared by the
interrupt and the multi-process fault tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``sai3bench run ARGS`` in its own session (our signals reach it and its children only),
    stdout and stderr piped, ``env`` over this environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "sai3bench", "run", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,
    )


def read_until(proc: subprocess.Popen[str], banner: str) -> list[str]:
    """The stdout lines up to and including the first with ``banner``; the run's whole output
    in the failure when it never shows."""
    assert proc.stdout is not None and proc.stderr is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if banner in line:
            return seen
    raise AssertionError(f"no {banner!r} in {''.join(seen)}{proc.stderr.read()}")
