"""HTTP benchmark: sai3bench's raw HTTP/1.1, HTTP/2 and TLS S3 client against wrk and peers.

    python tools/bench_http.py [--reps 3] [--duration 5] [--quick]

Starts a private nginx WebDAV server on 127.0.0.1 (root on a fresh tmpfs directory under
/dev/shm) with three ports serving the same tree the same way: HTTP/1.1, cleartext HTTP/2
(`listen ... http2`, prior knowledge) and TLS 1.3 (`listen ... ssl http2`; ALPN picks h2 or
http/1.1) with a certificate for 127.0.0.1 from a private CA made at start in the scratch
directory (tools/_benchtls.py; no system trust store is touched). Writes 1,000 x 1 KiB,
1,000 x 100 KiB and 16 x 16 MiB objects straight onto tmpfs. Each repetition runs a section's
clients back to back in a rotated order; tables show medians, the min-max over repetitions, and
ratios as the median of per-repetition ratios (adjacent runs share the drift of this shared VM).

1. HTTP/1.1, 32 in flight: 1 KiB GET, 1 KiB PUT, 100 KiB GET. Clients: sai3bench in one process
   and in two (16 in flight each), wrk, obstore, s3dlio and boto3 (32 threads); aiohttp only if
   installed.
2. HTTP/1.1 vs HTTP/2 (--no-h2 skips): 1 KiB GET and PUT, 32 in flight: sai3bench h1 and
   --http2 over h2c (both signed), wrk (h1) and httpx over h2c (unsigned); ratios to sai3bench
   h1 and to wrk, and the issue's targets (h2 <= 1.3x h1's CPU per GET, >= 0.9x its ops/s;
   h1 <= 20 us per GET / 32 us per PUT, >= 0.6x wrk's ops/s) marked met or not.
3. TLS 1.3 (--no-tls skips): HTTPS 1 KiB GET, 32 in flight: sai3bench h1 and h2 (ALPN),
   obstore, s3dlio, wrk, plus sai3bench h1 over plain http as the reference for TLS's per-op
   cost. Then 16 MiB GET, 8 in flight, every one of those clients over plain http (h2c for
   sai3bench h2) and over https in one rotation: MiB/s, client and nginx CPU us per MiB each
   way and the client's TLS extra per MiB. Trust: sai3bench AWS_CA_BUNDLE, obstore
   client_options root_certificate, s3dlio configure_s3(ca_bundle=); wrk cannot verify, so its
   rows say "no verify".

Columns. "client CPU us/op" (us/MiB for 16 MiB): sai3bench is (CPU of the run - CPU of the
same command for 0.2 s, 1 s for 16 MiB) / extra ops, so start-up and import cost cancel; peers
measure their own process CPU around the timed loop (RUSAGE_SELF, all threads) and their ops/s
over the loop's wall time; wrk is its whole process (start-up is negligible) over the ops it
served (below).

"server CPU us/op": nginx's master + worker utime + stime (/proc/<pid>/stat, 10 ms ticks) read
right before and right after each client's run, over the ops nginx served in it: sai3bench's
counted ops plus its late ones (finished after the deadline); a peer's timed ops plus its one
connecting op; wrk's "N requests" count, or for 16 MiB its bytes read / 16 MiB (it cuts the
GETs in flight when it stops). nginx does no per-run start-up work, so for sai3bench this is
the timed run alone, no baseline subtracted (the 0.2 s baseline run is outside the window).

Under each table, per client: client + server CPU per op; the pair's share of the machine's
cores, (client + server CPU per op) x ops/s / cores (near 100%: the run was CPU-bound on the
box, every client cycle taken from nginx); how busy the whole machine was over the run
(/proc/stat; above the pair's share: other processes, e.g. other benchmarks on this shared VM,
took cores); and nginx's cores, server CPU per op x ops/s (near 1.0: its single worker was the
limit). The dialect rows show the mock server's CPU the same way.

Then s3:// vs gs:// vs az:// through sai3bench against the bundled mock server (sink), to
compare client CPU per op across the three signers (--no-dialects skips).

--instruments (opt-in): what sai3bench's perf-log, op-log and io_rate pacing cost per op, 1 KiB
GET on the same nginx (tools/_benchinstruments.py says how); `--load none --no-h2 --no-tls
--no-dialects --instruments` runs it alone.

--quick: 1 repetition of 3 s. --load NAME runs only the named loads of section 1 (`--load none`:
none of them); --no-h2, --no-tls and --no-dialects skip those sections. --peer is internal: the
peer client mode.

Owns: its tmpfs directory and the nginx it starts (stopped at exit, also on Ctrl-C).
Must never: send traffic anywhere but 127.0.0.1, or touch the system nginx service.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import importlib.util
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchpeers import PEERS, peer_main
from _benchratios import h1_target_line, h2_target_line, pair_line, print_ratio_table
from _benchtls import make_bench_certs, print_per_byte
from _benchtls import name as tls_name
from _benchutil import (
    Metered,
    MiB,
    Scratch,
    ServerCpu,
    cpu_children,
    fmt_num,
    load_avg,
    median,
    metered,
    paired_ratio,
    print_table,
    rotated,
    run_child,
    spread,
    tree_cpu,
    version_of,
)

REPO = Path(__file__).resolve().parent.parent
KiB = 1024
N_OBJECTS = 1000
CONC = 32
BASE_S = 0.2  # duration of the start-up baseline run of sai3bench
CREDS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}

NGINX_CONF = """\
worker_processes 1;
user nobody nogroup;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_max_body_size 0;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {dir}/data/.tmp;
    # PUT replies carry an ETag so S3 SDKs that insist on one are satisfied
    map $request_method $put_etag {{ PUT "\\"bench\\""; default ""; }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {dir}/data;
        location / {{ {location} }}
    }}
    server {{
        listen 127.0.0.1:{h2port} http2;
        root {dir}/data;
        location / {{ {location} }}
    }}
{tls_server}}}
"""
#: Every port serves the same tree the same way, so plain, h2c and TLS rows differ only in wire
NGINX_LOCATION = (
    "dav_methods PUT DELETE MKCOL; create_full_put_path on; dav_access user:rw group:r all:r; "
    "add_header ETag $put_etag;"
)
#: TLS 1.3 only; ALPN offers h2 and http/1.1 on the one port (nginx 1.22: `listen ... ssl http2`)
NGINX_TLS_SERVER = """\
    server {{
        listen 127.0.0.1:{tlsport} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.3;
        root {dir}/data;
        location / {{ {location} }}
    }}
"""

# PUT over 1,000 names, as the other clients do (32 writers renaming onto one file contend)
WRK_PUT_LUA = """\
wrk.method = "PUT"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
local i = 0
request = function()
  i = (i + 1) % 1000
  return wrk.format(nil, "{path}" .. i .. ".dat")
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    """One load: GET or PUT of `size`-byte objects under bucket/bench/<prefix>, `conc` in
    flight; a GET reads `count` prepared objects round robin (sai3bench: at random)."""

    key: str
    op: str
    size: int
    prefix: str
    conc: int = CONC
    count: int = N_OBJECTS
    #: seconds of sai3bench's start-up baseline run: long enough for a few ops to finish
    base_s: float = BASE_S


LOADS = (
    Load("1 KiB GET", "get", KiB, "k1/"),
    Load("1 KiB PUT", "put", KiB, "k1/"),
    Load("100 KiB GET", "get", 100 * KiB, "k100/"),
)


@dataclass(slots=True)
class Sample:
    """One client run: ops/s, CPU seconds per op, latency percentiles (ms) if known."""

    ops_s: float
    cpu_per_op: float | None
    p50: float | None = None
    p99: float | None = None
    #: sai3bench only: CPU seconds per op within the workload stage, from the engine's own
    #: sampler (before the stage's end-of-stage work, e.g. the op-log's formatting).
    stage_cpu_per_op: float | None = None
    #: nginx's CPU seconds (master + workers) over the timed run / the ops it served then
    server_cpu_per_op: float | None = None
    #: share of all the machine's CPU time busy during the run (anyone's: other helpers too)
    box_busy: float | None = None


def metered_sample(sample: Sample, meter: Metered, ops: float) -> Sample:
    """`sample` with the server's CPU per op (over `ops`, the ops it served) and box_busy."""
    return replace(sample, server_cpu_per_op=meter.per_op(ops), box_busy=meter.box_busy)


class PeerError(RuntimeError):
    """A client run failed; the message says why in one line."""


# --- nginx ----------------------------------------------------------------------------------


def ensure_tools() -> list[str]:
    """Install nginx and wrk with apt-get if missing; return notes for the header."""
    missing = [t for t in ("nginx", "wrk") if not shutil.which(t)]
    if not missing:
        return []
    cmd = ["apt-get", "install", "-y", *missing]
    subprocess.run(cmd, check=True, capture_output=True)
    return [f"installed with apt-get: {' '.join(missing)}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """A private nginx master in its own session; `stop()` ends it by its PID.

    With `tls` (a certificate and key, e.g. _benchtls.make_bench_certs) it also serves HTTPS
    on `tlsport`."""

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None) -> None:
        self.root, self.port, self.h2port = root, free_port(), free_port()
        self.tlsport = free_port() if tls else None
        data = root / "data"
        (data / ".tmp").mkdir(parents=True)
        (data / "bucket" / "bench").mkdir(parents=True)
        tls_server = ""
        if tls:
            cert, key = tls
            tls_server = NGINX_TLS_SERVER.format(
                tlsport=self.tlsport, cert=cert, key=key, dir=root, location=NGINX_LOCATION
            )
        conf = root / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                dir=root,
                port=self.port,
                h2port=self.h2port,
                location=NGINX_LOCATION,
                tls_server=tls_server,
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = conf

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def h2_url(self) -> str:
        """Cleartext HTTP/2 with prior knowledge (h2c), same files."""
        return f"http://127.0.0.1:{self.h2port}"

    @property
    def tls_url(self) -> str:
        """HTTPS (TLS 1.3; HTTP/1.1 or h2 by ALPN), same files; only when started with `tls`."""
        if self.tlsport is None:
            raise RuntimeError("this nginx has no TLS port")
        return f"https://127.0.0.1:{self.tlsport}"

    def start(self) -> None:
        """Hand the tree to `nobody` (the worker user when started as root), start, wait."""
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "nobody:nogroup", str(self.root / "data")], check=True)
        cmd = ["nginx", "-c", str(self.conf), "-p", str(self.root)]
        self.proc = subprocess.Popen(cmd, start_new_session=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start: {(self.root / 'error.log').read_text()}")

    def cpu(self) -> float:
        """CPU seconds of the master and its workers so far (read live from /proc)."""
        return tree_cpu(self.proc.pid if self.proc else None)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def prepare(root: Path, loads: Sequence[Load] = LOADS) -> None:
    """Write each GET load's objects where sai3bench's prepare would put them (default: the
    HTTP/1.1 section's, as tools/bench_scale.py uses it)."""
    for load in {ld.prefix: ld for ld in loads if ld.op == "get"}.values():
        d = root / "data" / "bucket" / "bench" / load.prefix / "data"
        d.mkdir(parents=True, exist_ok=True)
        body = os.urandom(load.size)
        for i in range(load.count):
            (d / f"prepared-{i:08d}.dat").write_bytes(body)


# --- sai3bench --------------------------------------------------------------------------------


def sai_config(
    load: Load, seconds: float, conc: int, root: str = "s3://bucket/bench/"
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "duration": f"{seconds:g}s",
        "concurrency": conc,
        "target": f"{root}{load.prefix}",
    }
    if load.op == "get":
        ens = {"base_uri": "data/", "count": load.count, "size_spec": load.size}
        cfg["prepare"] = {"ensure_objects": [ens], "skip_verification": True}
        cfg["workload"] = [{"op": "get", "path": "data/*", "weight": 1}]
    else:
        cfg["workload"] = [{"op": "put", "path": "put/", "object_size": load.size, "weight": 1}]
    return cfg


def sai_parse(rdir: Path, name: str, op: str) -> tuple[float, float | None, float | None, int]:
    """(ops/s, p50 ms, p99 ms, ops) of one finished sai3bench run; failed ops make it fail."""
    wl = workload_meta(rdir, name)
    if wl.get("errors"):
        raise PeerError(f"{wl['errors']} failed operations")
    ops_s = float(wl["ops_per_sec"])
    p50 = p99 = None
    want = "98" if op == "get" else "99"
    tsv = (run_dir(rdir, name) / "workload_results.tsv").read_text().splitlines()
    head = tsv[0].split("\t")
    for line in tsv[1:]:
        row = dict(zip(head, line.split("\t"), strict=False))
        if row.get("bucket_idx") == want:
            p50, p99 = float(row["p50_us"]) / 1e3, float(row["p99_us"]) / 1e3
    return ops_s, p50, p99, int(wl["ops"])


def run_dir(rdir: Path, name: str) -> Path:
    """The result directory of the run named `name` (the newest, if several)."""
    dirs = sorted(rdir.glob(f"sai3-*-{name}"))
    if not dirs:
        raise PeerError(f"no result directory sai3-*-{name}")
    return dirs[-1]


def workload_meta(rdir: Path, name: str) -> dict[str, Any]:
    """The workload stage's section of one finished run's metadata.json."""
    meta = json.loads((run_dir(rdir, name) / "metadata.json").read_text())
    return dict(meta["stages"]["workload"])


def served_ops(rdir: Path, name: str) -> int:
    """Ops the server answered in full: the counted ones plus those that finished after the
    deadline (LATE, tallied apart; up to one per worker, a tenth of a 16 MiB run's ops)."""
    wl = workload_meta(rdir, name)
    return int(wl["ops"]) + int(wl.get("late") or 0)


def stage_cpu_share(rdir: Path, name: str) -> float | None:
    """Process CPU / wall of the engine during the workload stage (the verdict's evidence)."""
    res = json.loads(next(rdir.glob(f"sai3-*-{name}/results.json")).read_text())
    cpu = ((res.get("verdict") or {}).get("evidence") or {}).get("cpu")
    return float(sum(cpu)) if cpu else None


_RUN_IDS = itertools.count(1)


class SaiRunner:
    """Runs sai3bench in `procs` processes at once; knows its start-up baseline CPU."""

    def __init__(
        self,
        url: str,
        work: Path,
        procs: int,
        *,
        root: str = "s3://bucket/bench/",
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        extra: dict[str, Any] | None = None,
        server: ServerCpu = None,
    ) -> None:
        self.env = {**os.environ, **(env or {**CREDS, "AWS_ENDPOINT_URL": url})}
        self.server = server
        self.work, self.procs = work, procs
        #: Where the objects live: s3://bucket/bench/, gs://bucket/bench/, az://acct/c/bench/.
        self.root = root
        self.args = args  # extra `sai3bench run` flags, e.g. --http2
        self.extra = extra or {}  # extra config keys, e.g. {"perf_log": {"enabled": False}}
        self.base: dict[str, float] = {}

    def _launch(self, load: Load, seconds: float) -> tuple[list[subprocess.Popen[str]], list[str]]:
        procs, names = [], []
        for _ in range(self.procs):
            # unique across runners: several share `work`, and a result directory is found by name
            name = f"p{self.procs}-{next(_RUN_IDS)}"
            cfgf = self.work / f"{name}.yaml"
            cfg = {**sai_config(load, seconds, load.conc // self.procs, self.root), **self.extra}
            cfgf.write_text(yaml.safe_dump(cfg))
            cmd = [sys.executable, "-m", "sai3bench", "run", "-c", str(cfgf), "--skip-prepare"]
            cmd += ["--no-cleanup", "--results-dir", str(self.work), "--tsv-name", name]
            cmd += list(self.args)
            procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=REPO,
                    env=self.env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            names.append(name)
        return procs, names

    def _run(
        self, load: Load, seconds: float
    ) -> tuple[float, float, Metered, int, list[tuple[Any, ...]]]:
        """Run once: (total ops, CPU seconds, server and machine CPU, ops the server served,
        per-process (ops/s, p50, p99))."""
        cpu0 = cpu_children()
        (procs, names, outs), meter = metered(self.server, lambda: self._wait(load, seconds))
        cpu = cpu_children() - cpu0
        for p, (_, err) in zip(procs, outs, strict=True):
            if p.returncode != 0:
                lines = [ln for ln in err.splitlines() if ln.strip() and "hint:" not in ln]
                raise PeerError(f"exit {p.returncode}: {lines[-1:]}")
        res = [(*sai_parse(self.work, n, load.op), stage_cpu_share(self.work, n)) for n in names]
        served = sum(served_ops(self.work, n) for n in names)
        return sum(r[3] for r in res), cpu, meter, served, res

    def _wait(
        self, load: Load, seconds: float
    ) -> tuple[list[subprocess.Popen[str]], list[str], list[tuple[str, str]]]:
        """Launch and wait for every process: (processes, run names, (stdout, stderr) each)."""
        procs, names = self._launch(load, seconds)
        try:
            outs = [p.communicate(timeout=seconds + 120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        return procs, names, outs

    def sample(self, load: Load, seconds: float) -> Sample:
        """ops/s summed over processes; p50 is their median, p99 their maximum (an upper
        bound: the processes' histograms are not merged). Server CPU per op is that of the
        timed run alone: nginx does no start-up work per run, so no baseline is subtracted."""
        if load.key not in self.base:
            ops, cpu, *_ = self._run(load, load.base_s)
            self.base[load.key] = cpu
            self.base[load.key + "ops"] = ops
        ops, cpu, meter, served, res = self._run(load, seconds)
        extra = max(ops - self.base[load.key + "ops"], 1.0)
        ops_s = sum(r[0] for r in res)
        if ops_s <= 0:
            raise PeerError("no operation completed")
        p50 = median([r[1] for r in res if r[1] is not None]) if res[0][1] is not None else None
        p99 = max(r[2] for r in res) if res[0][2] is not None else None
        shares = [r[4] for r in res]
        stage = sum(shares) / ops_s if None not in shares else None
        client = (cpu - self.base[load.key]) / extra
        return metered_sample(Sample(ops_s, client, p50, p99, stage), meter, served)


# --- wrk --------------------------------------------------------------------------------------


def _wrk_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise PeerError(f"wrk latency {text!r}")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def wrk_sample(
    url: str, work: Path, load: Load, seconds: float, server: ServerCpu = None
) -> Sample:
    """wrk -t2 -c<conc> on one object (GET) or PUT over 1,000 names (from a Lua script).

    Over https wrk does not verify the server's certificate (it has no option to): its rows
    say "no verify"."""
    cmd = ["wrk", "-t2", f"-c{load.conc}", f"-d{seconds:g}s", "--latency"]
    if load.op == "get":
        cmd.append(f"{url}/bucket/bench/{load.prefix}data/prepared-00000000.dat")
    else:
        lua = work / "put.lua"
        lua.write_text(WRK_PUT_LUA.format(path=f"/bucket/bench/{load.prefix}put/wrk-"))
        cmd += ["-s", str(lua), url]
    r, meter = metered(server, lambda: run_child(cmd, timeout=seconds + 60))
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    if r.returncode != 0 or not m:
        raise PeerError(f"wrk exit {r.returncode}: {r.tail(2)}")
    if re.search(r"Non-2xx or 3xx responses:\s+(\d+)", r.stdout):
        raise PeerError("wrk saw non-2xx responses")
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", r.stdout, re.M))
    ops_s = float(m.group(1))
    n = _wrk_ops(r.stdout, load.size) or ops_s * seconds
    p50, p99 = _wrk_ms(pct["50"]), _wrk_ms(pct["99"])
    return metered_sample(Sample(ops_s, r.cpu_s / n, p50, p99), meter, n)


def _wrk_ops(out: str, size: int) -> float | None:
    """The ops wrk's run served: its "N requests in" count (its run overshoots -d by ~0.1 s, so
    Requests/sec x -d falls short by a few %); for objects of 1 MiB and more its bytes read /
    object size (it cuts the GETs in flight when it stops and counts only whole ones)."""
    m = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read", out)
    if not m:
        return None
    if size < MiB:
        return float(m.group(1))
    unit = 1 << (10 * "BKMGT".index(m.group(3)[0]))  # wrk's units are binary
    return float(m.group(2)) * unit / size


def peer_sample(
    name: str,
    url: str,
    load: Load,
    seconds: float,
    ca: Path | None = None,
    server: ServerCpu = None,
) -> Sample:
    """Parent side: one peer run in a child with a time limit; `ca`: the CA to trust (https).
    The server served the peer's timed ops plus its one connecting op (the JSON's "ops")."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--peer", name, "--url", url]
    cmd += ["--op", load.op, "--size", str(load.size), "--prefix", load.prefix]
    cmd += ["--duration", f"{seconds:g}", "--conc", str(load.conc), "--count", str(load.count)]
    cmd += ["--ca", str(ca)] if ca else []
    try:
        r, meter = metered(server, lambda: run_child(cmd, timeout=seconds + 60))
    except subprocess.TimeoutExpired as e:
        raise PeerError(f"timed out after {seconds + 60:.0f} s") from e
    if r.returncode != 0 or not r.stdout.strip():
        raise PeerError(f"exit {r.returncode}: {r.tail(1)}")
    fields = json.loads(r.stdout.strip().splitlines()[-1])
    s = Sample(**{k: v for k, v in fields.items() if k != "ops"})
    if s.ops_s <= 0:
        raise PeerError("no operation completed")
    return metered_sample(s, meter, int(fields["ops"]) + 1)


# --- harness ----------------------------------------------------------------------------------

Results = dict[str, list[Sample | str]]  # client -> one Sample (or failure text) per rep


def env_lines(root: Path, notes: list[str]) -> list[str]:
    def ver(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    pkgs = ("sai3bench", "uvloop", "obstore", "s3dlio", "boto3", "aiohttp")
    return [
        f"nproc           {len(os.sched_getaffinity(0))}",
        f"load average    {load_avg()}",
        f"python          {sys.version.split()[0]}",
        f"nginx           {version_of(['nginx', '-v'])}",
        f"wrk             {_wrk_version()}",
        *(f"{p:<15} {ver(p)}" for p in pkgs),
        f"server root     {root} (tmpfs), 1 nginx worker",
        *notes,
    ]


def _wrk_version() -> str:
    """wrk -v prints its version but exits 1, which version_of reports as a failure."""
    r = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return ((r.stdout or r.stderr).splitlines() or ["?"])[0]


def run_load(
    load: Load, clients: dict[str, Callable[[Load], Sample]], reps: int, after: Callable[[], Any]
) -> Results:
    """Every client `reps` times in rotated order; `after()` runs after each (outside timing)."""
    out: Results = {c: [] for c in clients}
    for rep in range(reps):
        for name in rotated(list(clients), rep):
            try:
                out[name].append(clients[name](load))
            except (PeerError, OSError, KeyError, ValueError, subprocess.TimeoutExpired) as e:
                out[name].append(f"failed: {str(e)[:100]}")
            print(f"  [{load.key} rep {rep + 1}] {name}: {_brief(out[name][-1])}", flush=True)
            after()
    return out


def _brief(s: Sample | str) -> str:
    return s if isinstance(s, str) else f"{s.ops_s:,.0f} ops/s"


def _ops(xs: list[Sample | str]) -> list[float]:
    """ops/s per rep, 0 for a failed rep (paired_ratio skips it when it is the divisor)."""
    return [x.ops_s if isinstance(x, Sample) else 0.0 for x in xs]


def _med(xs: list[Sample | str], attr: str, scale: float = 1.0, digits: int = 2) -> str:
    vals = [getattr(x, attr) for x in xs if isinstance(x, Sample)]
    vals = [v * scale for v in vals if v is not None]
    return fmt_num(median(vals), digits) if vals else "-"


def print_load(load: Load, res: Results) -> None:
    sai1 = _ops(res["sai3bench 1 proc"])
    rows = []
    for name, xs in res.items():
        ok = [x for x in xs if isinstance(x, Sample)]
        if not ok:
            rows.append([name, str(xs[0])[:60], "", "", "", "", "", ""])
            continue
        lo, hi = spread([x.ops_s for x in ok])
        ops = f"{median([x.ops_s for x in ok]):,.0f} ({lo:,.0f}-{hi:,.0f})"
        r = paired_ratio(sai1, _ops(xs)) if not name.startswith("sai3bench 1") else None
        ratio = fmt_num(r, 2) if r else "-"
        cpu = [_med(xs, "cpu_per_op", 1e6, 1), _med(xs, "server_cpu_per_op", 1e6, 1)]
        rows.append([name, ops, *cpu, _med(xs, "p50"), _med(xs, "p99"), ratio, str(len(ok))])
    print(f"\n{load.key}  ({load.conc} in flight)")
    hdr = ["client", "ops/s median (min-max)", "client CPU us/op", "server CPU us/op"]
    print_table([*hdr, "p50 ms", "p99 ms", "sai1/peer", "reps ok"], rows)
    print(pair_line(res))
    if "wrk" in res:
        best = [max(a, b) for a, b in zip(sai1, _ops(res["sai3bench 2 proc"]), strict=False)]
        r = paired_ratio(best, _ops(res["wrk"]))
        print(f"sai3bench (best of 1 or 2 proc) / wrk: {fmt_num(r, 2) if r else '-'}")


def make_clients(
    url: str, work: Path, seconds: float, server: ServerCpu
) -> dict[str, Callable[[Load], Sample]]:
    sai1 = SaiRunner(url, work, 1, server=server)
    sai2 = SaiRunner(url, work, 2, server=server)
    clients: dict[str, Callable[[Load], Sample]] = {
        "sai3bench 1 proc": lambda ld: sai1.sample(ld, seconds),
        "sai3bench 2 proc": lambda ld: sai2.sample(ld, seconds),
        "wrk": lambda ld: wrk_sample(url, work, ld, seconds, server),
    }

    def peer(name: str) -> Callable[[Load], Sample]:
        return lambda ld: peer_sample(name, url, ld, seconds, server=server)

    return clients | {name: peer(name) for name in ("obstore", "s3dlio", "boto3", "aiohttp")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3, quick 1)")
    ap.add_argument("--duration", type=float, default=None, help="s per run (default 5, quick 3)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-dialects", action="store_true", help="skip the s3/gs/az mock rows")
    ap.add_argument("--no-h2", action="store_true", help="skip the HTTP/2 (h2c) rows")
    ap.add_argument("--no-tls", action="store_true", help="skip the HTTPS and 16 MiB rows")
    ap.add_argument("--load", action="append", help="only this load, e.g. '1 KiB GET' (repeat)")
    ap.add_argument("--instruments", action="store_true", help="perf-log/op-log/io_rate cost")
    ap.add_argument("--peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    for opt in ("--url", "--op", "--prefix", "--ca"):
        ap.add_argument(opt, help=argparse.SUPPRESS)
    for opt, default in (("--size", None), ("--conc", CONC), ("--count", N_OBJECTS)):
        ap.add_argument(opt, type=int, default=default, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.reps = a.reps or (1 if a.quick else 3)
    if a.peer is None:
        a.duration = a.duration or (3.0 if a.quick else 5.0)
    return a


def main() -> int:
    a = parse_args()
    if a.peer:
        peer_main(a, CREDS)
        return 0
    # a shell that starts us in the background sets SIGINT to ignored; Ctrl-C must still stop nginx
    signal.signal(signal.SIGINT, signal.default_int_handler)
    notes = ensure_tools()
    with Scratch(Path("/dev/shm"), "sai3-bench-http-") as scratch:
        try:
            bench(a, notes, scratch)
        except KeyboardInterrupt:  # nginx is stopped and the child killed by then
            print(f"\ninterrupted: removing {scratch.path}", file=sys.stderr)
            return 130
    return 0


def bench(a: argparse.Namespace, notes: list[str], scratch: Scratch) -> None:
    """Every section against a fresh nginx in `scratch` (stopped on the way out)."""
    certs = None if a.no_tls else make_bench_certs(scratch.path / "tls")
    if not a.no_tls and certs is None:
        notes.append("TLS rows      skipped (the cryptography package is not installed)")
    nginx = Nginx(scratch.path / "srv", tls=(certs.cert, certs.key) if certs else None)
    work = scratch.path / "work"
    work.mkdir()
    os.chmod(scratch.path, 0o755)  # nginx workers run as nobody and must traverse it
    loads = [ld for ld in LOADS if not a.load or ld.key in a.load]
    prepare(nginx.root, [*loads, *H2_LOADS, TLS_SMALL, *([BIG] if certs else [])])
    try:
        nginx.start()
        print("\n".join(env_lines(nginx.root, notes)))
        print(f"runs            {a.reps} reps x {a.duration:g} s, rotated order; {nginx.url}")
        run_sections(a, nginx, work, scratch, certs.ca if certs else None)
    finally:
        nginx.stop()
    if not a.no_dialects:
        dialect_section(work, a.reps, a.duration)


def run_sections(
    a: argparse.Namespace, nginx: Nginx, work: Path, scratch: Scratch, ca: Path | None
) -> None:
    """Each section's runs, then its tables (a later section's failure keeps them printed)."""

    def wipe(ld: Load) -> Callable[[], Any]:
        # PUT objects are removed after every run, so each client starts on an empty dir
        return functools.partial(
            wipe_put_dir, scratch, nginx.root / "data/bucket/bench" / ld.prefix
        )

    clients = make_clients(nginx.url, work, a.duration, nginx.cpu)
    if importlib.util.find_spec("aiohttp") is None:
        del clients["aiohttp"]
        print("aiohttp row     skipped (not installed)")
    for ld in [ld for ld in LOADS if not a.load or ld.key in a.load]:
        print_load(ld, run_load(ld, clients, a.reps, wipe(ld)))
    if not a.no_h2:
        print_h2(h2_section(nginx, work, a.reps, a.duration, wipe))
    if ca is not None:
        print_tls(tls_section(nginx, work, a.reps, a.duration, ca))
    if a.instruments:
        from _benchinstruments import print_instruments

        print_instruments(instruments_load(nginx.url, work, a.reps, a.duration, nginx.cpu))


def wipe_put_dir(scratch: Scratch, prefix_dir: Path) -> None:
    """Remove `prefix_dir`/put, retrying: nginx may still be renaming a PUT's temp file into it
    for a moment after the client has closed its connections (rmtree then finds a new file)."""
    for attempt in range(10):
        try:
            scratch.wipe(prefix_dir / "put")
            return
        except OSError:
            if attempt == 9:
                raise
            time.sleep(0.1)


Client = Callable[[Load], Sample]
#: The h1 table's 1 KiB loads again, h1 and h2 side by side in one rotation
H2_LOADS = (LOADS[0], LOADS[1])
TLS_SMALL = Load("HTTPS 1 KiB GET", "get", KiB, "k1/")
BIG = Load("16 MiB GET", "get", 16 * MiB, "m16/", conc=8, count=16, base_s=1.0)


def h2_section(
    nginx: Nginx, work: Path, reps: int, seconds: float, wipe: Callable[[Load], Callable[[], Any]]
) -> list[tuple[Load, Results]]:
    """1 KiB GET and PUT: sai3bench h1 and --http2 (h2c, prior knowledge; signed), wrk (h1)
    and httpx h2c (unsigned), all on the same nginx tree, rotated per repetition."""
    srv = nginx.cpu
    h1 = SaiRunner(nginx.url, work, 1, server=srv)
    h2 = SaiRunner(nginx.h2_url, work, 1, args=("--http2",), server=srv)
    clients: dict[str, Client] = {
        "sai3bench h1": lambda ld: h1.sample(ld, seconds),
        "sai3bench h2c": lambda ld: h2.sample(ld, seconds),
        "wrk h1": lambda ld: wrk_sample(nginx.url, work, ld, seconds, srv),
        "httpx h2c": lambda ld: peer_sample("httpx-h2c", nginx.h2_url, ld, seconds, server=srv),
    }
    return [(ld, run_load(ld, clients, reps, wipe(ld))) for ld in H2_LOADS]


def print_h2(sections: list[tuple[Load, Results]]) -> None:
    """Each h1-vs-h2 table, then the issue's targets for it (h2/h1, and h1 per op / wrk)."""
    for ld, res in sections:
        title = f"{ld.key}, HTTP/1.1 vs HTTP/2 h2c  ({ld.conc} in flight)"
        print_ratio_table(title, res, ref="sai3bench h1", wrk="wrk h1")
        print(h2_target_line(res, "sai3bench h1", "sai3bench h2c", gated=ld.op == "get"))
        print(h1_target_line(res, "sai3bench h1", "wrk h1", 20.0 if ld.op == "get" else 32.0))


def scheme_clients(
    nginx: Nginx, work: Path, seconds: float, ca: Path, scheme: str
) -> dict[str, Client]:
    """sai3bench (h1, and h2: h2c on http, ALPN on https), obstore, s3dlio and wrk over
    `scheme`; over https each trusts `ca` its own way (_benchtls.TRUST), wrk verifies nothing."""
    tls = scheme == "https"
    url, h2url = (nginx.tls_url, nginx.tls_url) if tls else (nginx.url, nginx.h2_url)
    trust = {"AWS_CA_BUNDLE": str(ca)} if tls else {}
    srv = nginx.cpu
    h1 = SaiRunner(url, work, 1, env={**CREDS, "AWS_ENDPOINT_URL": url, **trust}, server=srv)
    h2env = {**CREDS, "AWS_ENDPOINT_URL": h2url, **trust}
    h2 = SaiRunner(h2url, work, 1, env=h2env, args=("--http2",), server=srv)
    pca = ca if tls else None

    def peer(name: str) -> Client:
        return lambda ld: peer_sample(name, url, ld, seconds, pca, srv)

    return {
        tls_name("sai3bench h1", scheme): lambda ld: h1.sample(ld, seconds),
        tls_name("sai3bench h2", scheme): lambda ld: h2.sample(ld, seconds),
        tls_name("obstore", scheme): peer("obstore"),
        tls_name("s3dlio", scheme): peer("s3dlio"),
        tls_name("wrk", scheme): lambda ld: wrk_sample(url, work, ld, seconds, srv),
    }


def tls_section(
    nginx: Nginx, work: Path, reps: int, seconds: float, ca: Path
) -> list[tuple[Load, Results]]:
    """HTTPS 1 KiB GET (plus sai3bench h1 over http as the reference for TLS's per-op cost),
    then 16 MiB GET with every client over http and https in one rotation."""
    plain = scheme_clients(nginx, work, seconds, ca, "http")
    secure = scheme_clients(nginx, work, seconds, ca, "https")
    ref = tls_name("sai3bench h1", "http")
    small = run_load(TLS_SMALL, {**secure, ref: plain[ref]}, reps, lambda: None)
    big = run_load(BIG, {**plain, **secure}, reps, lambda: None)
    return [(TLS_SMALL, small), (BIG, big)]


def print_tls(sections: list[tuple[Load, Results]]) -> None:
    """The HTTPS 1 KiB table (ratios to sai3bench h1 over https), then the per-byte table."""
    for ld, res in sections:
        title = f"{ld.key}, TLS 1.3 against nginx  ({ld.conc} in flight)"
        if ld.size < MiB:
            wrk = tls_name("wrk", "https")
            print_ratio_table(title, res, ref=tls_name("sai3bench h1", "https"), wrk=wrk)
        else:
            print_per_byte(f"{ld.key}  ({ld.conc} in flight, {ld.count} objects)", res, ld.size)


def instruments_load(url: str, work: Path, reps: int, seconds: float, server: ServerCpu) -> Results:
    """1 KiB GET, 1 process, with each instrument on alone (tools/_benchinstruments.py)."""
    from _benchinstruments import OFF, variants

    def client(extra: dict[str, Any], args: tuple[str, ...]) -> Callable[[Load], Sample]:
        runner = SaiRunner(url, work, 1, extra=extra, args=args, server=server)
        return lambda ld: runner.sample(ld, seconds)

    calibrate = client(OFF, ())
    ops_s = calibrate(LOADS[0]).ops_s  # io_rate's rate is 10x this: every slot is due
    print(f"instruments     baseline {ops_s:,.0f} ops/s: io_rate at {10 * ops_s:,.0f}/s")
    clients = {"baseline": calibrate} | {
        name: client(extra, args) for name, (extra, args) in variants(work, 10 * ops_s).items()
    }
    return run_load(LOADS[0], clients, reps, lambda: None)


def dialect_section(work: Path, reps: int, seconds: float) -> None:
    """s3:// vs gs:// vs az:// through the same engine against the bundled mock (sink)."""
    from _benchdialects import run_dialects

    loads = [ld for ld in LOADS if ld.size == KiB]
    print("\ndialects against the bundled mock server (--sink), sai3bench 1 proc, 32 in flight")
    res = run_dialects(
        REPO,
        work,
        loads,
        reps,
        lambda root, env, server: SaiRunner("", work, 1, root=root, env=env, server=server),
        lambda runner, ld: runner.sample(ld, seconds),
        {},
    )
    for key, by in res.items():
        s3 = _ops(by["s3"])
        s3_cpu = [x.cpu_per_op for x in by["s3"] if isinstance(x, Sample) and x.cpu_per_op]
        rows = []
        for name, xs in by.items():
            ok = [x for x in xs if isinstance(x, Sample)]
            if not ok:
                rows.append([name, str(xs[0])[:60], "", "", "", "", "", ""])
                continue
            cpu = [x.cpu_per_op for x in ok if x.cpu_per_op]
            cpu_ratio = median(cpu) / median(s3_cpu) if cpu and s3_cpu else None
            r = paired_ratio(_ops(xs), s3)
            rows.append(
                [
                    name,
                    f"{median([x.ops_s for x in ok]):,.0f}",
                    _med(xs, "cpu_per_op", 1e6, 1),
                    _med(xs, "server_cpu_per_op", 1e6, 1),
                    _med(xs, "p50"),
                    _med(xs, "p99"),
                    fmt_num(cpu_ratio, 2) if cpu_ratio else "-",
                    fmt_num(r, 2) if r else "-",
                ]
            )
        print(f"\n{key} via the mock  (32 in flight)")
        hdr = ["dialect", "ops/s median", "client CPU us/op", "server CPU us/op", "p50 ms"]
        print_table([*hdr, "p99 ms", "CPU/s3", "ops/s vs s3"], rows)
        print(pair_line(by, server="mock"))


if __name__ == "__main__":
    sys.exit(main())
