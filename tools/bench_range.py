"""range_engine benchmark: GETs of one 256 MiB object from nginx over s3://, with the range engine
off and on, against obstore and s3dlio plain GETs of the same object.

    python tools/bench_range.py [--reps 3] [--duration 6] [--size-mib 256]

A private nginx (tools/bench_http.py's, root on tmpfs under /dev/shm) serves the object; nginx
answers Range requests from the file (206 with Content-Range). Every client runs ONE GET at a
time (``concurrency: 1``) for ``--duration`` seconds:

- sai3bench with range_engine off, then on at 64 MiB x 4 ranges (256 MiB is 4 ranges), 16 MiB x 4
  in flight and 16 MiB x 16 in flight (16 ranges, all at once); ``min_split_size`` 16 MiB;
- obstore (``get_async`` + ``bytes_async``) and s3dlio (``get_async``), plain GETs, as peers.

MiB/s is bytes of the GETs that finished in time / the stage's wall seconds. Client CPU per GiB:
sai3bench's own figure (results.json's verdict: the engine's CPU share of a core over the
workload, times its wall seconds) over the GiB read; a peer's getrusage(RUSAGE_SELF) around its
timed loop. Each repetition runs the clients in a rotated order; the table shows medians.

What 2 cores on loopback can show: there is no latency to hide, so splitting a GET mostly adds
work (more requests, more buffers in flight, nginx and the client sharing two cores); on a WAN
or a store with per-stream limits (GCS, S3 at ~100 MB/s per connection) concurrent ranges are
what fills the pipe. The on/off table here bounds the cost, not the benefit.

Owns: its scratch directory and the nginx it starts (stopped at exit, also on Ctrl-C).
Must never: send traffic anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import Scratch, fmt_num, load_avg, median, print_table, rotated, spread
from bench_http import CREDS, Nginx

REPO = Path(__file__).resolve().parent.parent
MiB, GiB = 1024 * 1024, 1024**3
KEY = "bench/range/data/prepared-00000000.dat"
#: (label, range_engine block or None for off)
SAI_ROWS: list[tuple[str, dict[str, Any] | None]] = [
    ("sai3bench, range_engine off", None),
    ("sai3bench, 64 MiB ranges, 4 in flight", {"chunk_size": "64MiB", "max_concurrent_ranges": 4}),
    ("sai3bench, 16 MiB ranges, 4 in flight", {"chunk_size": "16MiB", "max_concurrent_ranges": 4}),
    (
        "sai3bench, 16 MiB ranges, 16 in flight",
        {"chunk_size": "16MiB", "max_concurrent_ranges": 16},
    ),
]
PEERS = ("obstore", "s3dlio")

Result = tuple[float, float]  # (MiB/s, client CPU seconds per GiB)


def sai_run(
    url: str, work: Path, n: int, *, size: int, seconds: float, rng: dict[str, Any] | None
) -> Result:
    name = f"r{n}"
    cfg: dict[str, Any] = {
        "duration": f"{seconds:g}s",
        "concurrency": 1,
        "target": "s3://bucket/bench/range/",
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": 1, "size_spec": size}],
            "skip_verification": True,
        },
        "workload": [{"op": "get", "path": "data/*", "weight": 1}],
    }
    if rng is not None:
        cfg["range_engine"] = {"enabled": True, "min_split_size": "16MiB", **rng}
    (work / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "sai3bench", "run", "-q", "-c", str(work / f"{name}.yaml")]
    cmd += ["--skip-prepare", "--no-cleanup", "--results-dir", str(work), "--tsv-name", name]
    env = {**os.environ, **CREDS, "AWS_ENDPOINT_URL": url}
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=seconds + 120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"sai3bench exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    (rdir,) = work.glob(f"sai3-*-{name}")
    wl = json.loads((rdir / "metadata.json").read_text())["stages"]["workload"]
    res = json.loads((rdir / "results.json").read_text())
    if wl["errors"] or not wl["bytes"]:
        raise RuntimeError(f"{wl['errors']} errors, {wl['bytes']} bytes")
    # One GET always in flight: MiB/s from the mean GET latency (whole GETs in a few seconds
    # would quantise it), CPU per GiB as CPU seconds per second over GiB per second.
    mean_s = res["summary"]["workload"]["GET"]["latency_ns"]["mean"] / 1e9
    cpu_share = sum(res["verdict"]["evidence"]["cpu"])
    return size / MiB / mean_s, cpu_share / (size / GiB / mean_s)


def peer_main(a: argparse.Namespace) -> None:
    """In a child: GET the object with a peer client for a.duration seconds; print JSON."""
    get: Callable[[], Any]
    if a.peer == "obstore":
        import obstore
        from obstore.store import S3Store

        store = S3Store(
            bucket="bucket", endpoint=a.url, region="us-east-1", access_key_id="bench",
            secret_access_key="bench", virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )  # fmt: skip

        async def get() -> int:
            r = await obstore.get_async(store, KEY)
            return len(await r.bytes_async())
    else:
        import s3dlio

        s3dlio.configure_s3(endpoint_url=a.url, region="us-east-1")

        async def get() -> int:
            return len(await s3dlio.get_async(f"s3://bucket/{KEY}"))

    async def loop() -> tuple[int, float, float]:
        await get()  # connect and warm outside the timing
        r0, t0, n = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), 0
        while time.perf_counter() - t0 < a.duration:
            n += await get()
        r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
        return n, wall, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)

    n, wall, cpu = asyncio.run(loop())
    print(json.dumps({"bytes": n, "wall": wall, "cpu": cpu}), flush=True)
    os._exit(0)  # obstore 0.12's runtime aborts (SIGABRT) at interpreter exit otherwise


def peer_run(name: str, url: str, _n: int, *, seconds: float) -> Result:
    cmd = [sys.executable, __file__, "--peer", name, "--url", url, "--duration", str(seconds)]
    env = {**os.environ, **CREDS, "AWS_ENDPOINT_URL": url}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return r["bytes"] / MiB / r["wall"], r["cpu"] / (r["bytes"] / GiB)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--duration", type=float, default=6.0, help="seconds per run")
    p.add_argument("--size-mib", type=int, default=256)
    p.add_argument("--peer", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    a = parse_args()
    if a.peer:
        peer_main(a)
        return
    size = a.size_mib * MiB
    with Scratch(Path("/dev/shm"), "bench-range-") as scratch:
        nginx = Nginx(scratch.path)  # its root must be the scratch directory (made 0755)
        obj = nginx.root / "data" / "bucket" / KEY
        obj.parent.mkdir(parents=True)
        obj.write_bytes(os.urandom(size))
        work = scratch.path / "work"
        work.mkdir()
        nginx.start()
        try:
            results = measure(a, nginx.url, work, size)
        finally:
            nginx.stop()
    report(a, results)


def measure(a: argparse.Namespace, url: str, work: Path, size: int) -> dict[str, list[Result]]:
    rows: list[tuple[str, Callable[[int], Result]]] = [
        (label, functools.partial(sai_run, url, work, size=size, seconds=a.duration, rng=rng))
        for label, rng in SAI_ROWS
    ]
    rows += [
        (f"{p}, plain GET", functools.partial(peer_run, p, url, seconds=a.duration)) for p in PEERS
    ]
    results: dict[str, list[Result]] = {label: [] for label, _ in rows}
    n = 0
    for rep in range(a.reps):
        for label, run in rotated(rows, rep):
            n += 1
            try:
                results[label].append(run(n))
            except RuntimeError as exc:
                print(f"  {label}: {exc}", file=sys.stderr)
    return results


def report(a: argparse.Namespace, results: dict[str, list[Result]]) -> None:
    print(
        f"# GET of one {a.size_mib} MiB object from nginx on loopback, 1 GET at a time, "
        f"{a.duration:g} s x {a.reps}"
    )
    print(f"# load average after: {load_avg()}; medians over repetitions")
    base = median([r[0] for r in results[SAI_ROWS[0][0]]]) if results[SAI_ROWS[0][0]] else None
    table = []
    for label, rs in results.items():
        mibs = median([r[0] for r in rs]) if rs else None
        cpu = median([r[1] for r in rs]) if rs else None
        rel = f"{mibs / base:.2f}x" if mibs and base else "-"
        lo_hi = "-".join(fmt_num(x) for x in spread([r[0] for r in rs])) if rs else "-"
        table.append([label, fmt_num(mibs), lo_hi, rel, fmt_num(cpu, 2), str(len(rs))])
    print_table(["client", "MiB/s", "min-max", "vs off", "CPU s/GiB", "runs"], table, left=1)


if __name__ == "__main__":
    main()
