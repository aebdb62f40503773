"""``run --op-log``: which file, checked before the run, and the merged file after it.

Where the rows come from is engine/oplog.py (one file per engine process and stage share).
Here: the flag wins over the YAML's ``op_log_path``; a local path is made absolute (child
processes write it too) and its directory checked before anything runs; after a local run with
several processes their ``<stem>-worker-N`` files are merged into the file, sorted by start.
Over ``--cluster`` the files stay on the hosts, like upstream's agents: each host's processes
write ``<stem>-worker-N`` (N the run-wide share index) under the path as given, relative to the
worker's directory; ``sai3bench sort`` merges copies of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from sai3bench.cli.output import Console
from sai3bench.engine.oplog import worker_path
from sai3bench.errors import UsageError
from sai3bench.metrics.oplog_file import OpLogError
from sai3bench.metrics.oplog_sort import sort_oplogs


def resolve_op_log(flag: str | None, yaml_path: str | None, *, cluster: bool) -> str | None:
    """The op-log path of a run, or None; a local one absolute, its directory writable."""
    chosen = flag or yaml_path
    if chosen is None or cluster:
        return chosen
    path = Path(chosen).expanduser().absolute()
    if path.is_dir():
        raise UsageError(f"--op-log {chosen} is a directory", hint="name a file: run.tsv.zst")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise UsageError(
            f"--op-log {chosen}: cannot write in {path.parent}",
            hint="point --op-log at a file in an existing, writable directory",
        )
    return str(path)


def op_log_name_warning(path: str | None) -> str | None:
    """The op-log is always zstd (upstream's CLI says so too): a name without ``.zst`` would
    make ``zcat``-less tools read garbage, so say it once, before the run."""
    if path is None or path.endswith(".zst"):
        return None
    return f"--op-log {path}: the op-log is always zstd-compressed; name it .tsv.zst"


def finish_op_log(path: str, *, processes: int, cluster: bool, console: Console) -> None:
    """Say where the op-log went; merge the processes' files of a local run into ``path``."""
    if cluster:
        name = worker_path(path, 0, 2).name.replace("-worker-0", "-worker-N")
        console.say(f"Op-logs stay on the hosts: {name} beside {path} (one per process)")
        return
    if processes == 1:
        if Path(path).exists():
            console.say(f"Op-log written to: {path}")
        return
    parts = [p for k in range(processes) if (p := worker_path(path, k, processes)).exists()]
    if not parts:
        return
    try:
        rows = sort_oplogs(parts, Path(path), renumber=True)
    except OpLogError as exc:  # a process killed mid-frame: its files stay, unmerged
        console.warn(f"op-log: process files not merged: {exc.msg}")
        return
    console.say(
        f"Op-log: {len(parts)} process files merged by start time into {path} ({rows:,} ops)"
    )
