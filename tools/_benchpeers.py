"""tools/bench_http.py's peer clients, run inside a child: ``python bench_http.py --peer NAME``.

Each peer drives `--conc` workers against `--url` for `--duration` seconds (after one op outside
the timing to connect) and prints one JSON line: ops/s over the loop's wall time, its own process
CPU per op (RUSAGE_SELF, all threads, around the timed loop: its import, client set-up and
connecting op are not charged, as sai3bench's start-up is subtracted), p50 and p99 in ms. Over https
(`--ca` given) each trusts the bench's CA its own way (tools/_benchtls.py TRUST); none is run
with verification off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: PUTs cycle over this many names per worker, as sai3bench's and wrk's PUT loads do
PUT_NAMES = 1000


@dataclass(slots=True)
class Timed:
    """Per-op latencies (ns) collected by every worker of a peer until the deadline, and the
    wall seconds from the start to the last op's end (ops that began before the deadline
    finish after it: a 16 MiB GET is a tenth of a second)."""

    deadline: float
    lat: list[int] = field(default_factory=list)
    wall: float = 0.0
    #: process CPU seconds (user + sys, all threads) over the same span as `wall`
    cpu: float = 0.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _keys(a: argparse.Namespace) -> Callable[[int, int], str]:
    """key(worker, i): a prepared object for GET (round robin), a fresh name for PUT."""
    base = f"bench/{a.prefix}"
    if a.op == "get":
        return lambda w, i: f"{base}data/prepared-{(w * 31 + i) % a.count:08d}.dat"
    return lambda w, i: f"{base}put/{a.peer}-{w}-{i % PUT_NAMES}.dat"


async def _async_loop(t: Timed, op: Callable[[int, int], Any], w: int) -> None:
    i = 0
    while time.perf_counter() < t.deadline:
        t0 = time.perf_counter_ns()
        await op(w, i)
        t.lat.append(time.perf_counter_ns() - t0)
        i += 1


def _async_ops(a: argparse.Namespace, op: Callable[[int, int], Any]) -> Timed:
    async def main() -> Timed:
        await op(0, 0)  # connect / initialise outside the timing
        c0, t0 = _cpu(), time.perf_counter()
        t = Timed(t0 + a.duration)
        await asyncio.gather(*(_async_loop(t, op, w) for w in range(a.conc)))
        t.wall, t.cpu = time.perf_counter() - t0, _cpu() - c0
        return t

    return asyncio.run(main())


def peer_obstore(a: argparse.Namespace) -> Timed:
    import obstore
    from obstore.store import S3Store

    # https: trust the bench's CA as an extra root (client_options root_certificate, PEM text)
    trust = {"root_certificate": Path(a.ca).read_text()} if a.ca else {"allow_http": True}
    store = S3Store(
        bucket="bucket", endpoint=a.url, region="us-east-1", access_key_id="bench",
        secret_access_key="bench", virtual_hosted_style_request=False,
        client_options=trust,  # type: ignore[arg-type]
    )  # fmt: skip
    key, body = _keys(a), b"x" * a.size

    async def op(w: int, i: int) -> None:
        if a.op == "get":
            r = await obstore.get_async(store, key(w, i))
            await r.bytes_async()
        else:
            await obstore.put_async(store, key(w, i), body)

    return _async_ops(a, op)


def peer_s3dlio(a: argparse.Namespace) -> Timed:
    import s3dlio

    # https: ca_bundle is s3dlio's AWS_CA_BUNDLE (a PEM file replacing the system roots)
    s3dlio.configure_s3(endpoint_url=a.url, region="us-east-1", ca_bundle=a.ca)
    key, body = _keys(a), b"x" * a.size

    async def op(w: int, i: int) -> None:
        if a.op == "get":
            await s3dlio.get_async(f"s3://bucket/{key(w, i)}")
        else:
            await s3dlio.put_bytes_async(f"s3://bucket/{key(w, i)}", body)

    return _async_ops(a, op)


def peer_boto3(a: argparse.Namespace) -> Timed:
    import boto3  # type: ignore[import-untyped, unused-ignore]
    from botocore.config import Config

    cfg = Config(max_pool_connections=a.conc, s3={"addressing_style": "path"})
    s3 = boto3.client("s3", endpoint_url=a.url, config=cfg)
    key, body = _keys(a), b"x" * a.size

    def op(w: int, i: int) -> None:
        if a.op == "get":
            s3.get_object(Bucket="bucket", Key=key(w, i))["Body"].read()
        else:
            s3.put_object(Bucket="bucket", Key=key(w, i), Body=body)

    op(0, 0)
    c0, t0 = _cpu(), time.perf_counter()
    t = Timed(t0 + a.duration)

    def loop(w: int) -> None:
        i = 0
        while time.perf_counter() < t.deadline:
            t0 = time.perf_counter_ns()
            op(w, i)
            t.lat.append(time.perf_counter_ns() - t0)
            i += 1

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(a.conc)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.wall, t.cpu = time.perf_counter() - t0, _cpu() - c0
    return t


def peer_aiohttp(a: argparse.Namespace) -> Timed:
    import aiohttp  # type: ignore[import-not-found, unused-ignore]
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials("bench", "bench"), "s3", "us-east-1")
    key, body = _keys(a), b"x" * a.size
    session: list[Any] = []

    async def op(w: int, i: int) -> None:
        if not session:
            conn = aiohttp.TCPConnector(limit=a.conc)
            session.append(aiohttp.ClientSession(connector=conn))
        url = f"{a.url}/bucket/{key(w, i)}"
        data = body if a.op == "put" else b""
        req = AWSRequest(method=a.op.upper(), url=url, data=data)
        req.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        signer.add_auth(req)
        async with session[0].request(req.method, url, data=data, headers=dict(req.headers)) as r:
            await r.read()
            r.raise_for_status()

    return _async_ops(a, op)


def peer_httpx_h2(a: argparse.Namespace) -> Timed:
    """httpx over h2c (prior knowledge), unsigned: the HTTP/2 client the issue compares with."""
    import httpx

    key, body = _keys(a), b"x" * a.size
    client = httpx.AsyncClient(http1=False, http2=True, base_url=a.url, timeout=60)

    async def op(w: int, i: int) -> None:
        if a.op == "get":
            r = await client.get(f"/bucket/{key(w, i)}")
        else:
            r = await client.put(f"/bucket/{key(w, i)}", content=body)
        r.raise_for_status()

    return _async_ops(a, op)


PEERS: dict[str, Callable[[argparse.Namespace], Timed]] = {
    "httpx-h2c": peer_httpx_h2,
    "obstore": peer_obstore,
    "s3dlio": peer_s3dlio,
    "boto3": peer_boto3,
    "aiohttp": peer_aiohttp,
}


def peer_main(a: argparse.Namespace, creds: Mapping[str, str]) -> None:
    """Child side: run one peer, print one JSON line (ops/s, CPU s/op, p50/p99 ms)."""
    os.environ.update({**creds, "AWS_ENDPOINT_URL": a.url})
    t = PEERS[a.peer](a)
    cpu = t.cpu
    lat = sorted(t.lat)
    n = len(lat)
    print(json.dumps({
        "ops_s": n / (t.wall or a.duration), "cpu_per_op": cpu / max(n, 1), "ops": n,
        "p50": lat[n // 2] / 1e6, "p99": lat[min(n - 1, n * 99 // 100)] / 1e6,
    }), flush=True)  # fmt: skip
    os._exit(0)  # obstore 0.12's runtime aborts (SIGABRT) at interpreter exit after https runs
