"""How many engine processes a run gets: what ``processes: auto`` means on this machine.

``auto`` is the cores this process may use: its CPU affinity, capped by the cgroup CPU quota.
Why the quota: a container limited to 2 CPUs on a 64-core host still sees 64 CPUs in its
affinity mask; 64 engine processes there would share 2 cores' worth of time and the run would
measure the throttling. A fractional quota rounds up (1.5 CPUs -> 2 processes): the half core
is still time a second process can use.

Owns: the pure parsers of cgroup v2 ``cpu.max`` and cgroup v1 ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us`` and of ``/proc/self/cgroup``, capping the affinity by the quota, and
``resolve_processes``. The one reader, ``usable_cores``, takes its paths as parameters so that
tests point it at files of their own.
Never: writes anything; a missing, unreadable or malformed file means "no quota", not an error.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath
from typing import Literal

__all__ = [
    "CGROUP_ROOT",
    "PROC_SELF_CGROUP",
    "cap_cores",
    "cgroup_paths",
    "quota_cores",
    "quota_cores_v1",
    "read_quota_cores",
    "resolve_processes",
    "usable_cores",
]

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def quota_cores(cpu_max_text: str) -> float | None:
    """Cores allowed by a cgroup v2 ``cpu.max`` ("$QUOTA $PERIOD", both µs).

    ``"200000 100000"`` is 2.0 and ``"150000 100000"`` 1.5; ``"max 100000"`` (no limit) and
    anything malformed are None.
    """
    parts = cpu_max_text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    return _ratio(parts[0], parts[1])


def quota_cores_v1(quota_text: str, period_text: str) -> float | None:
    """Cores allowed by cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``.

    A quota of -1 (no limit) and anything malformed are None.
    """
    return _ratio(quota_text.strip(), period_text.strip())


def _ratio(quota_text: str, period_text: str) -> float | None:
    if not (quota_text.isascii() and quota_text.isdigit()):
        return None  # "-1", "max", junk
    if not (period_text.isascii() and period_text.isdigit()):
        return None
    quota, period = int(quota_text), int(period_text)
    return quota / period if quota > 0 and period > 0 else None


def cgroup_paths(proc_self_cgroup_text: str) -> tuple[str | None, str | None]:
    """(cgroup v2 path, cgroup v1 ``cpu`` controller path) from ``/proc/self/cgroup``.

    Lines are ``ID:CONTROLLERS:PATH``: ``0::/user.slice/x.scope`` is v2, and
    ``4:cpu,cpuacct:/docker/abc`` is the v1 cpu controller. Either is None when absent.
    """
    v2 = v1 = None
    for line in proc_self_cgroup_text.splitlines():
        hier, sep1, rest = line.partition(":")
        controllers, sep2, path = rest.partition(":")
        if not (sep1 and sep2 and path.startswith("/")):
            continue
        if hier == "0" and not controllers:
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def _upward(base: Path, rel: str | None) -> list[Path]:
    """``base/rel`` and each of its parents up to ``base``: a quota set on a parent (a systemd
    slice) limits its children too. In a container ``rel`` may name a host path that its
    private ``/sys/fs/cgroup`` does not have; ``base`` itself is then the container's cgroup."""
    parts = [p for p in PurePosixPath(rel or "/").parts if p not in ("/", ".", "..")]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _read(path: Path) -> str | None:
    try:
        return path.read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return None


def read_quota_cores(
    cgroup_root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> float | None:
    """The smallest CPU quota on this process's cgroup path, in cores; None if none is set.

    Both hierarchies are read: v2 ``cpu.max`` and v1 ``cpu/cpu.cfs_{quota,period}_us`` (a hybrid
    host, such as this project's CI VMs, has a v2 path but the cpu controller in v1).
    """
    v2, v1 = cgroup_paths(_read(proc_self_cgroup) or "0::/\n")
    quotas: list[float | None] = []
    if v2 is not None:
        quotas += [quota_cores(_read(d / "cpu.max") or "") for d in _upward(cgroup_root, v2)]
    for d in _upward(cgroup_root / "cpu", v1):
        quota, period = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
        quotas.append(quota_cores_v1(quota or "", period or ""))
    found = [q for q in quotas if q is not None]
    return min(found) if found else None


def cap_cores(affinity: int, quota: float | None) -> int:
    """``affinity`` CPUs capped by a quota of ``quota`` cores (rounded up); at least 1."""
    cores = max(1, affinity)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return cores


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no sched_getaffinity on macOS
        return os.cpu_count() or 1


def usable_cores(
    cgroup_root: Path = CGROUP_ROOT,
    proc_self_cgroup: Path = PROC_SELF_CGROUP,
    affinity: int | None = None,
) -> int:
    """The cores this process may use: its CPU affinity capped by its cgroup CPU quota.

    ``affinity`` None reads ``os.sched_getaffinity(0)``; tests pass a number.
    """
    count = _affinity() if affinity is None else affinity
    return cap_cores(count, read_quota_cores(cgroup_root, proc_self_cgroup))


def resolve_processes(
    setting: int | Literal["auto"] | None, *, cores: int, default: int | Literal["auto"]
) -> int:
    """How many engine processes to start.

    ``setting`` is ``--processes`` or the YAML ``processes`` (None: neither was given, so
    ``default`` applies); ``"auto"`` means ``cores`` (``usable_cores()``). An explicit count is
    not capped by ``cores``: more processes than cores is the user's call (a target far away
    may keep more clients busy than there are cores).

    Raises:
        ValueError: a count or ``cores`` below 1 (the config loader refuses such a count).
    """
    chosen = default if setting is None else setting
    if chosen == "auto":
        if cores < 1:
            raise ValueError(f"cores must be at least 1, got {cores}")
        return cores
    if isinstance(chosen, bool) or chosen < 1:
        raise ValueError(f"processes must be at least 1, got {chosen!r}")
    return chosen
