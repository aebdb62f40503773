"""A response whose framing reads but whose other fields do not (a line without a colon):
HttpClient.request asked for one header fails the op as PROTOCOL and frees the connection's
slot (it raised the parser's ProtocolError and kept the slot: a pool of one then waited out
its bound on the next request)."""

from __future__ import annotations

import asyncio

import pytest

from sai3bench.http.client import HttpClient
from sai3bench.http.endpoint import Endpoint
from sai3bench.outcome import OpError, Outcome
from tests.conftest import LoopRunner

BAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nno colon here\r\nETag: x\r\n\r\nok"
GOOD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: y\r\n\r\nok"


class Answers(asyncio.Protocol):
    """The first request of all gets BAD, every later one GOOD."""

    served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.seen = b""

    def data_received(self, data: bytes) -> None:
        self.seen += data
        while b"\r\n\r\n" in self.seen:
            _, _, self.seen = self.seen.partition(b"\r\n\r\n")
            self.t.write(BAD if Answers.served == 0 else GOOD)
            Answers.served += 1


def test_bad_field_line_fails_the_op_and_frees_the_slot(run_loop: LoopRunner) -> None:
    async def go() -> tuple[OpError, bytes, int]:
        Answers.served = 0
        server = await asyncio.get_running_loop().create_server(Answers, "127.0.0.1", 0)
        client = HttpClient(
            Endpoint("127.0.0.1", server.sockets[0].getsockname()[1]),
            max_connections=1,
            timeout=2.0,
        )
        try:
            with pytest.raises(OpError) as info:
                await client.request("GET", "/k", [], header=b"etag")
            reply = await asyncio.wait_for(client.request("GET", "/k", [], header=b"etag"), 5)
            return info.value, reply.header, client.h1._open
        finally:
            await client.close()
            server.close()
            await server.wait_closed()

    err, etag, still_open = run_loop(go())
    assert err.outcome == Outcome.PROTOCOL
    assert "no colon here" in str(err)
    assert etag == b"y"
    assert still_open == 1
