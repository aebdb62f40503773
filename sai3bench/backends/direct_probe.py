"""direct://: can the target's file system do O_DIRECT? Asked once, before any stage.

Without this a direct:// run on tmpfs (or any file system without O_DIRECT) fails every op with
EINVAL, or, on Linux >= 6.6 where tmpfs accepts the flag, quietly measures memory. So:

1. Find the target's mount: the nearest existing directory of the path (prepare makes the
   rest), then the longest matching mount point in /proc/self/mountinfo (the last one listed
   when mounts are stacked: it is the one visible).
2. tmpfs is refused by name: its files live in memory, there is no device I/O to measure.
3. Where the run writes (prepare, PUT, DELETE, MKDIR, RMDIR), probe: create a hidden file with
   O_DIRECT in that directory, write one aligned block, remove it (upstream's
   ``test_direct_io_support`` does the same). EINVAL means the file system refuses O_DIRECT.
   A read-only, unwritable or missing directory each get their own line.

Every refusal is one StorageError line and a hint (exit 2), never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
from collections.abc import Iterator
from typing import Final, NamedTuple

from sai3bench.backends.aligned import device_block
from sai3bench.config.schema import Config, GetOp, ListOp, StatOp
from sai3bench.config.uri import parse_uri
from sai3bench.errors import StorageError

#: File systems refused by name (they accept the flag on new kernels but cache in memory).
MEMORY_FS: Final = frozenset({"tmpfs", "ramfs"})
_PROBE_PREFIX: Final = ".sai3-odirect-probe-"
_MOUNTINFO: Final = "/proc/self/mountinfo"
_HINT: Final = "use file:// there, or a disk-backed path"


class Mount(NamedTuple):
    point: str
    fstype: str


def check_direct_targets(config: Config) -> None:
    """Probe every direct:// directory the config reads or writes (each once).

    Raises:
        StorageError: one line naming the path, the mount and why O_DIRECT cannot work there.
    """
    dirs: dict[str, bool] = {}
    for uri, writes in _direct_uris(config):
        directory = _directory_of(parse_uri(uri).path)
        dirs[directory] = dirs.get(directory, False) or writes
    written = [d for d, w in dirs.items() if w]
    probed: set[str] = set()  # directories written to once already (many share a parent)
    for directory, writes in dirs.items():
        # A read directory a write of this run creates (prepare's base) need not exist yet.
        made_here = any(_within(directory, w) or _within(w, directory) for w in written)
        probe_direct(directory, writes=writes, may_be_missing=writes or made_here, probed=probed)


def probe_direct(
    path: str, *, writes: bool, may_be_missing: bool = True, probed: set[str] | None = None
) -> None:
    """Refuse ``path`` for direct:// as the module docstring says. ``writes``: also probe an
    O_DIRECT write there (once per directory in ``probed``). ``may_be_missing``: a missing
    ``path`` is fine (a run creates it)."""
    where = _nearest_existing(path)
    if where != path.rstrip("/") and not may_be_missing:
        raise StorageError(
            f"direct://: {path} does not exist",
            hint="check the path; a prepare step (ensure_objects) or a PUT creates it",
        )
    if not os.path.isdir(where):
        raise StorageError(f"direct://: {where} is not a directory", hint="check the path")
    mount = mount_of(where)
    if mount.fstype in MEMORY_FS:
        raise _refuses(path, mount)
    if writes and where not in (probed or ()):
        _probe_write(path, where, mount)
        if probed is not None:
            probed.add(where)


def mount_of(path: str) -> Mount:
    """The mount holding ``path`` (an existing path), from /proc/self/mountinfo."""
    real = os.path.realpath(path)
    best = Mount("/", "?")
    try:
        with open(_MOUNTINFO, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return best
    for point, fstype in _mounts(lines):
        if _within(real, point) and len(point) >= len(best.point):
            best = Mount(point, fstype)
    return best


def _mounts(lines: list[str]) -> Iterator[tuple[str, str]]:
    """(mount point, fs type) per mountinfo line: field 5 is the point, the type follows ' - '."""
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right:
            continue
        yield _unescape(fields[4]), right.split()[0]


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def _within(path: str, top: str) -> bool:
    top = top.rstrip("/")
    return path == top or path.startswith(top + "/") or top == ""


def _probe_write(path: str, where: str, mount: Mount) -> None:
    probe = os.path.join(where, f"{_PROBE_PREFIX}{os.getpid()}-{os.urandom(4).hex()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DIRECT | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(probe, flags, 0o600)
    except OSError as exc:
        raise _write_refused(exc, path, where, mount) from None
    block = device_block(where)
    try:
        with mmap.mmap(-1, block) as buf:
            os.write(fd, buf)
    except OSError as exc:
        raise _write_refused(exc, path, where, mount) from None
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)


def _write_refused(exc: OSError, path: str, where: str, mount: Mount) -> StorageError:
    code = exc.errno
    if code == errno.EINVAL:
        return _refuses(path, mount)
    if code == errno.EROFS:
        return StorageError(
            f"direct://: {where} is on a read-only file system (mount {mount.point})",
            hint="this run writes there (prepare, PUT or DELETE): remount it read-write or "
            "point the target at a writable path",
        )
    if code in (errno.EACCES, errno.EPERM):
        return StorageError(
            f"direct://: no permission to create files in {where}",
            hint="this run writes there (prepare, PUT or DELETE): fix the directory's "
            "permissions or run as a user who may write it",
        )
    return StorageError(
        f"direct://: cannot write a test file in {where}: {exc.strerror or exc}",
        hint="check the path and its file system",
    )


def _refuses(path: str, mount: Mount) -> StorageError:
    return StorageError(
        f"direct://: {path} is on {mount.fstype} (mount {mount.point}), which refuses O_DIRECT",
        hint=_HINT,
    )


def _nearest_existing(path: str) -> str:
    probe = path.rstrip("/") or "/"
    while not os.path.exists(probe) and probe != "/":
        probe = os.path.dirname(probe)
    return probe


def _directory_of(path: str) -> str:
    """The directory a URI path names: itself for ``dir/``, else the part before the last
    ``/`` (of the part before a glob's first ``*``)."""
    path = path.split("*", 1)[0]
    if path.endswith("/"):
        return path.rstrip("/") or "/"
    return os.path.dirname(path) or "/"


def _direct_uris(config: Config) -> list[tuple[str, bool]]:
    """(direct:// URI, whether the run writes under it) for every place the config names.
    Under multi_endpoint the paths are the namespace's: the endpoints are what is on disk."""
    places = [(op.path, not isinstance(op, (GetOp, StatOp, ListOp))) for op in config.workload]
    if config.prepare is not None:
        places += [(entry.base_uri, True) for entry in config.prepare.ensure_objects]
    if config.multi_endpoint is not None:
        writes = any(w for _, w in places)
        places = [(endpoint, writes) for endpoint in config.multi_endpoint.endpoints]
    return [(uri, w) for uri, w in places if uri.startswith("direct://")]
