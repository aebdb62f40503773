"""HPACK's static table (RFC 7541 Appendix A) and the lookups both HPACK directions need.

Kept apart from hpack.py so the decoder and encoder read as code, not as 61 lines of data.
"""

from __future__ import annotations

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
