"""tools/bench_http.py's TLS pieces: a private CA for 127.0.0.1, how each client is told to
trust it, and the per-byte table of large GETs over plain HTTP and over TLS 1.3.

The CA and server certificate are made at benchmark start in the bench's scratch directory by
tests/integration/tlscerts.py (the one model of an on-prem private CA; `cryptography`, EC P-256,
valid two days). Nothing is added to a system trust store: each client is pointed at ca.pem on
its own (TRUST says how), and a client that cannot be is labelled "no verify", never silently
run without verification.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from _benchratios import Runs, pair_line, paired, per_rep
from _benchutil import MiB, fmt_num, median, print_table

if TYPE_CHECKING:
    from tests.integration.tlscerts import CertFiles

REPO = Path(__file__).resolve().parent.parent

#: client -> how it trusts the bench's CA over https (the per-byte table's "trust" column)
TRUST = {
    "sai3bench h1": "AWS_CA_BUNDLE",
    "sai3bench h2": "AWS_CA_BUNDLE, ALPN h2",
    "obstore": "client_options root_certificate",
    "s3dlio": "configure_s3(ca_bundle=)",
    "wrk": "no verify (wrk cannot)",
}
SCHEMES = ("http", "https")


def make_bench_certs(directory: Path) -> CertFiles | None:
    """ca.pem, cert.pem, key.pem in `directory` (a CertFiles), or None without `cryptography`."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return None
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.integration.tlscerts import make_certs

    directory.mkdir(parents=True, exist_ok=True)
    return make_certs(directory)


def name(client: str, scheme: str) -> str:
    """The row name of `client` over `scheme`; "(no verify)" when it trusts any certificate."""
    unverified = scheme == "https" and TRUST.get(client, "").startswith("no verify")
    return f"{client}, {scheme}" + (" (no verify)" if unverified else "")


def _us_per_mib(xs: Runs, size: int, attr: str = "cpu_per_op") -> list[float | None]:
    """CPU µs per MiB of each repetition (`attr`: cpu_per_op, the client's, or
    server_cpu_per_op, nginx's; both seconds per `size`-byte GET)."""
    return [None if c is None else c * 1e6 / (size / MiB) for c in per_rep(xs, attr)]


def _cell(vals: list[float | None], digits: int = 0) -> str:
    ok = [v for v in vals if v is not None]
    return fmt_num(median(ok), digits) if ok else "-"


def per_byte_rows(res: Mapping[str, Runs], size: int) -> list[list[str]]:
    """Per client: MiB/s and client CPU µs/MiB over http and https, https/http MiB/s (paired),
    the client's TLS extra CPU per MiB (median of the per-repetition differences), then the
    server's CPU µs/MiB over http and https."""
    rows = []
    for client, trust in TRUST.items():
        plain, tls = res.get(name(client, "http")), res.get(name(client, "https"))
        if plain is None or tls is None:
            continue
        mib_s = [
            _cell([None if v is None else v * size / MiB for v in per_rep(xs, "ops_s")])
            for xs in (plain, tls)
        ]
        cpu = [_us_per_mib(plain, size), _us_per_mib(tls, size)]
        extra = [b - a for a, b in zip(*cpu, strict=False) if a is not None and b is not None]
        ratio = paired(tls, plain, "ops_s")
        rows.append(
            [
                client,
                trust,
                *mib_s,
                "-" if ratio is None else f"{ratio:.2f}x",
                _cell(cpu[0]),
                _cell(cpu[1]),
                f"{median(extra):+,.0f}" if extra else "-",
                *(_cell(_us_per_mib(xs, size, "server_cpu_per_op")) for xs in (plain, tls)),
            ]
        )
    return rows


def print_per_byte(title: str, res: Mapping[str, Runs], size: int) -> None:
    """The plain-vs-TLS table of one large-GET load."""
    print(f"\n{title}: per-byte cost, plain http vs TLS 1.3 (same nginx, objects, concurrency)")
    hdr = ["client", "trust (https)", "MiB/s http", "MiB/s https", "https/http"]
    hdr += ["CPU us/MiB http", "CPU us/MiB https", "TLS extra us/MiB"]
    hdr += ["server us/MiB http", "server us/MiB https"]
    print_table(hdr, per_byte_rows(res, size))
    print(
        "CPU us/MiB and TLS extra are the client's; server is nginx's (master + its one worker, "
        "which over https encrypts every byte on one core: at ~1.0 core it caps MiB/s)."
    )
    print(pair_line(res, size / MiB, "MiB"))
