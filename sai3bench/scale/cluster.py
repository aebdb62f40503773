"""``run --cluster tcp://SCHEDULER:8786``: a run's shares over the workers of a Dask cluster.

One host group per Dask worker, each running its own ``processes`` engine processes (``auto``
counts the worker host's cores). The client connects, asks every worker how many processes it
runs and measures its clock offset, then each stage deals its shares over the hosts in order
(host 0's processes first) and runs them through dask_stage.StageRun.

After a host is lost, later stages run without it: cleanup gives its shares to the hosts still
there (what prepare made must not be left), or runs them on the client itself when no host is
left; any other stage reports them lost at once.

Credentials: each worker uses its own environment unless ``--forward-credentials``; then the
client's AWS_*, GOOGLE_* and AZURE_STORAGE_* variables (and the emulator endpoints) ride in
each job's ``env``: in memory and on the wire to the worker, never in a file, result or log.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from sai3bench.engine.context import Output, RunContext
from sai3bench.engine.interrupt import STAGE_GRACE
from sai3bench.engine.intervals import EncodedInterval
from sai3bench.engine.share_jobs import ShareDone, ShareJob
from sai3bench.engine.share_runner import InProcessRunner, ShareRunner
from sai3bench.errors import UsageError
from sai3bench.scale.hosts import deal, forwarded_env

if TYPE_CHECKING:
    from sai3bench.scale.dask_connect import DaskHost
    from sai3bench.scale.dask_stage import HostRun

INSTALL_HINT: Final = "pip install 'sai3bench[distributed]'"


class ClusterRunner:
    """The ShareRunner of a distributed run: one host group per Dask worker."""

    def __init__(
        self, client: Any, hosts: Sequence[DaskHost], ctx: RunContext, env: Mapping[str, str]
    ) -> None:
        self.client = client
        self.hosts = list(hosts)
        #: The coordinator's context: its console, and its backends for a cleanup no host
        #: is left to run.
        self.ctx = ctx
        self.out = ctx.out
        self.env = dict(env)
        self.shares = sum(h.processes for h in self.hosts)
        #: Host children get STAGE_GRACE after a stop; the hops through Dask take a little more.
        self.grace = STAGE_GRACE + 5.0
        self.clock_offsets_ms = {h.label: h.offset_ms for h in self.hosts}
        self.lost: dict[str, str] = {}
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"<ClusterRunner {len(self.hosts)} hosts, {self.shares} processes>"

    def stop(self) -> None:
        """Asked before or during a stage: every host stops at its next op."""
        self._stop.set()

    async def run(self, jobs: Sequence[ShareJob]) -> list[ShareDone]:
        from sai3bench.scale.dask_stage import StageRun, supervise

        if jobs and jobs[0].stage == "cleanup" and len(self.lost) == len(self.hosts):
            return await self._cleanup_here(jobs)
        if self.env:
            jobs = [msgspec.structs.replace(j, env={**j.env, **self.env}) for j in jobs]
        groups = self._groups(jobs)
        loop = asyncio.get_running_loop()
        say, progress = self._console(loop)
        live = [g for g in groups if g.host.label not in self.lost]
        interval = self._intervals(loop)
        stage = StageRun(self.client, live, say, progress, stop=self._stop, interval=interval)
        try:
            await supervise(stage)
        finally:
            self._stop.clear()
        for g in groups:
            if g.lost is not None:
                self.lost.setdefault(g.host.label, g.lost)
        by_index = {d.index: d for g in groups for d in g.dones()}
        return [by_index[j.index] for j in jobs]

    async def _cleanup_here(self, jobs: Sequence[ShareJob]) -> list[ShareDone]:
        """Every host is lost: this client deletes what they made, with its own backends."""
        self.out.warn("no Dask host is left: this client deletes what the run made")
        dones = await InProcessRunner(self.ctx).run(jobs)
        return [msgspec.structs.replace(d, host="client", process=k) for k, d in enumerate(dones)]

    def _console(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[Callable[[str, bool], None], Callable[[str], None]]:
        """(say, progress) for the supervisor thread: each hops onto the loop to print."""

        def on_loop(fn: Callable[[str], None], text: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed (a run cancelled)
                loop.call_soon_threadsafe(fn, text)

        def say(text: str, warn: bool) -> None:
            on_loop(self.out.warn if warn else self.out.say, text)

        def progress(text: str) -> None:
            on_loop(self.out.progress, text)

        return say, progress

    def _intervals(
        self, loop: asyncio.AbstractEventLoop
    ) -> Callable[[EncodedInterval], None] | None:
        """The hosts' streamed perf-log intervals, hopped onto the loop to the merger (each
        host sends them again with its result: one late or lost here is not missed)."""
        sink = self.ctx.intervals
        if sink is None:
            return None

        def on_loop(e: EncodedInterval) -> None:
            sink.interval(e.part, e.decoded())

        def interval(e: EncodedInterval) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed (a run cancelled)
                loop.call_soon_threadsafe(on_loop, e)

        return interval

    def _groups(self, jobs: Sequence[ShareJob]) -> list[HostRun]:
        """Jobs dealt to hosts in order; a lost host's jobs go to the others in cleanup, and
        come back lost at once in any other stage."""
        from sai3bench.scale.dask_stage import HostRun

        counts = deal([h.processes for h in self.hosts], len(jobs))
        groups, at = [], 0
        for host, n in zip(self.hosts, counts, strict=True):
            groups.append(HostRun(host, list(jobs[at : at + n])))
            at += n
        live = [g for g in groups if g.host.label not in self.lost]
        for g in groups:
            if g.host.label not in self.lost:
                continue
            if live and jobs and jobs[0].stage == "cleanup":
                for k, job in enumerate(g.jobs):
                    live[k % len(live)].jobs.append(job)
                g.jobs = []
            else:
                g.lost = self.lost[g.host.label]
        return groups


def _import_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(
            "--cluster needs the Dask client, which is not installed",
            hint=f"{INSTALL_HINT} (on this host and on every worker host)",
        ) from None


def _say_hosts(
    out: Output, address: str, hosts: Sequence[DaskHost], env: Mapping[str, str]
) -> None:
    total = sum(h.processes for h in hosts)
    many = "s" if len(hosts) != 1 else ""
    out.say(f"Cluster {address}: {len(hosts)} host{many}, {total} engine processes")
    for h in hosts:
        s = "" if h.processes == 1 else "es"
        out.say(
            f"  host {h.label}: {h.processes} process{s}, clock offset {h.offset_ms:+.2f} ms "
            f"(round trip {h.rtt_ms:.2f} ms)"
        )
    if env:
        out.say(f"Forwarding to the workers (names only): {', '.join(sorted(env))}")


def cluster_runner(
    address: str,
    setting: int | Literal["auto"] | None,
    out: Output,
    forward_credentials: bool,
    *,
    agents: Sequence[str] = (),
) -> Callable[[RunContext], ShareRunner]:
    """Connect to the cluster now (errors before anything runs) and return the factory the
    engine calls with its RunContext."""
    _import_distributed()
    from sai3bench.scale.dask_connect import connect, discover

    client = connect(address)
    atexit.register(_close, client)
    hosts = discover(client, address, setting, agents, out.warn)
    env = forwarded_env(os.environ) if forward_credentials else {}
    _say_hosts(out, address, hosts, env)
    return lambda ctx: ClusterRunner(client, hosts, ctx, env)


def _close(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.close(timeout=5)
