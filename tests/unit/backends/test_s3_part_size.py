"""An S3 multipart upload never needs more than MAX_PART_NUMBER parts (issue 8 item 10).

With fixed 16 MiB parts, an object above 156.25 GiB (10,000 parts) failed at part 10,001
although config/limits.py allows S3's 5 TiB: the part size now grows with the object, as the
Azure block size does. The limit is patched down to 4 so a 1.5 MiB object shows it.
"""

from __future__ import annotations

import pytest
import uvloop

import sai3bench.backends.s3 as s3
from sai3bench.payload import payload_length, split_payload

from ...s3_in_process import s3_in_process


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
        async with s3_in_process(multipart_threshold=2**20, multipart_part=256 * 1024) as (app, b):
            await b.create_bucket()
            data = bytes(range(256)) * 6144  # 1.5 MiB: 6 parts of 256 KiB, over the limit of 4
            assert (await b.put("big", memoryview(data)))[0] == len(data)
            assert b"".join(app.store.read("b", "big", 0, len(data))) == data

    uvloop.run(go())
    assert sizes == [393216] * 4  # 384 KiB each
