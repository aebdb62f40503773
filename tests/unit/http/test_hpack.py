"""Our HPACK (http/hpack.py, http/huffman.py): the RFC 7541 Appendix C examples byte for byte,
the ``hpack`` package as oracle in both directions (hypothesis), and every HpackError case."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import hpack
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.http import hpack as ours
from sai3bench.http import hpack_values, huffman
from sai3bench.http.hpack import HpackDecoder, HpackEncoder, HpackError
from sai3bench.http.hpack_static import encode_integer, encode_string


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def _fields(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(n.encode(), v.encode()) for n, v in pairs]


# --- C.1 integers, C.2 single fields ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mask", "wire"),
    [(10, 0x1F, "0a"), (1337, 0x1F, "1f9a0a"), (42, 0xFF, "2a")],  # C.1.1, C.1.2, C.1.3
)
def test_c1_integers(value: int, mask: int, wire: str) -> None:
    assert encode_integer(value, mask, 0) == _hex(wire)
    assert ours._read_integer(_hex(wire), 0, mask) == (value, len(_hex(wire)))


C2 = [  # (section, block, field, table after)
    ("C.2.1", "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
     ("custom-key", "custom-header"), 55),
    ("C.2.2", "040c 2f73 616d 706c 652f 7061 7468", (":path", "/sample/path"), 0),
    ("C.2.3", "1008 7061 7373 776f 7264 0673 6563 7265 74", ("password", "secret"), 0),
    ("C.2.4", "82", (":method", "GET"), 0),
]  # fmt: skip


@pytest.mark.parametrize(("section", "block", "field", "size"), C2)
def test_c2_single_fields(section: str, block: str, field: tuple[str, str], size: int) -> None:
    decoder = HpackDecoder()
    assert decoder.decode(_hex(block)) == _fields(field), section
    assert decoder.table_size == size
    assert decoder.table == (_fields(field) if size else [])


@pytest.mark.parametrize("section", ["C.2.1", "C.2.2", "C.2.4"])  # C.2.3: we never-index only
def test_c2_encoded_the_same(section: str) -> None:  # credentials, not "password"
    _, block, field, _ = next(c for c in C2 if c[0] == section)
    assert HpackEncoder().encode(_fields(field)) == _hex(block)


# --- C.3 / C.4 request sequences, C.5 / C.6 response sequences ---------------------------------

REQUESTS = [
    [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
    [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"),
     ("cache-control", "no-cache")],
    [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
     (":authority", "www.example.com"), ("custom-key", "custom-value")],
]  # fmt: skip
REQUEST_TABLES = [
    [(":authority", "www.example.com")],
    [("cache-control", "no-cache"), (":authority", "www.example.com")],
    [("custom-key", "custom-value"), ("cache-control", "no-cache"),
     (":authority", "www.example.com")],
]  # fmt: skip
REQUEST_SIZES = [57, 110, 164]
C3 = [
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
]
C4 = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
]
COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
DATE_1, DATE_2 = "Mon, 21 Oct 2013 20:13:21 GMT", "Mon, 21 Oct 2013 20:13:22 GMT"
LOCATION = "https://www.example.com"
RESPONSES = [
    [(":status", "302"), ("cache-control", "private"), ("date", DATE_1), ("location", LOCATION)],
    [(":status", "307"), ("cache-control", "private"), ("date", DATE_1), ("location", LOCATION)],
    [(":status", "200"), ("cache-control", "private"), ("date", DATE_2), ("location", LOCATION),
     ("content-encoding", "gzip"), ("set-cookie", COOKIE)],
]  # fmt: skip
RESPONSE_TABLES = [
    [("location", LOCATION), ("date", DATE_1), ("cache-control", "private"), (":status", "302")],
    [(":status", "307"), ("location", LOCATION), ("date", DATE_1), ("cache-control", "private")],
    [("set-cookie", COOKIE), ("content-encoding", "gzip"), ("date", DATE_2)],
]
RESPONSE_SIZES = [222, 222, 215]
C5 = [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
    "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
    "6c65 2e63 6f6d",
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d"
    "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049"
    "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
]
C6 = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
    "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
    "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
    "9587 3160 65c0 03ed 4ee5 b106 3d50 07",
]
SEQUENCES = {  # section: (blocks, header lists, tables after, sizes after, table size, Huffman)
    "C.3": (C3, REQUESTS, REQUEST_TABLES, REQUEST_SIZES, 4096, False),
    "C.4": (C4, REQUESTS, REQUEST_TABLES, REQUEST_SIZES, 4096, True),
    "C.5": (C5, RESPONSES, RESPONSE_TABLES, RESPONSE_SIZES, 256, False),
    "C.6": (C6, RESPONSES, RESPONSE_TABLES, RESPONSE_SIZES, 256, True),
}


@pytest.mark.parametrize("section", SEQUENCES)
def test_appendix_c_sequences_decode(section: str) -> None:
    """One decoder across the blocks: its table after each one is the RFC's, entry for entry."""
    blocks, lists, tables, sizes, table_size, _ = SEQUENCES[section]
    decoder = HpackDecoder(table_size)
    for block, fields, table, size in zip(blocks, lists, tables, sizes, strict=True):
        assert decoder.decode(_hex(block)) == _fields(*fields)
        assert decoder.table == _fields(*table)
        assert decoder.table_size == size == sum(32 + len(n) + len(v) for n, v in table)


@pytest.mark.parametrize("section", SEQUENCES)
def test_appendix_c_sequences_encode(section: str) -> None:
    """Our encoder makes the RFC's choices on these lists: the same bytes, the same table."""
    blocks, lists, tables, _, table_size, use_huffman = SEQUENCES[section]
    encoder = HpackEncoder()
    encoder.set_max_table_size(table_size)
    for i, (block, fields, table) in enumerate(zip(blocks, lists, tables, strict=True)):
        encoded = encoder.encode(_fields(*fields), huffman=use_huffman)
        if i == 0 and table_size != ours.DEFAULT_TABLE_SIZE:  # the RFC starts at 256
            assert encoded[:3] == b"\x3f\xe1\x01"  # the size update (256), then its block
            encoded = encoded[3:]
        assert encoded == _hex(block)
        assert encoder.table == _fields(*table)


# --- the hpack package as oracle --------------------------------------------------------------

NAMES = [b":status", b"content-type", b"etag", b"date", b"server", b"x-custom", b"x-amz-meta-a"]
name_st = st.one_of(st.sampled_from(NAMES), st.binary(min_size=1, max_size=12))
value_st = st.one_of(
    st.sampled_from([b"200", b"", b"text/plain", b"v" * 300]), st.binary(max_size=40)
)
header_lists = st.lists(st.tuples(name_st, value_st, st.booleans()), max_size=8)
#: Per block: its headers, Huffman or not, and a table size to set before it (or None).
blocks_st = st.lists(
    st.tuples(header_lists, st.booleans(), st.one_of(st.none(), st.integers(0, 5000))),
    min_size=1,
    max_size=6,
)


@pytest.mark.parametrize("lazy", [False, True])
@settings(max_examples=200, deadline=None)
@given(blocks=blocks_st)
def test_hpack_encoder_blocks_decode_the_same(lazy: bool, blocks: list[Any]) -> None:
    """hpack.Encoder's blocks (never-indexed fields too, size updates between blocks) decode
    to the same fields with ours, and our table follows theirs entry for entry. Lazy: with the
    memos emptied before each block, every short Huffman value comes back coded, its
    insertion waits, and ``plain`` and ``table`` still give exactly what was sent."""
    theirs, decoder = hpack.Encoder(), HpackDecoder(max_table_size=5000, lazy=lazy)
    for headers, use_huffman, table_size in blocks:
        if table_size is not None:
            theirs.header_table_size = table_size
        tuples = [
            hpack.NeverIndexedHeaderTuple(n, v) if never else (n, v) for n, v, never in headers
        ]
        block = theirs.encode(tuples, huffman=use_huffman)
        _forget_values()
        fields = decoder.decode(block)
        assert [(n, ours.plain(v)) for n, v in fields] == [(n, v) for n, v, _ in headers]
        assert decoder.table == list(theirs.header_table.dynamic_entries)


def _forget_values() -> None:
    hpack_values.huffman_memo.clear()
    hpack_values._seen.clear()
    ours._block_memo.clear()


def test_lazy_values_are_decoded_when_read_or_when_seen_again() -> None:
    """A short Huffman value seen for the first time stays coded (a PUT's unique location),
    and its block is not memoised; seen again (a server, a date) it is decoded at once."""
    _forget_values()
    location = b"http://127.0.0.1:8080/bucket/put/obj_3245154926268417808"
    block = b"\x48\x03201" + b"\x6e" + encode_string(location, True)  # as nginx sends it
    decoder = HpackDecoder(lazy=True)
    (_, status), (name, value) = decoder.decode(block)
    assert (status, name) == (b"201", b"location")
    assert type(value) is ours.Coded and value != location and ours.plain(value) == location
    assert block not in ours._block_memo
    assert decoder.table == [(b"location", location), (b":status", b"201")]
    hpack_values.huffman_memo.clear()
    assert decoder.decode(block)[1] == (b"location", location)  # seen before: decoded
    assert HpackDecoder().decode(block)[1] == (b"location", location)  # eager: always decoded


def test_lazy_insertions_waiting_past_the_table_are_dropped_and_lookups_stay_exact() -> None:
    """1,000 blocks of unique coded values into a 256-byte table: at most 2 * 256 // 32 + 16
    insertions wait, and the references that follow read what hpack.Encoder indexed."""
    theirs = hpack.Encoder()
    theirs.header_table_size = 256
    lazy, eager = HpackDecoder(lazy=True), HpackDecoder()
    for i in range(1000):
        _forget_values()
        block = theirs.encode([(b"location", b"/obj_%d" % i), (b"etag", b"e%d" % i)])
        assert [ours.plain(v) for _, v in lazy.decode(block)] == [b"/obj_%d" % i, b"e%d" % i]
        eager.decode(block)
        assert len(lazy._pending) <= 2 * 256 // 32 + 16
    block = theirs.encode([(b"etag", b"e999"), (b"location", b"/obj_999")])  # two references
    assert (
        lazy.decode(block)
        == eager.decode(block)
        == [(b"etag", b"e999"), (b"location", b"/obj_999")]
    )
    assert lazy.table == eager.table == list(theirs.header_table.dynamic_entries)


def test_lazy_values_count_against_the_list_limit_exactly() -> None:
    """A coded value counts at its longest (8/5 of its code) until the limit is reached; then
    the block's coded values are decoded and counted exactly: a list just inside the limit
    passes, one byte over it does not."""
    values = [b"Sat, 05 Dec 2026 21:00:32 GMT", b"/bucket/bench/k1/put/obj_324515492626", b"x-y"]
    block = b"".join(b"\x0f\x1f" + encode_string(v, True) for v in values)  # location
    size = sum(32 + len(b"location") + len(v) for v in values)
    _forget_values()
    fields = HpackDecoder(max_header_list_size=size, lazy=True).decode(block)
    assert [ours.plain(v) for _, v in fields] == values
    _forget_values()
    with pytest.raises(HpackError, match="header list over"):
        HpackDecoder(max_header_list_size=size - 1, lazy=True).decode(block)


text_st = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
request_headers = st.lists(
    st.tuples(
        st.sampled_from(["x-amz-date", "content-type", "authorization", "content-length", "x-a"]),
        st.sampled_from(["20261205T200000Z", "a" * 80, "1024", "text/plain", "v" * 2000]) | text_st,
    ),
    max_size=6,
)
#: Per block: encode_request's arguments or encode's header list, and a table size to set.
our_blocks = st.lists(
    st.tuples(
        st.one_of(
            st.tuples(st.sampled_from(["GET", "PUT", "POST"]), st.sampled_from(["http", "https"]),
                      st.sampled_from(["h:1", "example.com"]), text_st, request_headers),
            st.tuples(header_lists, st.booleans()),
        ),
        st.one_of(st.none(), st.sampled_from([0, 64, 256, 4096, 65536])),
    ),
    min_size=1,
    max_size=8,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(our_blocks)
def test_our_blocks_decode_the_same_with_hpack(blocks: list[Any]) -> None:
    """Our blocks, several in a row with table size changes between them, decode to the
    intended fields with hpack.Decoder (and ours), and both decoders hold our encoder's table."""
    encoder, theirs, decoder = HpackEncoder(), hpack.Decoder(), HpackDecoder()
    for call, table_size in blocks:
        if table_size is not None:
            encoder.set_max_table_size(table_size)
        if len(call) == 5:
            method, scheme, authority, path, headers = call
            block = encoder.encode_request(method, scheme, authority, path, headers)
            pseudo = [(":method", method), (":scheme", scheme), (":authority", authority)]
            expected = [(n.encode(), v.encode()) for n, v in [*pseudo, (":path", path), *headers]]
        else:
            headers, use_huffman = call
            block = encoder.encode([(n, v) for n, v, _ in headers], huffman=use_huffman)
            expected = [(n, v) for n, v, _ in headers]
        assert theirs.decode(block, raw=True) == expected
        assert decoder.decode(block) == expected
        assert list(theirs.header_table.dynamic_entries) == encoder.table == decoder.table


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_huffman_round_trip_and_hpack_agreement(data: bytes) -> None:
    coded = huffman.encode(data)
    assert coded == HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(data)
    assert huffman.decode(coded) == data
    assert huffman.encoded_length(data) == len(coded)


def test_huffman_table_is_the_canonical_code_of_its_lengths() -> None:
    """The transcribed Appendix B table is the canonical code its lengths define (a typo in a
    code or a length breaks this) and matches the hpack package's copy."""
    order = sorted(range(257), key=lambda s: (huffman.CODES[s][1], s))
    code, previous = -1, huffman.CODES[order[0]][1]
    for symbol in order:
        length = huffman.CODES[symbol][1]
        code = (code + 1) << (length - previous)
        previous = length
        assert huffman.CODES[symbol] == (code, length)
    assert [c for c, _ in huffman.CODES] == list(REQUEST_CODES)
    assert [n for _, n in huffman.CODES] == list(REQUEST_CODES_LENGTH)


def test_huffman_tables_are_built_on_first_use_not_at_import() -> None:
    probe = (
        "import sai3bench.cli, sai3bench.http.hpack, sai3bench.http.huffman as h;"
        "assert h._tables is None; h.decode(b'\\xff'[:0]); assert h._tables is not None"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


# --- errors -----------------------------------------------------------------------------------

BIG_ENTRY = b"\x40\x01x" + encode_integer(4000, 0x7F, 0) + b"v" * 4000  # one 4033-byte entry


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (b"\x80", "index 0"),
        (b"\xbe", "beyond the dynamic table"),  # index 62, table empty
        (b"\x7e\x01a", "beyond the dynamic table"),  # literal naming index 62
        (b"\x41", "truncated"),  # no value string
        (b"\x41\x05ab", "truncated"),  # value shorter than its length
        (b"\x41\x7f", "truncated"),  # length integer cut after its prefix
        (b"\xff\x80", "truncated"),  # index integer cut mid-continuation
        (b"\x3f\x80\x80\x80\x80\x00", "integer longer"),  # 31 in 5 continuation bytes
        (b"\x41\x82\x1f\xff", "padding"),  # "a" then 11 bits of padding
        (b"\x41\x81\x18", "padding"),  # "a" then 000 padding
        (b"\x41\x84\xff\xff\xff\xff", "EOS"),  # 30 one bits: the EOS symbol
        (b"\x3f\xe2\x1f", "table size update to 4097"),  # above the 4096 we advertised
        (b"\x82\x20", "after a header field"),  # a size update not at the start
        (BIG_ENTRY + b"\xbe" * 64, "header list over"),  # 65 x 4033 bytes > 256 KiB
    ],
)
def test_invalid_blocks_raise_hpack_error(block: bytes, reason: str) -> None:
    with pytest.raises(HpackError, match=reason):
        HpackDecoder().decode(block)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=4))
def test_arbitrary_bytes_decode_or_raise_hpack_error(blocks: list[bytes]) -> None:
    """Nothing but HpackError escapes, whatever the peer sends (an IndexError or a
    HuffmanError leaking out would not be answered with COMPRESSION_ERROR)."""
    decoder = HpackDecoder()
    for block in blocks:
        try:
            fields = decoder.decode(block)
        except HpackError:
            return
        assert all(type(n) is bytes and type(v) is bytes for n, v in fields)


def test_limits_accept_what_is_just_inside_them() -> None:
    """The negatives above fail on their limit, not on something near it."""
    assert HpackDecoder().decode(b"\x3f\x80\x80\x80\x00") == []  # 31 in 4 continuation bytes
    assert HpackDecoder().decode(b"\x3f\xe1\x1f\x20") == []  # two updates: 4096 then 0
    assert len(HpackDecoder().decode(BIG_ENTRY + b"\xbe" * 63)) == 64  # 258 112 bytes
    assert HpackDecoder().decode(b"\x41\x81\x1f") == [(b":authority", b"a")]  # 3 bits, ones
    with pytest.raises(HpackError, match="header list over 1000"):
        HpackDecoder(max_header_list_size=1000).decode(BIG_ENTRY)


def test_size_update_evicts_and_oversized_entry_empties_the_table() -> None:
    decoder = HpackDecoder()
    decoder.decode(_hex(C3[0]) + b"\x58\x02no")  # :authority (57) and cache-control (47)
    assert decoder.table_size == 104
    decoder.decode(b"\x3f\x32")  # size 81: the oldest entry goes
    assert decoder.table == [(b"cache-control", b"no")]
    decoder.decode(b"\x58\x30" + b"x" * 48)  # 93 bytes > 81: the table empties (RFC 4.4)
    assert (decoder.table, decoder.table_size) == ([], 0)


def test_decode_accepts_views_and_memoises_huffman_values(monkeypatch: pytest.MonkeyPatch) -> None:
    block = _hex(C4[0])
    fields = HpackDecoder().decode(memoryview(bytearray(block)))
    monkeypatch.setattr(huffman, "decode", lambda data: pytest.fail("not memoised"))
    assert HpackDecoder().decode(block) == fields == _fields(*REQUESTS[0])


def test_huffman_memo_is_bounded() -> None:
    for i in range(hpack_values._MEMO_LIMIT + 10):
        HpackDecoder().decode(b"\x41" + encode_string(b"host-%d" % i, True))
    assert 0 < len(hpack_values.huffman_memo) <= hpack_values._MEMO_LIMIT
    long_value = b"x" * (hpack_values._MEMO_MAX_LEN * 2)
    HpackDecoder().decode(b"\x41" + encode_string(long_value, True))
    assert huffman.encode(long_value) not in hpack_values.huffman_memo


# --- the encoder's choices --------------------------------------------------------------------

SIGNED_GET = [
    ("x-amz-date", "20261205T200000Z"),
    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ("authorization", "AWS4-HMAC-SHA256 Signature=00"),
]


def test_encode_request_bytes() -> None:
    """Static prefix, :path literal with static name 4, repeating values indexed once and
    referenced after, the credential never indexed (static name 23), nothing Huffman-coded."""
    encoder = HpackEncoder()
    first = encoder.encode_request("GET", "https", "h:9", "/b/k", SIGNED_GET)
    prefix = b"\x82\x87\x01\x03h:9" + b"\x04\x04/b/k"
    authorization = b"\x1f\x08\x1dAWS4-HMAC-SHA256 Signature=00"
    assert first == (
        prefix
        + b"\x40\x0ax-amz-date\x1020261205T200000Z"
        + b"\x40\x14x-amz-content-sha256\x10UNSIGNED-PAYLOAD"
        + authorization
    )
    assert encoder.encode_request("GET", "https", "h:9", "/b/k", SIGNED_GET) == (
        prefix + b"\xbf\xbe" + authorization  # x-amz-date is now 63, the sha256 62
    )
    assert encoder.table == _fields(*SIGNED_GET[1::-1])


def test_prefix_is_static_only_so_its_cache_survives_table_changes() -> None:
    encoder = HpackEncoder()
    put = encoder.encode_request("PUT", "http", "example.com", "/", [("x-amz-date", "1")])
    assert put.startswith(b"\x02\x03PUT\x86\x01\x0bexample.com\x04\x01/")
    encoder.set_max_table_size(0)  # the table empties
    again = encoder.encode_request("PUT", "http", "example.com", "/", [("x-amz-date", "1")])
    assert again == b"\x20" + put.replace(b"\x40\x0ax-amz-date", b"\x00\x0ax-amz-date")


def test_per_request_values_and_oversized_entries_stay_out_of_the_table() -> None:
    encoder = HpackEncoder()
    headers = [("content-length", "1024"), ("range", "bytes=0-1"), ("x-amz-checksum-crc32", "AA")]
    block = encoder.encode_request("GET", "http", "h", "/", [*headers, ("x-big", "v" * 4096)])
    assert encoder.table == []  # content-length: static name 28, without indexing
    assert b"\x0f\x0d\x041024" in block and b"\x00\x05x-big" in block


def test_table_size_changes_announce_the_smallest_then_the_final_size() -> None:
    """RFC 7541 section 4.2: shrinking then growing between blocks sends both sizes, so the
    peer evicts what we evicted; a size above our cap (4096) changes nothing."""
    encoder, decoder = HpackEncoder(), HpackDecoder()
    decoder.decode(encoder.encode_request("GET", "http", "h", "/", [("x-amz-date", "1")]))
    encoder.set_max_table_size(100)
    encoder.set_max_table_size(0)
    encoder.set_max_table_size(65536)
    block = encoder.encode_request("GET", "http", "h", "/", [("x-amz-date", "1")])
    assert block.startswith(b"\x20\x3f\xe1\x1f\x82")  # update 0, update 4096, then fields
    assert b"\x40\x0ax-amz-date" in block  # evicted at size 0: inserted again, not referenced
    decoder.decode(block)
    assert decoder.table == encoder.table == [(b"x-amz-date", b"1")]
    encoder.set_max_table_size(8192)  # above the cap: we stay at 4096, nothing to announce
    assert encoder.encode([(b":method", b"GET")]) == b"\x82"
    encoder.set_max_table_size(64)
    assert encoder.encode([]) == b"\x3f\x21"


def test_reprs_show_the_table() -> None:
    encoder, decoder = HpackEncoder(), HpackDecoder(256)
    encoder.set_max_table_size(256)
    for fields in RESPONSES:
        decoder.decode(encoder.encode(_fields(*fields)))
    assert repr(decoder) == "<HpackDecoder 3 entries, 215/256 bytes>"
    assert repr(encoder) == "<HpackEncoder 3 entries, 215/256 bytes>"


NGINX_LIKE = b"\x88\x0f\x27" + encode_string(b"nginx", True)  # :status 200, server: literal
#: A 1 KiB GET's response block as nginx 1.22.1 sends it (h2c, captured): static names,
#: Huffman values, five of them with incremental indexing that nginx never references.
NGINX_122 = _hex(
    "887689aa6355e580ae212e1f6196dc34fd2806d4be52282009c5040b8172e01c53168dff5f87497ca58ae8"
    "19aa5c04313032346c96dc34fd2806d4be52282009c5040b8172e004a62d1bff00832a47378bfe5c8c2d3a"
    "100966800fe7008919085ad2b583aa62a3848fd24a8f"
)


def test_blocks_that_read_nothing_from_the_table_are_memoised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Such a block decodes the same on every connection: the second time it is a memo hit,
    returned as a fresh list, and its insertions are replayed into this decoder's table."""
    first = HpackDecoder()
    fields = first.decode(NGINX_122)
    assert fields[1] == (b"server", b"nginx/1.22.1") and len(first.table) == 5
    fields.append((b"x", b"mutated by the caller"))
    HpackDecoder().decode(NGINX_LIKE)  # no insertion at all: memoised too
    monkeypatch.setattr(HpackDecoder, "_decode", lambda self, data: pytest.fail("not memoised"))
    second = HpackDecoder()
    assert second.decode(bytearray(NGINX_122)) == fields[:-1]
    assert (second.table, second.table_size) == (first.table, first.table_size)
    assert HpackDecoder().decode(NGINX_LIKE)[1] == (b"server", b"nginx")


@pytest.mark.parametrize("table_size", [4096, 300, 100])
def test_memo_hits_leave_the_table_as_a_full_decode_does(table_size: int) -> None:
    """Replayed insertions evict what decoding them one by one evicts (300: the table turns
    over every block; 100: the block's entries do not all fit, so no replay, a full decode)."""
    memoised, plain = HpackDecoder(table_size), HpackDecoder(table_size)
    other = _hex("6196") + encode_string(b"Sat, 05 Dec 2026 20:16:07 GMT", True)[1:]
    for block in [NGINX_122, NGINX_122, b"\x88" + other, NGINX_122] * 3:
        assert memoised.decode(block) == _decode_without_memo(plain, block)
        assert (memoised.table, memoised.table_size) == (plain.table, plain.table_size)


def _decode_without_memo(decoder: HpackDecoder, block: bytes) -> list[tuple[bytes, bytes]]:
    fields, _ = decoder._decode(block)
    return fields


def test_blocks_that_read_the_table_are_not_memoised() -> None:
    decoder = HpackDecoder()
    decoder.decode(_hex(C3[0]))
    for block in [*C3[1:], "3f32 88", "82 be"]:  # dynamic references, a size update
        decoder.decode(_hex(block))
        assert _hex(block) not in ours._block_memo


def test_block_memo_honours_each_decoders_list_limit_and_is_bounded() -> None:
    HpackDecoder().decode(NGINX_LIKE)
    with pytest.raises(HpackError, match="header list over 60"):
        HpackDecoder(max_header_list_size=60).decode(NGINX_LIKE)
    for i in range(ours._BLOCK_MEMO_LIMIT + 10):
        HpackDecoder().decode(b"\x0f\x27" + encode_string(b"server-%d" % i, False))
    assert 0 < len(ours._block_memo) <= ours._BLOCK_MEMO_LIMIT


def _put_201(location: bytes, *, status: bytes = b"201", huffman_location: bool = True) -> bytes:
    """A 201 as nginx writes one for a new object: literals with incremental indexing for
    :status, server and location, then an etag without indexing (Huffman name and value)."""
    return (
        b"\x48" + encode_string(status, False)
        + b"\x76" + encode_string(b"nginx/1.22.1", True)
        + b"\x6e" + encode_string(location, huffman_location)
        + b"\x00" + encode_string(b"etag", True) + encode_string(b'"bench"', True)
    )  # fmt: skip


@pytest.mark.parametrize("table_size", [4096, 256])
def test_blocks_like_the_last_but_for_one_coded_value_skip_the_decode(
    monkeypatch: pytest.MonkeyPatch, table_size: int
) -> None:
    """A lazy decoder keeps the last block that read no table and left one value coded; a
    block with the same bytes around another short Huffman string in that place is answered
    from it without a decode, and fields and table stay what a full decode gives. Another
    status, a plain or a long location, or a longer list than allowed are decoded in full."""
    decodes = 0
    full = HpackDecoder._decode

    def counting(self: HpackDecoder, data: bytes) -> Any:
        nonlocal decodes
        decodes += self.lazy
        return full(self, data)

    monkeypatch.setattr(HpackDecoder, "_decode", counting)
    _forget_values()
    lazy, eager = HpackDecoder(table_size, lazy=True), HpackDecoder(table_size)
    blocks = [_put_201(b"/bucket/put/obj_%d" % i) for i in range(40)]
    blocks += [_put_201(b"/b/other", status=b"204"), _put_201(b"/b/plain", huffman_location=False)]
    blocks += [_put_201(b"/b/" + b"v" * 200), _put_201(b"/bucket/put/obj_x")]
    for block in blocks:
        assert [(n, ours.plain(v)) for n, v in lazy.decode(block)] == eager.decode(block)
        assert lazy.table == eager.table
    # The first two (the server value is new in the first too), the three unlike the last,
    # and the one after those.
    assert decodes == 2 + 3 + 1
    with pytest.raises(HpackError, match="header list over"):
        HpackDecoder(max_header_list_size=150, lazy=True).decode(_put_201(b"/b/" + b"x" * 80))
