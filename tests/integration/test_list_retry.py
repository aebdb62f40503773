"""The LISTs the engine makes before a stage (glob resolution, prepare's skip-existing) survive
transient faults: one 503 among them used to abort the whole run (9 of 12 seeded runs at 5 %).

In process: the bundled mock's S3 dialect on 127.0.0.1, its store filled directly, then its
fault injection turned on with a fixed seed, so each case is the same every time.
"""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from sai3bench.backends.s3 import S3Backend
from sai3bench.engine.resolve import match_keys
from sai3bench.http.endpoint import endpoint_from_url
from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import Faults, start_server
from sai3bench.outcome import OpError, Outcome
from sai3bench.signers.base import Credential, StaticCredentialProvider

#: 3 pages of 1,000: one glob resolution is 3 requests, so at 5 % about 1 in 7 needs a retry.
N_KEYS = 2500


def _backend(port: int) -> S3Backend:
    return S3Backend(
        "bench",
        endpoint=endpoint_from_url(f"http://127.0.0.1:{port}"),
        region="us-east-1",
        credentials=StaticCredentialProvider(Credential("k", "s")),
        max_connections=4,
    )


async def _resolve_under_faults(faults: Faults, rounds: int) -> list[list[str]]:
    app = S3App()
    app.store.create_bucket("bench")
    for i in range(N_KEYS):
        app.store.put("bench", f"data/prepared-{i:08d}.dat", b"x")
    app.store.put("bench", "data/other.txt", b"x")
    server = await start_server(app, faults=faults)
    b = _backend(server.sockets[0].getsockname()[1])
    try:
        return [await match_keys(b, "s3://bench/data/prepared-*.dat") for _ in range(rounds)]
    finally:
        await b.close()
        await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5, 6, 7, 8, 9])
def test_glob_resolution_survives_5_percent_503s(seed: int) -> None:
    # Each seed resolves the glob 8 times (24 page requests). Without retries each of these
    # seeds failed (seed 4 happened to draw no 503 on a LIST page, so it proves nothing).
    faults = Faults(error_rate=0.05, error_status=503, seed=seed)
    results = uvloop.run(_resolve_under_faults(faults, rounds=8))
    want = [f"data/prepared-{i:08d}.dat" for i in range(N_KEYS)]
    assert all(keys == want for keys in results)


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_glob_resolution_survives_resets_and_truncated_pages(kind: str) -> None:
    # truncate failed before the fix; a reset is resent by the pool's stale-connection path.
    faults = Faults(
        reset_rate=0.05 if kind == "reset" else 0.0,
        truncate_rate=0.05 if kind == "truncate" else 0.0,
        seed=3,
    )
    results = uvloop.run(_resolve_under_faults(faults, rounds=8))
    assert all(len(keys) == N_KEYS for keys in results)


def test_glob_resolution_does_not_retry_a_refusal() -> None:
    faults = Faults(error_rate=1.0, error_status=403, seed=0)
    with pytest.raises(OpError) as info:
        uvloop.run(_resolve_under_faults(faults, rounds=1))
    assert info.value.outcome == Outcome.PERMISSION
