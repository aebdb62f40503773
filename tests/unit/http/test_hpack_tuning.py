"""The HPACK tuning keeps the wire valid: a tuned encoder's blocks decode to the same headers,
and the memoised decoder gives hpack's own answers, for bytes and for views."""

from __future__ import annotations

import h2.connection
import hpack.hpack
from hpack import Decoder, Encoder
from hpack.huffman_table import decode_huffman as plain_decode

from sai3bench.http.h2conn import h2_client_config
from sai3bench.http.hpack_tuning import install_process_wide, plain_literals

HEADERS = [
    (b":method", b"GET"),
    (b":path", b"/bucket/data/prepared-00000001.dat"),
    (b"authorization", b"AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/s3/aws4_request"),
    (b"x-amz-date", b"20261128T120000Z"),
]


def test_plain_literals_round_trip_and_skip_huffman() -> None:
    conn = h2.connection.H2Connection(config=h2_client_config())
    plain_literals(conn)
    block = conn.encoder.encode(HEADERS)
    assert b"prepared-00000001.dat" in block  # sent as a plain literal
    assert Decoder().decode(block, raw=True) == HEADERS
    huffman = Encoder().encode(HEADERS)
    assert len(huffman) < len(block)  # what Huffman would have saved


def test_decode_cache_matches_hpack() -> None:
    install_process_wide()
    install_process_wide()  # idempotent
    for value in [b"nginx", b"application/octet-stream", bytes(range(256))] * 2:
        encoded = Encoder().huffman_coder.encode(value)
        assert hpack.hpack.decode_huffman(encoded) == plain_decode(encoded) == value
        assert hpack.hpack.decode_huffman(memoryview(encoded)) == value  # views bypass the cache
    hpack.hpack.log.debug("still callable %d", 1)
