"""What the target and this machine can do, checked once after loading, before anything runs.

Why: an impossible config (a 1 PiB object, a count of 2^64, ``concurrency: 1000000000``) used
to be accepted; memory then grew until MemoryError, or threads ran out after 19 s. Each check
here refuses the impossible with one line that names the limit and the number asked for.

Owns: the per-scheme object size limits, the plan's bytes per object, and reading the machine's
limits (threads, open files, available memory, free disk). ``Machine`` is a plain value so that
tests can pass a small machine instead of the real one.
Never: writes anything or talks to the network. Reads only /proc, rlimits and ``statvfs``, plus
a directory listing of a file:// prepare set when free space looks short (see ``_check_disk``).
"""

from __future__ import annotations

import math
import os
import re
import resource
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from sai3bench.config.schema import Config, PutOp
from sai3bench.config.sizespec import SizeSpec
from sai3bench.config.units import MAX_SIZE, fmt_bytes
from sai3bench.config.uri import parse_uri
from sai3bench.errors import ConfigError
from sai3bench.plan.keys import parse_object_name
from sai3bench.plan.sizes import SizeSampler
from sai3bench.plan.tree import tree_of

__all__ = [
    "HTTP2_SCHEMES",
    "OBJECT_LIMITS",
    "PLAN_BYTES_PER_OBJECT",
    "Machine",
    "check_limits",
    "check_object_size",
    "check_workers",
    "is_local",
]

TIB = 1 << 40
OBJECT_LIMITS: dict[str, tuple[int, str]] = {
    "s3": (5 * TIB, "S3's largest object (5 TiB)"),
    "gs": (5 * TIB, "GCS's largest object (5 TiB)"),
    "az": (50_000 * 4000 << 20, "Azure's largest block blob (50,000 blocks of 4000 MiB)"),
}
"""Largest object per cloud scheme, and how the error names it. file:// is bound by free disk."""

HTTP2_SCHEMES = frozenset(OBJECT_LIMITS)
"""The schemes ``--http2`` carries over HTTP/2 (every cloud backend sends through HttpClient);
file:// and direct:// stay on threads."""

PLAN_BYTES_PER_OBJECT = 24
"""Memory the plan keeps per prepared object: its size, its index in the missing set and in the
created set, one 8-byte ``array('q')`` slot each."""

_FD_RESERVE = 64  # files the process holds besides its connections: logs, results, the loop
_THREAD_RESERVE = 16  # threads the process has besides its workers
_LOCAL = ("file", "direct")


class Machine(NamedTuple):
    """The limits a run must fit in. ``free_bytes(path)`` is the free space where path lives."""

    max_threads: int
    max_open_files: int
    available_memory: int
    free_bytes: Callable[[str], int]

    @classmethod
    def current(cls) -> Machine:
        return cls(_max_threads(), _soft_limit(resource.RLIMIT_NOFILE), _mem_available(), _free)


def check_limits(config: Config, machine: Machine | None = None, *, http2: bool = False) -> None:
    """Refuse a config this machine or its target cannot run. ``http2``: ``run --http2``, whose
    s3://, gs:// and az:// workers share a few multiplexed connections instead of one each.

    Raises:
        ConfigError: too much concurrency for the threads or files the process may open, an
            object larger than its storage takes, more prepared objects than memory holds for
            the plan, or a file:// prepare larger than the free space of its file system.
    """
    machine = machine or Machine.current()
    _check_concurrency(config, machine, http2)
    _check_object_sizes(config, machine)
    _check_plan_memory(config, machine)
    _check_disk(config, machine)


def _scheme(uri: str) -> str:
    return parse_uri(uri).scheme


def _local_path(uri: str) -> str:
    return parse_uri(uri).path


def _check_concurrency(config: Config, machine: Machine, http2: bool) -> None:
    caps = [op.concurrency for op in config.workload if op.concurrency is not None]
    workers = max([config.concurrency, *caps])
    uris = [op.path for op in config.workload]
    if config.prepare is not None:
        uris += [entry.base_uri for entry in config.prepare.ensure_objects]
    local = any(is_local(uri) for uri in uris)
    if http2 and all(_scheme(uri) in HTTP2_SCHEMES for uri in uris):
        return  # 2 connections per endpoint however many workers
    where = "concurrency" if workers == config.concurrency else "workload[].concurrency"
    check_workers(where, workers, local=local, machine=machine)


def check_workers(where: str, workers: int, *, local: bool, machine: Machine | None = None) -> None:
    """Refuse more workers than the process can run: a thread each for file:// (``local``), a
    connection (a file descriptor) each for the network backends.

    Raises:
        ConfigError: naming ``where`` (a YAML path or a flag), the number and the limit.
    """
    machine = machine or Machine.current()
    if local and workers + _THREAD_RESERVE > machine.max_threads:
        raise ConfigError(
            f"{where}: {workers:,} workers need {workers:,} threads, but this process may "
            f"start at most {machine.max_threads - _THREAD_RESERVE:,}",
            hint="lower concurrency (file:// runs one thread per worker); the limit is the "
            "least of ulimit -u, kernel.threads-max, kernel.pid_max and vm.max_map_count/2",
        )
    if not local and workers + _FD_RESERVE > machine.max_open_files:
        raise ConfigError(
            f"{where}: {workers:,} workers need {workers:,} connections, but this process may "
            f"open at most {machine.max_open_files - _FD_RESERVE:,} (ulimit -n is "
            f"{machine.max_open_files:,})",
            hint="lower concurrency, or raise the open-file limit with ulimit -n",
        )


def is_local(uri: str) -> bool:
    """file:// and direct:// run on threads and are bound by free disk, not by an object limit."""
    return _scheme(uri) in _LOCAL


def _sized_uris(config: Config) -> Iterator[tuple[str, str, SizeSpec, int]]:
    """(YAML path, URI, size spec, object count or 0 for workload PUTs) of every sized thing."""
    if config.prepare is not None:
        tree = tree_of(config.prepare)  # a tree's count is its file count (0 is filled in)
        for i, entry in enumerate(config.prepare.ensure_objects):
            path = f"prepare.ensure_objects[{i}]"
            count = tree.total_files if tree is not None else entry.count
            yield path, entry.base_uri, entry.size_spec, count
    for i, op in enumerate(config.workload):
        if isinstance(op, PutOp):
            yield f"workload[{i}]", op.path, op.size_spec, 0


def _largest(spec: SizeSpec) -> int:
    """The largest object the spec can make; an unbounded lognormal counts by its mean."""
    sampler = SizeSampler(spec)
    if sampler.max_bytes < MAX_SIZE:
        return sampler.max_bytes
    return max(sampler.min_bytes, math.ceil(sampler.mean_bytes()))


def _check_object_sizes(config: Config, machine: Machine) -> None:
    for path, uri, spec, _ in _sized_uris(config):
        check_object_size(path, uri, _largest(spec), machine)


def check_object_size(where: str, uri: str, size: int, machine: Machine | None = None) -> None:
    """Refuse an object larger than its storage takes: the cloud's limit, or for file:// the
    free space of the file system it would be written to.

    Raises:
        ConfigError: naming ``where``, the size and the limit.
    """
    if _scheme(uri) in OBJECT_LIMITS:
        limit, what = OBJECT_LIMITS[_scheme(uri)]
    else:
        limit = (machine or Machine.current()).free_bytes(_local_path(uri))
        what = f"the free space of the file system under {_local_path(uri)}"
    if size > limit:
        raise ConfigError(
            f"{where}: an object of {fmt_bytes(size)} is larger than {what}: {fmt_bytes(limit)}",
            hint="use a smaller object size",
        )


def _check_plan_memory(config: Config, machine: Machine) -> None:
    if config.prepare is None:
        return
    count = sum(n for _, _, _, n in _sized_uris(config))
    need = count * PLAN_BYTES_PER_OBJECT
    if need > machine.available_memory:
        raise ConfigError(
            f"prepare.ensure_objects: {count:,} objects need {fmt_bytes(need)} of memory for the "
            f"plan ({PLAN_BYTES_PER_OBJECT} bytes each), but {fmt_bytes(machine.available_memory)} "
            "is available",
            hint="lower count, or split the data set over several runs",
        )


def _check_disk(config: Config, machine: Machine) -> None:
    """A file:// prepare must fit in the free space of its file system. Objects that exist
    already need no new space: they are summed (one directory listing) only when the cheap
    check fails, so a rerun over a data set that fills most of the disk still runs."""
    for path, uri, spec, count in _sized_uris(config):
        if not count or not is_local(uri):
            continue
        base = _local_path(uri)
        need = math.ceil(count * SizeSampler(spec).mean_bytes())
        free = machine.free_bytes(base)
        if need > free and need - _existing_bytes(base) > free:
            raise ConfigError(
                f"{path}: {count:,} objects of {fmt_bytes(SizeSampler(spec).mean_bytes())} on "
                f"average need {fmt_bytes(need)}, but the file system under {base} has "
                f"{fmt_bytes(free)} free",
                hint="lower count or the object size, or use a target with more free space",
            )


def _existing_bytes(base: str, *, shards: bool = True) -> int:
    """Bytes in the prepared objects already in ``base`` and its key_prefix_shards directories
    (``2a/``: hex names, one level down), 0 if it cannot be listed."""
    total = 0
    try:
        with os.scandir(base) as entries:
            for entry in entries:
                if parse_object_name(entry.name) and entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
                elif shards and _HEX_DIR.fullmatch(entry.name) and entry.is_dir():
                    total += _existing_bytes(entry.path, shards=False)
    except OSError:
        return total
    return total


_HEX_DIR = re.compile(r"[0-9a-f]{2,}")


def _free(path: str) -> int:
    """Free bytes (for an unprivileged user) of the file system holding ``path``, or of its
    nearest existing parent: prepare creates the directories."""
    probe = Path(path)
    while True:
        try:
            st = os.statvfs(probe)
        except (FileNotFoundError, NotADirectoryError):
            if probe == probe.parent:
                return MAX_SIZE
            probe = probe.parent
            continue
        except (OSError, ValueError):  # unreadable: the prepare itself will say so
            return MAX_SIZE
        if st.f_blocks == 0:  # no size at all (procfs, some FUSE mounts): nothing to judge by
            return MAX_SIZE
        return st.f_bavail * st.f_frsize


def _soft_limit(which: int) -> int:
    soft, _ = resource.getrlimit(which)
    return MAX_SIZE if soft == resource.RLIM_INFINITY else soft


def _read_int(path: str, default: int = MAX_SIZE) -> int:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _max_threads() -> int:
    """The threads this process can have: each needs a task (ulimit -u, threads-max, pid_max)
    and two memory maps (its stack and guard page)."""
    return min(
        _soft_limit(resource.RLIMIT_NPROC),
        _read_int("/proc/sys/kernel/threads-max"),
        _read_int("/proc/sys/kernel/pid_max"),
        _read_int("/proc/sys/vm/max_map_count") // 2,
    )


def _mem_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return pages * size if pages > 0 and size > 0 else MAX_SIZE
