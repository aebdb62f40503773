"""HPACK's Huffman code (RFC 7541 section 5.2, Appendix B): an encoder and a table-driven decoder.

The code table below is the RFC's Appendix B, written out as constants (symbol = position;
256 is EOS). The code is canonical: tests/unit/http/test_hpack.py rebuilds it from the lengths
alone, which checks the transcription.

Decoding walks a byte-at-a-time state machine instead of bit by bit: one table lookup per input
byte. A state is an internal node of the code tree (256 of them; the root is 0) and a row of
256 transitions gives, for each input byte, the next state and the 0-2 symbols completed on
the way. The rows are composed from a 4-bit (nibble) machine, as nghttp2 builds its table,
which keeps the build to ~20 ms of CPU. The tables are built on the first decode, not at
import: the CLI starts without paying for them and a run with no HTTP/2 never builds them.

Errors (RFC 7541 section 5.2): an EOS symbol inside a string, padding longer than 7 bits, or
padding that is not the most significant bits of EOS (all ones) raise ``HuffmanError``.
"""

from __future__ import annotations

from collections.abc import Iterable

#: (code, bit length) per symbol; symbols 0-255 are the byte values, 256 is EOS.
# fmt: off
CODES: tuple[tuple[int, int], ...] = (
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28),
    (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24),
    (0x3ffffffc, 30), (0xfffffe9, 28), (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28),
    (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28), (0xffffff4, 28),
    (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
    (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10),
    (0xffa, 12), (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11), (0xfa, 8),
    (0x16, 6), (0x17, 6), (0x18, 6), (0x0, 5), (0x1, 5),
    (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6), (0x1c, 6),
    (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13),
    (0x21, 6), (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7),
    (0x61, 7), (0x62, 7), (0x63, 7), (0x64, 7), (0x65, 7),
    (0x66, 7), (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7), (0x6f, 7),
    (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
    (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14),
    (0x22, 6), (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6), (0x27, 6),
    (0x6, 5), (0x74, 7), (0x75, 7), (0x28, 6), (0x29, 6),
    (0x2a, 6), (0x7, 5), (0x2b, 6), (0x76, 7), (0x2c, 6),
    (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11),
    (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22),
    (0xfffe7, 20), (0xfffe8, 20), (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22),
    (0x7fffd9, 23), (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23), (0xffffec, 24),
    (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23),
    (0x7fffe2, 23), (0x7fffe3, 23), (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22),
    (0x7fffe5, 23), (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22),
    (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21), (0x7fffea, 23), (0x3fffdd, 22),
    (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23),
    (0x7fffec, 23), (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20),
    (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22),
    (0x3fffe6, 22), (0x7ffff1, 23), (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20),
    (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27), (0x7ffffdf, 27),
    (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21),
    (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27),
    (0xfffff2, 24), (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20),
    (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21), (0x3fffe9, 22), (0x1fffe7, 21),
    (0x1fffe8, 21), (0x7ffff3, 23), (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25),
    (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27),
    (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28),
    (0x7ffffec, 27), (0x7ffffed, 27), (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27),
    (0x3ffffee, 26), (0x3fffffff, 30),
)
# fmt: on
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


#: The state machine, built on first use: per (state << 8 | byte) the pair (next state << 8,
#: symbols emitted), and an accepting flag per state. State _FAIL absorbs everything.
_Tables = tuple[list[tuple[int, bytes]], bytes]
_tables: _Tables | None = None
_FAIL = 256


def decode(data: bytes | bytearray | memoryview) -> bytes:
    """The Huffman-coded HPACK string ``data`` decoded; ``HuffmanError`` if it is invalid."""
    transitions, accepting = _tables or _build()
    state = 0
    out: list[bytes] = []
    for byte in data:  # one lookup per byte (pairs and out.append: ~13 % under two lists)
        state, symbols = transitions[state | byte]
        out.append(symbols)
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
    rows = [[(end << 8, symbols) for end, symbols in row] for row in nibble]
    rows.append([(_FAIL << 8, b"")] * 16)
    transitions: list[tuple[int, bytes]] = []
    for row in nibble:
        for mid, first in row:
            if first:
                transitions += [(end, first + second) for end, second in rows[mid]]
            else:
                transitions += rows[mid]
    transitions += [(_FAIL << 8, b"")] * 256
    _tables = (transitions, _accepting(children))
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
