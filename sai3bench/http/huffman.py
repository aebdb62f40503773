"""HPACK's Huffman code (RFC 7541 section 5.2, Appendix B): an encoder and a table-driven decoder.

The code table below is the RFC's Appendix B, written out as constants (symbol = position;
256 is EOS). The code is canonical: tests/unit/http/test_hpack.py rebuilds it from the lengths
alone, which checks the transcription.

Decoding walks a byte-at-a-time state machine instead of bit by bit: one table lookup per input
byte. A state is an internal node of the code tree (256 of them; the root is 0) and a row of
256 transitions gives, for each input byte, the next state and the 0-2 symbols completed on
the way. The rows are composed from a 4-bit (nibble) machine, as nghttp2 builds its table, which
keeps the build to ~20 ms. The tables are built on the first decode, not at import: the CLI
starts without paying for them and a run with no HTTP/2 never builds them.

Errors (RFC 7541 section 5.2): an EOS symbol inside a string, padding longer than 7 bits, or
padding that is not the most significant bits of EOS (all ones) raise ``HuffmanError``.
"""

from __future__ import annotations

from collections.abc import Iterable

#: (code, bit length) per symbol; symbols 0-255 are the byte values, 256 is EOS.
CODES: tuple[tuple[int, int], ...] = (
    (0x1FF8, 13),
    (0x7FFFD8, 23),
    (0xFFFFFE2, 28),
    (0xFFFFFE3, 28),
    (0xFFFFFE4, 28),
    (0xFFFFFE5, 28),
    (0xFFFFFE6, 28),
    (0xFFFFFE7, 28),
    (0xFFFFFE8, 28),
    (0xFFFFEA, 24),
    (0x3FFFFFFC, 30),
    (0xFFFFFE9, 28),
    (0xFFFFFEA, 28),
    (0x3FFFFFFD, 30),
    (0xFFFFFEB, 28),
    (0xFFFFFEC, 28),
    (0xFFFFFED, 28),
    (0xFFFFFEE, 28),
    (0xFFFFFEF, 28),
    (0xFFFFFF0, 28),
    (0xFFFFFF1, 28),
    (0xFFFFFF2, 28),
    (0x3FFFFFFE, 30),
    (0xFFFFFF3, 28),
    (0xFFFFFF4, 28),
    (0xFFFFFF5, 28),
    (0xFFFFFF6, 28),
    (0xFFFFFF7, 28),
    (0xFFFFFF8, 28),
    (0xFFFFFF9, 28),
    (0xFFFFFFA, 28),
    (0xFFFFFFB, 28),
    (0x14, 6),
    (0x3F8, 10),
    (0x3F9, 10),
    (0xFFA, 12),
    (0x1FF9, 13),
    (0x15, 6),
    (0xF8, 8),
    (0x7FA, 11),
    (0x3FA, 10),
    (0x3FB, 10),
    (0xF9, 8),
    (0x7FB, 11),
    (0xFA, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1A, 6),
    (0x1B, 6),
    (0x1C, 6),
    (0x1D, 6),
    (0x1E, 6),
    (0x1F, 6),
    (0x5C, 7),
    (0xFB, 8),
    (0x7FFC, 15),
    (0x20, 6),
    (0xFFB, 12),
    (0x3FC, 10),
    (0x1FFA, 13),
    (0x21, 6),
    (0x5D, 7),
    (0x5E, 7),
    (0x5F, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6A, 7),
    (0x6B, 7),
    (0x6C, 7),
    (0x6D, 7),
    (0x6E, 7),
    (0x6F, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xFC, 8),
    (0x73, 7),
    (0xFD, 8),
    (0x1FFB, 13),
    (0x7FFF0, 19),
    (0x1FFC, 13),
    (0x3FFC, 14),
    (0x22, 6),
    (0x7FFD, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2A, 6),
    (0x7, 5),
    (0x2B, 6),
    (0x76, 7),
    (0x2C, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2D, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7A, 7),
    (0x7B, 7),
    (0x7FFE, 15),
    (0x7FC, 11),
    (0x3FFD, 14),
    (0x1FFD, 13),
    (0xFFFFFFC, 28),
    (0xFFFE6, 20),
    (0x3FFFD2, 22),
    (0xFFFE7, 20),
    (0xFFFE8, 20),
    (0x3FFFD3, 22),
    (0x3FFFD4, 22),
    (0x3FFFD5, 22),
    (0x7FFFD9, 23),
    (0x3FFFD6, 22),
    (0x7FFFDA, 23),
    (0x7FFFDB, 23),
    (0x7FFFDC, 23),
    (0x7FFFDD, 23),
    (0x7FFFDE, 23),
    (0xFFFFEB, 24),
    (0x7FFFDF, 23),
    (0xFFFFEC, 24),
    (0xFFFFED, 24),
    (0x3FFFD7, 22),
    (0x7FFFE0, 23),
    (0xFFFFEE, 24),
    (0x7FFFE1, 23),
    (0x7FFFE2, 23),
    (0x7FFFE3, 23),
    (0x7FFFE4, 23),
    (0x1FFFDC, 21),
    (0x3FFFD8, 22),
    (0x7FFFE5, 23),
    (0x3FFFD9, 22),
    (0x7FFFE6, 23),
    (0x7FFFE7, 23),
    (0xFFFFEF, 24),
    (0x3FFFDA, 22),
    (0x1FFFDD, 21),
    (0xFFFE9, 20),
    (0x3FFFDB, 22),
    (0x3FFFDC, 22),
    (0x7FFFE8, 23),
    (0x7FFFE9, 23),
    (0x1FFFDE, 21),
    (0x7FFFEA, 23),
    (0x3FFFDD, 22),
    (0x3FFFDE, 22),
    (0xFFFFF0, 24),
    (0x1FFFDF, 21),
    (0x3FFFDF, 22),
    (0x7FFFEB, 23),
    (0x7FFFEC, 23),
    (0x1FFFE0, 21),
    (0x1FFFE1, 21),
    (0x3FFFE0, 22),
    (0x1FFFE2, 21),
    (0x7FFFED, 23),
    (0x3FFFE1, 22),
    (0x7FFFEE, 23),
    (0x7FFFEF, 23),
    (0xFFFEA, 20),
    (0x3FFFE2, 22),
    (0x3FFFE3, 22),
    (0x3FFFE4, 22),
    (0x7FFFF0, 23),
    (0x3FFFE5, 22),
    (0x3FFFE6, 22),
    (0x7FFFF1, 23),
    (0x3FFFFE0, 26),
    (0x3FFFFE1, 26),
    (0xFFFEB, 20),
    (0x7FFF1, 19),
    (0x3FFFE7, 22),
    (0x7FFFF2, 23),
    (0x3FFFE8, 22),
    (0x1FFFFEC, 25),
    (0x3FFFFE2, 26),
    (0x3FFFFE3, 26),
    (0x3FFFFE4, 26),
    (0x7FFFFDE, 27),
    (0x7FFFFDF, 27),
    (0x3FFFFE5, 26),
    (0xFFFFF1, 24),
    (0x1FFFFED, 25),
    (0x7FFF2, 19),
    (0x1FFFE3, 21),
    (0x3FFFFE6, 26),
    (0x7FFFFE0, 27),
    (0x7FFFFE1, 27),
    (0x3FFFFE7, 26),
    (0x7FFFFE2, 27),
    (0xFFFFF2, 24),
    (0x1FFFE4, 21),
    (0x1FFFE5, 21),
    (0x3FFFFE8, 26),
    (0x3FFFFE9, 26),
    (0xFFFFFFD, 28),
    (0x7FFFFE3, 27),
    (0x7FFFFE4, 27),
    (0x7FFFFE5, 27),
    (0xFFFEC, 20),
    (0xFFFFF3, 24),
    (0xFFFED, 20),
    (0x1FFFE6, 21),
    (0x3FFFE9, 22),
    (0x1FFFE7, 21),
    (0x1FFFE8, 21),
    (0x7FFFF3, 23),
    (0x3FFFEA, 22),
    (0x3FFFEB, 22),
    (0x1FFFFEE, 25),
    (0x1FFFFEF, 25),
    (0xFFFFF4, 24),
    (0xFFFFF5, 24),
    (0x3FFFFEA, 26),
    (0x7FFFF4, 23),
    (0x3FFFFEB, 26),
    (0x7FFFFE6, 27),
    (0x3FFFFEC, 26),
    (0x3FFFFED, 26),
    (0x7FFFFE7, 27),
    (0x7FFFFE8, 27),
    (0x7FFFFE9, 27),
    (0x7FFFFEA, 27),
    (0x7FFFFEB, 27),
    (0xFFFFFFE, 28),
    (0x7FFFFEC, 27),
    (0x7FFFFED, 27),
    (0x7FFFFEE, 27),
    (0x7FFFFEF, 27),
    (0x7FFFFF0, 27),
    (0x3FFFFEE, 26),
    (0x3FFFFFFF, 30),
)
EOS = 256


class HuffmanError(ValueError):
    """Not a valid Huffman-coded HPACK string (the HPACK layer reports it as HpackError)."""


def encode(data: bytes | bytearray | memoryview) -> bytes:
    """``data`` Huffman-coded, padded with the high bits of EOS (ones) to a whole byte."""
    acc = 0
    nbits = 0
    codes = CODES
    for byte in data:
        code, length = codes[byte]
        acc = (acc << length) | code
        nbits += length
    pad = -nbits % 8
    return ((acc << pad) | ((1 << pad) - 1)).to_bytes((nbits + pad) // 8, "big")


def encoded_length(data: Iterable[int]) -> int:
    """Bytes ``encode(data)`` would return, without encoding."""
    codes = CODES
    return (sum(codes[byte][1] for byte in data) + 7) // 8


#: The state machine, built on first use: (next state << 8 per (state << 8 | byte), symbols
#: emitted per (state << 8 | byte), accepting flag per state). State _FAIL absorbs everything.
_Tables = tuple[list[int], list[bytes], bytes]
_tables: _Tables | None = None
_FAIL = 256


def decode(data: bytes | bytearray | memoryview) -> bytes:
    """The Huffman-coded HPACK string ``data`` decoded; ``HuffmanError`` if it is invalid."""
    nxt, emit, accepting = _tables or _build()
    state = 0
    out: list[bytes] = []
    append = out.append
    for byte in data:
        index = state | byte
        append(emit[index])
        state = nxt[index]
    if not accepting[state >> 8]:
        raise HuffmanError(_failure(state >> 8))
    return b"".join(out)


def _failure(state: int) -> str:
    if state == _FAIL:
        return "EOS symbol inside a Huffman-coded string"
    return "Huffman padding longer than 7 bits or not all ones"


def _build() -> _Tables:
    """Compose the byte machine from the nibble machine and remember it (module-wide)."""
    global _tables
    children, leaves = _tree()
    nibble = [[_walk(children, leaves, state, nib) for nib in range(16)] for state in range(256)]
    next_rows = [[end << 8 for end, _ in row] for row in nibble] + [[_FAIL << 8] * 16]
    emit_rows = [[symbols for _, symbols in row] for row in nibble] + [[b""] * 16]
    nxt: list[int] = []
    emit: list[bytes] = []
    for row in nibble:
        for mid, first in row:
            nxt += next_rows[mid]
            emit += [first + second for second in emit_rows[mid]] if first else emit_rows[mid]
    nxt += [_FAIL << 8] * 256
    emit += [b""] * 256
    _tables = (nxt, emit, _accepting(children))
    return _tables


def _tree() -> tuple[list[list[int]], dict[int, int]]:
    """The code tree: children[node] = [node on 0, node on 1] (internal nodes numbered from
    the root 0); a child number >= 1000 is the leaf of symbol (number - 1000)."""
    children: list[list[int]] = [[-1, -1]]
    leaves: dict[int, int] = {}
    for symbol, (code, length) in enumerate(CODES):
        node = 0
        for shift in range(length - 1, 0, -1):
            bit = (code >> shift) & 1
            if children[node][bit] < 0:
                children[node][bit] = len(children)
                children.append([-1, -1])
            node = children[node][bit]
        children[node][code & 1] = 1000 + symbol
    for node, pair in enumerate(children):
        for bit in (0, 1):
            if pair[bit] >= 1000:
                leaves[node * 2 + bit] = pair[bit] - 1000
    return children, leaves


def _walk(
    children: list[list[int]], leaves: dict[int, int], state: int, nib: int
) -> tuple[int, bytes]:
    """Four bits from ``state``: (state reached or _FAIL, symbols completed)."""
    out = bytearray()
    for shift in (3, 2, 1, 0):
        bit = (nib >> shift) & 1
        symbol = leaves.get(state * 2 + bit)
        if symbol is None:
            state = children[state][bit]
        elif symbol == EOS:
            return _FAIL, b""
        else:
            out.append(symbol)
            state = 0
    return state, bytes(out)


def _accepting(children: list[list[int]]) -> bytes:
    """Flag per state: may the string end here? The root, and the nodes 1-7 one-bits below it
    (valid padding is at most 7 bits of EOS's prefix, RFC 7541 section 5.2)."""
    flags = bytearray(_FAIL + 1)
    node = 0
    for _ in range(8):
        flags[node] = 1
        node = children[node][1]
    return bytes(flags)
