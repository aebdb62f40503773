"""Session-wide guard: no test may reach a cloud metadata service (traffic stays on 127.0.0.1);
and ``run_loop``, the one fixture that runs a test's coroutine on both uvloop and asyncio.

google-auth probes the GCE metadata server, botocore the EC2 one and azure-identity Azure's
IMDS when no other credential is found; all are pointed at a closed loopback port (or
disabled) for the whole run, and the CLI subprocesses the tests start inherit this.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
os.environ["NO_GCE_CHECK"] = "True"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# azure-identity's managed-identity probe (IMDS) when sai3bench[azure] is installed
os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:9"
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
os.environ.pop("STORAGE_EMULATOR_HOST", None)
os.environ.pop("GCS_ENDPOINT_URL", None)


# -- event loops ---------------------------------------------------------------------------------

LoopRunner = Callable[[Coroutine[Any, Any, Any]], Any]
"""Runs a coroutine to completion on a fresh event loop and returns its result."""

_LOOP_RUNNERS: dict[str, LoopRunner] = {
    "uvloop": uvloop.run,
    "asyncio": asyncio.run,
}


@pytest.fixture(params=sorted(_LOOP_RUNNERS))
def run_loop(request: pytest.FixtureRequest) -> LoopRunner:
    """``run_loop(coro)`` on a fresh uvloop loop, then on a fresh asyncio one (two test ids).

    For tests whose code touches the loop's transports, futures or timers: production runs on
    uvloop, whose transports differ from asyncio's (BufferedProtocol, writelines, close order),
    and both must work. A test that only awaits plain coroutines needs neither twice.
    """
    return _LOOP_RUNNERS[request.param]
