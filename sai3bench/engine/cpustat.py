"""Host CPU use between two readings of /proc/stat: the perf-log's cpu_user/system/iowait.

Like upstream (cpu_monitor.rs) these are host-wide shares of all CPU time, in percent, not
this process's. Where /proc/stat cannot be read (not Linux) every figure is 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

_STAT: Final = Path("/proc/stat")


def _read(path: Path) -> tuple[int, ...]:
    """The aggregate ``cpu`` line's jiffies: user nice system idle iowait irq softirq steal."""
    try:
        with path.open("rb") as f:
            fields = f.readline().split()
    except OSError:
        return ()
    if not fields or fields[0] != b"cpu":
        return ()
    return tuple(int(x) for x in fields[1:9])


def cpu_shares(before: tuple[int, ...], after: tuple[int, ...]) -> tuple[float, float, float]:
    """(user, system, iowait) % of the CPU time that passed between two readings."""
    if len(before) < 5 or len(after) < 5:
        return 0.0, 0.0, 0.0
    delta = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(delta)
    if total <= 0:
        return 0.0, 0.0, 0.0
    user = delta[0] + delta[1]  # user + nice, as top's us + ni
    system = delta[2] + sum(delta[5:7])  # system + irq + softirq
    return 100 * user / total, 100 * system / total, 100 * delta[4] / total


class CpuSampler:
    """Each ``sample()`` gives the host's CPU use since the previous one (or since made)."""

    __slots__ = ("_last", "_path")

    def __init__(self, path: Path = _STAT) -> None:
        self._path = path
        self._last = _read(path)

    def __repr__(self) -> str:
        return f"<CpuSampler {self._path}>"

    def sample(self) -> tuple[float, float, float]:
        now = _read(self._path)
        shares = cpu_shares(self._last, now)
        self._last = now
        return shares
