"""GOAWAY seen by a whole ``sai3bench run --http2``: an in-test h2 server (the ``h2`` package,
in a thread of this process) takes S3 PUTs and ends every connection at its 25th stream.

On each connection it holds the answer to the 24th stream, and on the 25th sends
GOAWAY(last_stream_id = the 24th): the 25th and anything after it were not processed and go
again on a new connection (retries after CONNECTION in the results, never errors). The held
24th is answered after a graceful GOAWAY (drained, the op succeeds) and never after an error
GOAWAY (the op fails CONNECTION: counted in the results' errors).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

from .conftest import run_cli, write_config
from .test_h2 import FaultServer, fault_server

pytestmark = pytest.mark.integration

GOAWAY_AT = 25


class EveryConnectionGoesAway(FaultServer):
    """FaultServer (a PUT is answered 201) plus the hold-24th, GOAWAY-on-25th rule above."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(state)
        self.count = 0
        self.held = 0
        self.gone = False

    def _on_request(self, sid: int, method: bytes, path: bytes) -> None:
        if self.gone:
            return  # after our GOAWAY: not processed, never answered
        self.count += 1
        if self.count == GOAWAY_AT - 1:
            self.held = sid
        if self.count == GOAWAY_AT:
            self._go_away()
        else:
            super()._on_request(sid, method, path)

    def _respond(self, sid: int, status: int, body: bytes, extra: Any = ()) -> None:
        if sid != self.held or self.gone:  # the held stream is answered by _go_away only
            super()._respond(sid, status, body, extra)

    def _go_away(self) -> None:
        assert self.transport is not None
        self.gone = True
        self.state["goaways"] += 1
        self._flush()
        code = self.state["code"]
        self.transport.write(GoAwayFrame(0, last_stream_id=self.held, error_code=code).serialize())
        if code == ErrorCodes.NO_ERROR:
            self._respond(self.held, 201, b"")  # drained: its op succeeds
            self._flush()
        self.transport.close()


@pytest.fixture
def h2_server(request: pytest.FixtureRequest) -> Iterator[tuple[int, dict[str, Any]]]:
    """The server on its own loop in a thread; (port, state). ``request.param``: the code."""
    ready: list[tuple[int, dict[str, Any]]] = []
    started, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with fault_server(protocol=EveryConnectionGoesAway) as (ep, state):
            state.update(code=request.param, goaways=0)
            ready.append((ep.port, state))
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10), "the h2 server did not start"
    try:
        yield ready[0]
    finally:
        stop.set()
        thread.join(10)


def _run(tmp_path: Path, port: int) -> tuple[int, str, dict[str, Any]]:
    cfg = write_config(
        tmp_path,
        {
            "target": "s3://bkt/goaway/",
            "duration": "1s",
            "concurrency": 8,
            "workload": [{"op": "put", "path": "new/", "object_size": 1024, "weight": 1}],
        },
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    args = ["run", "--http2", "-c", str(cfg), "--results-dir", str(tmp_path)]
    proc = run_cli(args, tmp_path, env=env, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    (meta,) = tmp_path.glob("sai3-*/metadata.json")
    workload: dict[str, Any] = json.loads(meta.read_text())["stages"]["workload"]
    return proc.returncode, proc.stdout + proc.stderr, workload


GoawayRun = tuple[int, str, dict[str, Any], dict[str, Any]]


@pytest.fixture
def goaway_run(tmp_path: Path, h2_server: tuple[int, dict[str, Any]]) -> GoawayRun:
    """A run against ``h2_server`` (parametrized with its GOAWAY code): exit code, output,
    the workload stage, the server's state."""
    port, state = h2_server
    return (*_run(tmp_path, port), state)


@pytest.mark.parametrize("h2_server", [ErrorCodes.NO_ERROR], indirect=True)
def test_graceful_goaways_cost_retries_not_errors(goaway_run: GoawayRun) -> None:
    rc, out, workload, state = goaway_run
    assert rc == 0, out[-3000:]
    assert workload["errors"] == 0 and workload["ops"] > GOAWAY_AT, out[-3000:]
    assert state["goaways"] >= 1
    # Each GOAWAY's 25th stream (at least) was resent: a retry after CONNECTION.
    assert workload["retried_after"]["PUT"]["CONNECTION"] >= state["goaways"], workload


@pytest.mark.parametrize("h2_server", [ErrorCodes.INTERNAL_ERROR], indirect=True)
def test_error_goaways_count_the_processed_as_failures(goaway_run: GoawayRun) -> None:
    rc, out, workload, state = goaway_run
    assert state["goaways"] >= 1
    # Each GOAWAY fails its held stream (CONNECTION) and resends the 25th.
    assert workload["errors"] >= state["goaways"] - 1, out[-3000:]  # the last may be late
    assert workload["errors"] >= 1 and "PUT CONNECTION" in out, out[-3000:]
    assert workload["retried_after"]["PUT"]["CONNECTION"] >= 1, workload
    assert rc == 0, out[-3000:]  # 1 op in 25 failed: under the error limits
