"""H2Pool's resend of a stream the server provably did not process (GOAWAY naming an earlier
stream) is told to the op's runner like an HTTP/1.1 resend: a retry, never hidden."""

from __future__ import annotations

import pytest

from sai3bench.http import resends
from sai3bench.http.h2conn import H2Unprocessed
from sai3bench.http.h2pool import H2Pool
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

from .test_h2 import fault_server


def test_an_unprocessed_stream_is_resent_once_and_told(run_loop: LoopRunner) -> None:
    async def go() -> tuple[int, list[int]]:
        heard: list[int] = []
        resends.listen(heard)
        async with fault_server() as (ep, _):
            pool = H2Pool(ep, connections=1)
            try:
                assert (await pool.request("GET", "/small", timeout=5)).status == 200
                # GOAWAY names stream 1: ours (3) was not processed and goes out again on a
                # fresh connection, where it is stream 1 and the GOAWAY a plain failure.
                with pytest.raises(OpError) as err:
                    await pool.request("GET", "/goaway", timeout=5)
                assert err.value.outcome == Outcome.CONNECTION
                assert not isinstance(err.value, H2Unprocessed)
                return pool.resent, heard
            finally:
                await pool.close()

    resent, heard = run_loop(go())
    assert resent == 1 and heard == [Outcome.CONNECTION]
