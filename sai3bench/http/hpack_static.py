"""HPACK's state-free parts: the static table (RFC 7541 Appendix A) and its lookups, the wire
forms of integers, strings and indexed fields (sections 5.1, 5.2, 6.1), and the encoder's
per-name plans (which representation a header name's values get).

Kept apart from hpack.py, which holds the two stateful halves (decoder, encoder) and reads as
code rather than as tables.
"""

from __future__ import annotations

from sai3bench.http import huffman

#: Index 1-61 -> (name, value). Index 0 is not a field (decoding it is an error).
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = (
    (b"", b""),
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
)
#: Entries in the static table; dynamic indexes start right after.
STATIC_COUNT = len(STATIC_TABLE) - 1

#: The encoder works on latin-1 str (the API takes str); these are its views of the table.
#: Name -> its first index; (name, value) -> its index.
STATIC_NAME_INDEX: dict[str, int] = {}
STATIC_FIELD_INDEX: dict[tuple[str, str], int] = {}
for _index, (_name, _value) in enumerate(STATIC_TABLE[1:], start=1):
    STATIC_NAME_INDEX.setdefault(_name.decode("latin-1"), _index)
    STATIC_FIELD_INDEX[(_name.decode("latin-1"), _value.decode("latin-1"))] = _index


def encode_integer(value: int, mask: int, flags: int) -> bytes:
    """``value`` as a prefix integer (prefix bits ``mask``) in a byte starting with ``flags``."""
    if value < mask:
        return bytes((flags | value,))
    out = bytearray((flags | mask,))
    value -= mask
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: The one-byte forms of the hot path: string length prefixes and indexed fields.
LENGTH_BYTE = [bytes((n,)) for n in range(0x7F)]
INDEXED_BYTE = [bytes((0x80 | n,)) for n in range(0x7F)]


def encode_string(raw: bytes, use_huffman: bool) -> bytes:
    """A string literal; Huffman-coded when asked and not longer than ``raw``."""
    if use_huffman:
        coded = huffman.encode(raw)
        if len(coded) <= len(raw):
            return encode_integer(len(coded), 0x7F, 0x80) + coded
    n = len(raw)
    return (LENGTH_BYTE[n] if n < 0x7F else encode_integer(n, 0x7F, 0)) + raw


def encode_indexed(index: int) -> bytes:
    return INDEXED_BYTE[index] if index < 0x7F else encode_integer(index, 0x7F, 0x80)


#: Names whose values are per request: sent as literals without indexing, so they do not churn
#: the dynamic table (and evict the entries that do repeat).
_PER_REQUEST = frozenset(
    {":path", "content-length", "content-md5", "content-range", "range", "if-match",
     "if-none-match", "if-modified-since", "x-amz-copy-source", "x-amz-copy-source-range"}
)  # fmt: skip
_PER_REQUEST_PREFIXES = ("x-amz-checksum-",)
#: Credentials: "never indexed" (RFC 7541 section 7.1.3), which intermediaries must keep.
_NEVER_INDEXED = frozenset({"authorization", "proxy-authorization"})

#: Per name: (values worth indexing, head of a literal without/never indexing, head of a
#: literal with incremental indexing). Depends on the name only: cached, per Huffman choice.
Plan = tuple[bool, bytes, bytes]
PLANS: tuple[dict[str, Plan], dict[str, Plan]] = ({}, {})


def name_plan(name: str, use_huffman: bool) -> Plan:
    indexing = not (name in _PER_REQUEST or name in _NEVER_INDEXED)
    indexing = indexing and not name.startswith(_PER_REQUEST_PREFIXES)
    flags = 0x10 if name in _NEVER_INDEXED else 0x00
    static = STATIC_NAME_INDEX.get(name)
    if static:
        plan = (indexing, encode_integer(static, 0x0F, flags), encode_integer(static, 0x3F, 0x40))
    else:
        coded = encode_string(name.encode("latin-1"), use_huffman)
        plan = (indexing, bytes((flags,)) + coded, b"\x40" + coded)
    cache = PLANS[use_huffman]
    if len(cache) >= 256:
        cache.clear()
    cache[name] = plan
    return plan
