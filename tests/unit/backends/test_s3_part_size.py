"""An S3 multipart upload never needs more than MAX_PART_NUMBER parts (issue 8 item 10).

With fixed 16 MiB parts, an object above 156.25 GiB (10,000 parts) failed at part 10,001
although config/limits.py allows S3's 5 TiB: the part size now grows with the object, as the
Azure block size does. The limit is patched down to 4 so a 1.5 MiB object shows it.
"""

from __future__ import annotations

import asyncio

import pytest
import uvloop

import sai3bench.backends.s3 as s3
from sai3bench.backends.s3 import S3Backend
from sai3bench.http.endpoint import endpoint_from_url
from sai3bench.mock.s3app import S3App
from sai3bench.mock.server import start_server
from sai3bench.payload import payload_length, split_payload
from sai3bench.signers.base import Credential, StaticCredentialProvider


def test_parts_grow_so_the_part_count_stays_within_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []

    def spy(body: s3.Payload, part: int) -> list[s3.Payload]:
        parts = split_payload(body, part)
        sizes.extend(payload_length(p) for p in parts)
        return parts

    monkeypatch.setattr(s3, "MAX_PART_NUMBER", 4)
    monkeypatch.setattr(s3, "split_payload", spy)

    async def go() -> None:
        app = S3App()
        server = await start_server(app)
        port = server.sockets[0].getsockname()[1]
        b = S3Backend(
            "b",
            endpoint=endpoint_from_url(f"http://127.0.0.1:{port}"),
            region="us-east-1",
            credentials=StaticCredentialProvider(Credential("k", "s")),
            multipart_threshold=2**20,
            multipart_part=256 * 1024,
        )
        try:
            await b.create_bucket()
            data = bytes(range(256)) * 6144  # 1.5 MiB: 6 parts of 256 KiB, over the limit of 4
            assert (await b.put("big", memoryview(data)))[0] == len(data)
            assert b"".join(app.store.read("b", "big", 0, len(data))) == data
        finally:
            await b.close()
            await asyncio.sleep(0.05)
            server.close()
            await server.wait_closed()

    uvloop.run(go())
    assert sizes == [393216] * 4  # 384 KiB each
