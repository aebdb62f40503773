"""Connecting to a Dask cluster for a run: the scheduler, its workers (one host group each),
their engine process counts and clock offsets.

Everything here is bounded: a scheduler that is down, a port that is not a Dask scheduler, or a
cluster without workers is one UsageError within seconds, never a hang or a traceback.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final, Literal, TypeVar

import msgspec

import sai3bench
from sai3bench.errors import UsageError
from sai3bench.scale.dask_api import Client, Security, parse_address, parse_host_port, rpc
from sai3bench.scale.hosts import clock_offset, host_label, select_workers
from sai3bench.scale.hostside import host_processes, wall_clock

#: Seconds to reach the scheduler, and to wait for its first worker.
CONNECT_S: Final = 5.0
#: Seconds for the scheduler to answer Dask's identity call.
PROBE_S: Final = 3.0
#: Seconds for any one query of the workers (process counts, clock samples).
QUERY_S: Final = 20.0
#: Clock samples per worker; the one with the shortest round trip is kept.
CLOCK_SAMPLES: Final = 7

_HINT = (
    "start a scheduler with `dask scheduler` and workers with "
    "`dask worker tcp://SCHEDULER:8786 --nworkers 1 --nthreads 1`, then pass "
    "--cluster tcp://SCHEDULER:8786"
)
T = TypeVar("T")


class DaskHost(msgspec.Struct, frozen=True):
    """One Dask worker: one host group of a distributed run."""

    address: str
    label: str
    processes: int
    #: The worker's clock minus the client's (ms), and the round trip it was measured with.
    offset_ms: float
    rtt_ms: float


def _usage(address: str, why: str, hint: str = _HINT) -> UsageError:
    return UsageError(f"--cluster {address}: {why}", hint=hint)


def bounded(fn: Callable[[], T], seconds: float, what: str) -> T:
    """``fn()`` in a daemon thread, given up after ``seconds`` (TimeoutError naming ``what``).

    A daemon thread, not an executor's: a call stuck on a stopped worker must not keep the
    process from exiting once the error is printed (executor threads are joined at exit)."""
    box: list[T] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            box.append(fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call, name="sai3bench-dask-query", daemon=True)
    thread.start()
    thread.join(seconds)
    if errors:
        raise errors[0]
    if not box:
        raise TimeoutError(f"{what} took more than {seconds:g}s")
    return box[0]


def probe_scheduler(address: str, timeout: float = PROBE_S) -> None:
    """Check that ``address`` answers as a Dask scheduler, with a reason a user can act on.

    A plain TCP connect first (refused and unknown hosts fail at once, with their own words),
    then Dask's identity call: another service on the port is "not a Dask scheduler".
    """
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location) if scheme in ("tcp", "tls") else ("", 0)
    except ValueError as exc:
        raise _usage(address, f"not a scheduler address ({exc})") from None
    if scheme in ("tcp", "tls"):
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise _usage(address, f"cannot reach the Dask scheduler ({why})") from None
    try:
        identity = asyncio.run(asyncio.wait_for(_identity(address, timeout), timeout))
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:160].rstrip(": ")
        raise _usage(address, f"no Dask scheduler answers there ({detail})") from None
    if identity.get("type") != "Scheduler":
        raise _usage(address, f"not a Dask scheduler (it is a {identity.get('type')!r})")


async def _identity(address: str, timeout: float) -> dict[str, Any]:
    """The scheduler's identity, over the same security (tls:// certificates from Dask's
    config) the Client will use."""
    args = Security().get_connection_args("client")
    remote = rpc(address, timeout=timeout, connection_args=args)
    try:
        answer: dict[str, Any] = await remote.identity()
        return answer
    finally:
        await remote.close_rpc()


def connect(address: str) -> Any:
    """A client of the scheduler at ``address`` with at least one worker."""
    probe_scheduler(address)
    try:
        client = Client(address, timeout=CONNECT_S, set_as_default=False)
    except Exception as exc:
        raise _usage(address, f"cannot connect ({type(exc).__name__}: {exc})") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_S)
    except Exception:
        client.close()
        raise _usage(
            address,
            f"the cluster has no workers (waited {CONNECT_S:g}s)",
            "start one on each load host: dask worker tcp://SCHEDULER:8786 --nworkers 1 "
            "--nthreads 1",
        ) from None
    return client


def _measure(client: Any, address: str) -> tuple[float, float]:
    samples = []
    for _ in range(CLOCK_SAMPLES):
        t0 = time.time()
        worker = client.run(wall_clock, workers=[address])[address]
        samples.append((t0, float(worker), time.time()))
    return clock_offset(samples)


def discover(
    client: Any,
    address: str,
    setting: int | Literal["auto"] | None,
    agents: Sequence[str],
    warn: Callable[[str], None],
) -> list[DaskHost]:
    """One DaskHost per worker used: its process count (resolved on the worker) and offset."""
    workers = list(client.scheduler_info()["workers"])
    used = select_workers(workers, agents, warn)
    try:
        counts: dict[str, tuple[int, str]] = bounded(
            lambda: client.run(host_processes, setting, workers=used), QUERY_S, "asking workers"
        )
        offsets = {w: bounded(partial(_measure, client, w), QUERY_S, "clocks") for w in used}
    except TimeoutError as exc:
        raise _usage(
            address,
            f"a Dask worker does not answer ({exc})",
            "check the dask worker processes: one may be stopped, overloaded or cut off",
        ) from None
    except Exception as exc:
        raise _usage(
            address,
            f"a Dask worker cannot run sai3bench ({type(exc).__name__}: {exc})",
            "install the same sai3bench version on every worker host "
            "(pip install 'sai3bench[distributed]') and restart its dask worker",
        ) from None
    for w in used:
        if counts[w][1] != sai3bench.__version__:
            mine = sai3bench.__version__
            warn(f"{host_label(w)} runs sai3bench {counts[w][1]}, this client {mine}")
    return [DaskHost(w, host_label(w), counts[w][0], offsets[w][0], offsets[w][1]) for w in used]
