"""Huffman-coded HPACK header values: the process-wide memo, and the lazy ``Coded`` values.

Split from hpack.py (which re-exports ``HpackError``, ``Coded`` and ``plain``): the decoder
there parses blocks and keeps the table; this module turns a value's Huffman code into its
bytes, at once or when it is read (hpack.py's module doc says why and when).
"""

from __future__ import annotations

from sai3bench.http import huffman
from sai3bench.http.errors import ProtocolError

#: Response values repeat (server, content-type, etag, the date for a second): short
#: Huffman strings are decoded once per process. Bounded: cleared when full.
_MEMO_LIMIT = 1024
_MEMO_MAX_LEN = 64
huffman_memo: dict[bytes, bytes] = {}
#: Short Huffman values a lazy decoder handed back coded once: the second sighting decodes.
_seen: set[bytes] = set()


class HpackError(ProtocolError):
    """A header block that is not valid HPACK (COMPRESSION_ERROR)."""


class Coded(bytes):
    """A Huffman-coded header value not decoded yet (a lazy decoder's): its bytes are the code,
    not the value. Read it with ``plain``."""

    __slots__ = ()


def plain(value: bytes) -> bytes:
    """``value`` as the peer meant it: a ``Coded`` one decoded (HpackError if invalid)."""
    if type(value) is Coded:
        return decode_huffman(bytes(value))
    return value


def decode_huffman(raw: bytes) -> bytes:
    try:
        decoded = huffman.decode(raw)
    except huffman.HuffmanError as exc:
        raise HpackError(str(exc)) from None
    if len(raw) <= _MEMO_MAX_LEN:
        if len(huffman_memo) >= _MEMO_LIMIT:
            huffman_memo.clear()
        huffman_memo[raw] = decoded
    return decoded


def defer(raw: bytes) -> bytes:
    """A lazy decoder's Huffman value missing from the memo: decoded (and remembered) if it
    was seen before, else handed back ``Coded``."""
    if len(raw) <= _MEMO_MAX_LEN:
        if raw in _seen:
            return decode_huffman(raw)
        if len(_seen) >= _MEMO_LIMIT:
            _seen.clear()
        _seen.add(raw)
    return Coded(raw)
