"""The pure rules of a distributed run: which Dask workers it uses, how its shares are dealt to
them, what a worker's clock offset is, and which variables --forward-credentials sends.

No Dask import here, so these are tested (and importable) without the distributed extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

#: Variables forwarded by --forward-credentials: these prefixes, and these names.
FORWARD_PREFIXES: Final = ("AWS_", "GOOGLE_", "AZURE_STORAGE_")
FORWARD_NAMES: Final = ("STORAGE_EMULATOR_HOST", "GCS_ENDPOINT_URL")


def host_label(address: str) -> str:
    """``tcp://10.0.0.5:40331`` -> ``10.0.0.5:40331``: the host's name in every report."""
    return address.partition("://")[2] or address


def select_workers(
    workers: Sequence[str], agents: Sequence[str], warn: Callable[[str], None]
) -> list[str]:
    """The workers a run uses, sorted: all of them, or those ``distributed.agents`` names.

    An agent (``host:port``) names a worker with that exact host:port, else every worker on
    that host (upstream's agent port is not a Dask worker's). An agent that names no worker is
    warned about and ignored; if none names one, every worker is used.
    """
    ordered = sorted(workers)
    chosen: set[str] = set()
    for agent in agents:
        exact = [w for w in ordered if host_label(w) == agent]
        host = agent.rpartition(":")[0]
        by_host = [w for w in ordered if host_label(w).rpartition(":")[0] == host]
        found = exact or by_host
        if not found:
            warn(f"distributed.agents: {agent} matches no Dask worker; ignored")
        chosen.update(found)
    if agents and not chosen:
        warn("distributed.agents: no agent matches a Dask worker; every worker is used")
    return [w for w in ordered if w in chosen] if chosen else ordered


def clock_offset(samples: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """(offset ms, round trip ms) from (sent, worker time, received) samples, NTP style: the
    sample with the shortest round trip; the worker read its clock about half-way."""
    t0, worker, t1 = min(samples, key=lambda s: s[2] - s[0])
    return (worker - (t0 + t1) / 2) * 1e3, (t1 - t0) * 1e3


def forwarded_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The client's credential and endpoint variables that --forward-credentials sends."""
    return {
        k: v for k, v in environ.items() if k.startswith(FORWARD_PREFIXES) or k in FORWARD_NAMES
    }


def deal(capacities: Sequence[int], jobs: int) -> list[int]:
    """How many of ``jobs`` shares each host runs: every host its full count when there are
    as many jobs as processes; fewer jobs go round the hosts so that each gets some."""
    counts = [0] * len(capacities)
    left = jobs
    while left > 0 and any(c < cap for c, cap in zip(counts, capacities, strict=True)):
        for k, cap in enumerate(capacities):
            if left > 0 and counts[k] < cap:
                counts[k] += 1
                left -= 1
    return counts
