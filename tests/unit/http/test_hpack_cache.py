"""The memoised Huffman coders give hpack's own answers, for bytes and for views."""

from __future__ import annotations

import h2.connection
import hpack.hpack
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman as plain_decode

from sai3bench.http.h2conn import h2_client_config
from sai3bench.http.hpack_cache import cache_encoder, install_decode_cache

VALUES = [
    b"",
    b"nginx",
    b"application/octet-stream",
    b"Sat, 28 Nov 2026 12:00:00 GMT",
    bytes(range(256)),
]


def test_encode_cache_matches_hpack_and_round_trips() -> None:
    plain = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
    conn = h2.connection.H2Connection(config=h2_client_config())
    cache_encoder(conn)
    install_decode_cache()
    install_decode_cache()  # idempotent
    coder = conn.encoder.huffman_coder
    for value in VALUES * 2:  # the second pass is served from the cache
        encoded = coder.encode(value)
        assert encoded == plain.encode(value)
        assert hpack.hpack.decode_huffman(encoded) == plain_decode(encoded)
        assert hpack.hpack.decode_huffman(memoryview(encoded)) == value  # views bypass the cache
