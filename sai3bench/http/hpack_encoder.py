"""HPACK (RFC 7541) request encoder: our header blocks, with static and dynamic indexing.

Split from hpack.py (which re-exports ``HpackEncoder``): the decoder reads the peer's blocks,
this half writes ours. ``encode_request`` is the hot path (see its docstring); requests are
never Huffman-coded: on the links we drive the CPU spent coding costs more than the bytes it
saves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from sai3bench.http.hpack_static import (
    LENGTH_BYTE,
    PLANS,
    STATIC_COUNT,
    STATIC_FIELD_INDEX,
    STATIC_NAME_INDEX,
    encode_indexed,
    encode_integer,
    encode_string,
    name_plan,
)

#: SETTINGS_HEADER_TABLE_SIZE both sides start with (RFC 7541 section 4.2).
DEFAULT_TABLE_SIZE = 4096


def _entry_size(name: str, value: bytes) -> int:
    """An entry's size in the table (RFC 7541 section 4.1)."""
    return 32 + len(name) + len(value)


class HpackEncoder:
    """Encodes our request header blocks; owns the us-to-peer dynamic table.

    The table mirrors, entry for entry, what the peer's decoder holds: fields are inserted and
    evicted (oldest first) in the order the peer will process them. An entry is found by its
    insertion number, so the index (62 for the newest) is arithmetic, not a search.
    """

    __slots__ = ("_entries", "_index", "_inserted", "_limit", "_prefixes", "_resizes", "_size")

    def __init__(self) -> None:
        self._index: dict[tuple[str, str], int] = {}  # field -> insertion number
        self._entries: deque[tuple[tuple[str, str], int]] = deque()  # (field, size), oldest 1st
        self._inserted = 0
        self._size = 0
        self._limit = DEFAULT_TABLE_SIZE
        self._resizes: list[int] = []  # table sizes to announce at the next block's start
        self._prefixes: dict[tuple[str, str, str], bytes] = {}

    def __repr__(self) -> str:
        return f"<HpackEncoder {len(self._entries)} entries, {self._size}/{self._limit} bytes>"

    @property
    def table(self) -> list[tuple[bytes, bytes]]:
        """The dynamic table as the peer holds it, newest entry (index 62) first."""
        return [(n.encode("latin-1"), v.encode("latin-1")) for (n, v), _ in reversed(self._entries)]

    @property
    def table_size(self) -> int:
        return self._size

    def set_max_table_size(self, size: int) -> None:
        """The peer's SETTINGS_HEADER_TABLE_SIZE. We use min(size, DEFAULT_TABLE_SIZE) (our few
        request shapes need no more); a change shrinks our table now and is announced at the
        start of the next block (RFC 7541 sections 4.2 and 6.3): the smallest size set since
        the last block, then the final one, so the peer evicts what we evicted."""
        limit = min(size, DEFAULT_TABLE_SIZE)
        if limit == self._limit and not self._resizes:
            return
        resizes = self._resizes
        if len(resizes) > 2:  # only the lowest and the last are announced: keep just those
            resizes[:] = [min(resizes), resizes[-1]]  # (a SETTINGS flood grew it per frame)
        resizes.append(limit)
        self._limit = limit
        self._evict()

    def encode(self, headers: Iterable[tuple[bytes, bytes]], *, huffman: bool = False) -> bytes:
        """Any header list (the general path; tests and rare requests). A field of the static
        table is indexed; others follow the name policy of ``encode_request``."""
        parts = [self._take_resizes()] if self._resizes else []
        for raw_name, raw_value in headers:
            field = (raw_name.decode("latin-1"), raw_value.decode("latin-1"))
            static = STATIC_FIELD_INDEX.get(field)
            parts.append(encode_indexed(static) if static else self._field(*field, huffman))
        return b"".join(parts)

    def encode_request(
        self,
        method: str,
        scheme: str,
        authority: str,
        path: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> bytes:
        """One request's header block: the four pseudo-headers, then ``headers`` (names
        lowercase, as HTTP/2 requires; not checked here).

        The (method, scheme, authority) prefix is encoded once per shape from the static table
        alone (indexed GET/POST/http/https, else literals with a static name), so its bytes do
        not depend on the dynamic table and are reused as is. ``:path`` is a literal without
        indexing (static name 4). Other headers: values of per-request names (content-length,
        range, checksums...) are literals without indexing, credentials are never indexed,
        and the rest (x-amz-date, x-amz-content-sha256, content-type, user-agent...) go into
        the dynamic table once and are one-byte references afterwards."""
        prefix = self._prefixes.get((method, scheme, authority))
        if prefix is None:
            prefix = self._prefix(method, scheme, authority)
        raw = path.encode("latin-1")
        n = len(raw)
        parts = [prefix, b"\x04", LENGTH_BYTE[n] if n < 0x7F else encode_integer(n, 0x7F, 0), raw]
        plans, index = PLANS[False], self._index
        for name, value in headers:  # _field's two common cases inlined: a literal, a reference
            plan = plans.get(name) or name_plan(name, False)
            if not plan[0]:
                raw = value.encode("latin-1")
                n = len(raw)
                parts += (plan[1], LENGTH_BYTE[n] if n < 0x7F else encode_integer(n, 0x7F, 0), raw)
                continue
            number = index.get((name, value))
            if number is None:
                parts.append(self._field(name, value, False))
            else:
                parts.append(encode_indexed(self._inserted - number + STATIC_COUNT))
        if self._resizes:
            parts[0] = self._take_resizes() + prefix
        return b"".join(parts)

    def _prefix(self, method: str, scheme: str, authority: str) -> bytes:
        parts = []
        for field in ((":method", method), (":scheme", scheme), (":authority", authority)):
            static = STATIC_FIELD_INDEX.get(field)
            name_index = STATIC_NAME_INDEX[field[0]]
            literal = encode_integer(name_index, 0x0F, 0) + encode_string(
                field[1].encode("latin-1"), False
            )
            parts.append(encode_indexed(static) if static else literal)
        if len(self._prefixes) >= 64:
            self._prefixes.clear()
        prefix = self._prefixes[(method, scheme, authority)] = b"".join(parts)
        return prefix

    def _field(self, name: str, value: str, use_huffman: bool) -> bytes:
        """One field by the name's plan: a reference to the dynamic or static table, else a
        literal (inserting it when the name's values are worth indexing and it fits)."""
        plan = PLANS[use_huffman].get(name) or name_plan(name, use_huffman)
        if not plan[0]:
            return plan[1] + encode_string(value.encode("latin-1"), use_huffman)
        field = (name, value)
        number = self._index.get(field)
        if number is not None:
            return encode_indexed(self._inserted - number + STATIC_COUNT)
        static = STATIC_FIELD_INDEX.get(field)
        if static:
            return encode_indexed(static)
        raw = value.encode("latin-1")
        if self._insert(field, _entry_size(name, raw)):
            return plan[2] + encode_string(raw, use_huffman)
        return plan[1] + encode_string(raw, use_huffman)

    def _insert(self, field: tuple[str, str], size: int) -> bool:
        """Add ``field`` as the newest entry, evicting the oldest as needed. An entry larger
        than the whole table is not added (False): it would only empty the table."""
        if size > self._limit:
            return False
        self._index[field] = self._inserted
        self._inserted += 1
        self._entries.append((field, size))
        self._size += size
        self._evict()
        return True

    def _evict(self) -> None:
        while self._size > self._limit:
            field, size = self._entries.popleft()
            del self._index[field]
            self._size -= size

    def _take_resizes(self) -> bytes:
        low, final = min(self._resizes), self._resizes[-1]
        self._resizes.clear()
        update = encode_integer(low, 0x1F, 0x20)
        return update if final == low else update + encode_integer(final, 0x1F, 0x20)
