"""CPU per HPACK operation: ours (sai3bench/http/hpack.py) against the ``hpack`` package.

Two hot-path cases, each timed as process CPU time / ops, median of ``--runs`` runs:
- encode: a signed S3 GET (x-amz-date, x-amz-content-sha256, a ~200-char authorization);
- decode: a response block as nginx 1.22 writes it (captured; see NGINX_BLOCK): the same
  block again (our whole-block memo hits and replays its 5 insertions), a distinct etag per
  block (the block memo misses, the Huffman memo hits but for the etag), and the same block
  with both memos off (every string decoded). One decoder throughout: its table is full and
  every block evicts, as on a long-lived connection.
- decode a new object's PUT response (201, captured; see NGINX_PUT_BLOCK) with a unique
  Huffman-coded location per block, eager and lazy (HpackDecoder(lazy=True), as H2Connection
  decodes: a first-seen value is left coded and its insertion waits, module doc of hpack.py).

    python tools/bench_hpack.py [--ops 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import hpack

from sai3bench.http import hpack as ours
from sai3bench.http import hpack_values, huffman
from sai3bench.http.hpack_static import encode_string

HEADERS = [
    ("x-amz-date", "20261205T200000Z"),
    ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261205/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
        + "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    ),
]
#: A 1 KiB GET's response block from nginx 1.22.1 (h2c, captured): :status indexed; server,
#: date, content-type, content-length, last-modified literals with incremental indexing (static
#: names); etag and accept-ranges literals without indexing (Huffman-coded names).
NGINX_BLOCK = bytes.fromhex(
    "887689aa6355e580ae212e1f6196dc34fd2806d4be52282009c5040b8172e01c53168dff5f87497ca58ae8"
    "19aa5c04313032346c96dc34fd2806d4be52282009c5040b8172e004a62d1bff00832a47378bfe5c8c2d3a"
    "100966800fe7008919085ad2b583aa62a3848fd24a8f"
)
_ETAG_AT = NGINX_BLOCK.index(bytes.fromhex("00832a4737"))  # etag: literal name, then value
_ACCEPT_RANGES_AT = NGINX_BLOCK.index(bytes.fromhex("0089"))


#: A 1 KiB PUT's 201 from nginx 1.22.1 (h2c, captured) up to its location: :status, server,
#: date, content-length, all literals with incremental indexing; then location (indexed too)
#: and an etag added by the bench's nginx (literal, Huffman name), NGINX_PUT_TAIL.
NGINX_PUT_HEAD = bytes.fromhex(
    "48033230317689aa6355e580ae212e1f6196dc34fd2806d4be52282009c5041b8005c644a62d1bff5c0130"
)
NGINX_PUT_TAIL = bytes.fromhex("00832a473786fe632d449ff9")


def nginx_put_block(i: int) -> bytes:
    """A 201 block whose location names object ``i``."""
    location = f"http://127.0.0.1:18182/bucket/bench/k1/put/obj_{3245154926268417808 + i}"
    return NGINX_PUT_HEAD + b"\x6e" + encode_string(location.encode(), True) + NGINX_PUT_TAIL


def nginx_block(etag: str | None = None) -> bytes:
    """NGINX_BLOCK, or the same with another etag value."""
    if etag is None:
        return NGINX_BLOCK
    head, tail = NGINX_BLOCK[: _ETAG_AT + 5], NGINX_BLOCK[_ACCEPT_RANGES_AT:]
    return head + encode_string(etag.encode(), True) + tail


def _decode_next(decoder: ours.HpackDecoder, blocks: list[bytes]) -> Callable[[int], object]:
    """A timed call that decodes the next of ``blocks`` (each once: the locations differ)."""
    left = iter(blocks)
    return lambda i: decoder.decode(next(left))


def cpu_ns_per_op(fn: Callable[[int], object], ops: int, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.process_time_ns()
        for i in range(ops):
            fn(i)
        samples.append((time.process_time_ns() - start) / ops)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n, runs = args.ops, args.runs
    start = time.process_time_ns()
    huffman.decode(b"")
    print(f"huffman table build: {(time.process_time_ns() - start) / 1e6:.1f} ms CPU")

    theirs_enc, our_enc = hpack.Encoder(), ours.HpackEncoder()
    fields = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1:9000")]

    def hpack_encode(i: int) -> object:
        return theirs_enc.encode([*fields, (":path", f"/b/k{i}"), *HEADERS], huffman=False)

    def our_encode(i: int) -> object:
        return our_enc.encode_request("GET", "http", "127.0.0.1:9000", f"/b/k{i}", HEADERS)

    same = nginx_block()
    distinct = [nginx_block(f'"{i:08x}-400"') for i in range(n)]
    theirs_dec, our_dec = hpack.Decoder(), ours.HpackDecoder()
    rows = [
        ("encode_request (signed GET)", hpack_encode, our_encode),
        (
            "decode nginx block, repeating",
            lambda i: theirs_dec.decode(same, raw=True),
            lambda i: our_dec.decode(same),
        ),
        (
            "decode nginx block, distinct etag",
            lambda i: theirs_dec.decode(distinct[i], raw=True),
            lambda i: our_dec.decode(distinct[i]),
        ),
    ]
    print(f"{'case':36} {'hpack ns':>9} {'ours ns':>9} {'ratio':>6}")
    for name, theirs, mine in rows:
        a, b = cpu_ns_per_op(theirs, n, runs), cpu_ns_per_op(mine, n, runs)
        print(f"{name:36} {a:9.0f} {b:9.0f} {a / b:6.1f}x")
    limits = hpack_values._MEMO_MAX_LEN, ours._BLOCK_MEMO_MAX_LEN
    hpack_values._MEMO_MAX_LEN = ours._BLOCK_MEMO_MAX_LEN = -1  # nothing is remembered
    hpack_values.huffman_memo.clear()
    ours._block_memo.clear()
    unmemo = cpu_ns_per_op(lambda i: our_dec.decode(same), n, runs)
    hpack_values._MEMO_MAX_LEN, ours._BLOCK_MEMO_MAX_LEN = limits
    print(f"{'decode nginx block, no memo':36} {'':9} {unmemo:9.0f}")
    puts = [nginx_put_block(i) for i in range(n * runs * 2)]
    for lazy in (False, True):
        ns = cpu_ns_per_op(_decode_next(ours.HpackDecoder(lazy=lazy), puts), n, runs)
        print(f"{'decode nginx PUT 201, ' + ('lazy' if lazy else 'eager'):36} {'':9} {ns:9.0f}")


if __name__ == "__main__":
    main()
