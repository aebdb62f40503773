"""What the kernel sees: a direct:// run under strace opens every data file with O_DIRECT and
moves every byte with aligned offsets, lengths and buffer addresses; page_cache_mode gives each
data file the posix_fadvise advice of its mode (file:// and direct://).

strace prints a pread64/pwrite64's buffer address only in raw mode (``-e raw=``), which is why
direct:// reads with pread through ctypes instead of preadv (backends/aligned.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.integration.conftest import write_config

BLOCK = 4096
#: posix_fadvise advice values as the kernel numbers them (raw fadvise64 arguments).
ADVICE = {"normal": 0, "random": 1, "sequential": 2, "dontneed": 4}
_LINE = re.compile(r"^(?P<tid>\d+) +(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*?)(?:\) += (?P<ret>\S+).*| <unfinished \.\.\.>)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>.*\) += (?P<ret>\S+)")


def _strace() -> str:
    found = shutil.which("strace")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("strace is missing: CI must run the O_DIRECT alignment test")
        pytest.skip("strace is not installed")
    return found


class Call(NamedTuple):
    name: str
    args: list[str]
    ret: str


def _calls(text: str) -> list[Call]:
    """Syscalls in order of completion, unfinished/resumed pairs joined per thread; a close
    at its start: its fd number is free (and may be opened by another thread) before it
    returns."""
    pending: dict[str, tuple[str, str]] = {}
    out: list[Call] = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        tid, rest = m["tid"], m["rest"]
        if r := _RESUMED.match(rest):
            name, args = pending.pop(tid)
            if name != "close":
                out.append(Call(name, _split(args), r["ret"]))
        elif c := _CALL.match(rest):
            if c["ret"] is None:
                pending[tid] = (c["name"], c["args"])
            if c["ret"] is not None or c["name"] == "close":
                out.append(Call(c["name"], _split(c["args"]), c["ret"] or "?"))
    return out


def _split(args: str) -> list[str]:
    return [a.strip() for a in args.split(", ")]


class Traced(NamedTuple):
    opens: list[tuple[str, str]]  # (path, flags) of the data files
    io: list[Call]  # pread64 / pwrite64 on data files
    fadvise: list[int]  # advice values given to data files
    truncates: int


def _trace(tmp_path: Path, scheme: str, mode: str | None) -> Traced:
    """A small prepare + GET + PUT run under strace; the data files' syscalls."""
    data = tmp_path / f"data-{scheme}-{mode}"
    config: dict[str, Any] = {
        "target": f"{scheme}://{data}/",
        "duration": "1s",
        "concurrency": 2,
        "processes": 1,
        "prepare": {
            "ensure_objects": [
                {"base_uri": f"{scheme}://{data}/", "count": 4, "min_size": 1, "max_size": 9000}
            ],
            "cleanup": True,
        },
        "workload": [
            {"op": "get", "path": "prepared-*", "weight": 50},
            {"op": "put", "path": "new/", "object_size": 5000, "weight": 50},
        ],
    }
    if mode is not None:
        config["page_cache_mode"] = mode
    path = write_config(tmp_path, config, f"{scheme}-{mode}.yaml")
    log = tmp_path / f"{scheme}-{mode}.strace"
    syscalls = "openat,close,pread64,pwrite64,ftruncate,fadvise64"
    cmd = [_strace(), "-f", "-qq", "-o", str(log), "-e", f"trace={syscalls}"]
    cmd += ["-e", "raw=pread64,pwrite64,fadvise64,close,ftruncate"]
    cmd += [sys.executable, "-m", "sai3bench", "run", "--config", str(path), "-q"]
    cmd += ["--results-dir", str(tmp_path / "res")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return _data_calls(_calls(log.read_text()), str(data) + "/")


def _data_calls(calls: list[Call], prefix: str) -> Traced:
    fds: dict[int, bool] = {}  # open fd -> is a data file
    traced = Traced([], [], [], 0)
    truncates = 0
    for call in calls:
        if call.name == "openat":
            if call.ret.startswith("-"):
                continue
            name, flags = call.args[1].strip('"'), call.args[2]
            is_data = name.startswith(prefix) and "O_DIRECTORY" not in flags
            fds[int(call.ret, 0)] = is_data
            if is_data:
                traced.opens.append((name, flags))
        elif call.name == "close":
            fds.pop(int(call.args[0], 0), None)
        elif fds.get(int(call.args[0], 0)):
            if call.name in ("pread64", "pwrite64"):
                traced.io.append(call)
            elif call.name == "fadvise64":
                traced.fadvise.append(int(call.args[3], 0))
            elif call.name == "ftruncate":
                truncates += 1
    return traced._replace(truncates=truncates)


def test_direct_data_io_is_o_direct_and_aligned(tmp_path: Path) -> None:
    traced = _trace(tmp_path, "direct", None)
    assert traced.opens, "no data file was opened"
    for name, flags in traced.opens:
        assert "O_DIRECT" in flags.split("|"), (name, flags)
    reads = [c for c in traced.io if c.name == "pread64"]
    writes = [c for c in traced.io if c.name == "pwrite64"]
    assert len(reads) >= 4 and len(writes) >= 4, (len(reads), len(writes))
    for call in traced.io:
        _fd, buf, length, offset = (int(a, 0) for a in call.args[:4])
        assert buf % BLOCK == 0 and length % BLOCK == 0 and offset % BLOCK == 0, call
        assert not call.ret.startswith("-"), call  # no EINVAL: the kernel took each as aligned
    # Bodies of 5000 bytes (and most prepared sizes) are not whole blocks: cut back after.
    assert traced.truncates >= 1
    assert traced.fadvise == []  # no page_cache_mode: no hint


@pytest.mark.parametrize(
    ("scheme", "mode"),
    [
        ("direct", "sequential"),
        ("direct", "dontneed"),
        ("direct", "auto"),
        ("file", "random"),
        ("file", "normal"),
        ("file", None),
    ],
)
def test_page_cache_mode_advises_each_data_file(
    tmp_path: Path, scheme: str, mode: str | None
) -> None:
    traced = _trace(tmp_path, scheme, mode)
    if mode is None:
        assert traced.fadvise == []
        return
    # auto: every file here is under 64 MiB, so RANDOM (s3dlio's rule).
    expected = ADVICE["random" if mode == "auto" else mode]
    assert traced.fadvise and set(traced.fadvise) == {expected}
    # One hint per file opened for data (the GETs and the PUTs' temporary files).
    assert len(traced.fadvise) == len(traced.opens)
