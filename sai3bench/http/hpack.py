"""HPACK (RFC 7541) for our HTTP/2 client: pure, sans-IO, no per-field objects.

The decoder reads the peer's response blocks: every representation, the dynamic table with its
size accounting (32 + len(name) + len(value)) and eviction, table size updates (only at the
start of a block, only up to the size we advertised), Huffman strings through the table-driven
decoder of http/huffman.py. Hostile input is bounded: prefix integers have at most 4
continuation bytes, and a block that decodes to more than ``max_header_list_size`` (256 KiB by
default, counted as RFC 9113's SETTINGS_MAX_HEADER_LIST_SIZE counts: 32 + name + value per
field) is refused, so a server cannot make us allocate without bound (an indexed field is one
byte on the wire however large the entry it names). Two process-wide memos, both bounded:
short Huffman values, and whole blocks that read nothing from the dynamic table (nginx's
responses), whose insertions a hit replays.

The encoder writes our request blocks. ``encode_request`` is the hot path (see its docstring);
requests are never Huffman-coded: on the links we drive the CPU spent coding costs more than
the bytes it saves.

Errors: a block we cannot decode raises ``HpackError`` (a ProtocolError): the connection layer
answers it with GOAWAY COMPRESSION_ERROR and fails the connection (RFC 9113 section 4.3).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from sai3bench.http import huffman
from sai3bench.http.errors import ProtocolError
from sai3bench.http.hpack_static import (
    LENGTH_BYTE,
    PLANS,
    STATIC_COUNT,
    STATIC_FIELD_INDEX,
    STATIC_NAME_INDEX,
    STATIC_TABLE,
    encode_indexed,
    encode_integer,
    encode_string,
    name_plan,
)

#: SETTINGS_HEADER_TABLE_SIZE both sides start with (RFC 7541 section 4.2).
DEFAULT_TABLE_SIZE = 4096
#: The largest decoded header list we accept (bytes of 32 + name + value per field).
MAX_HEADER_LIST_SIZE = 256 * 1024
#: Response values repeat (server, content-type, etag, the date for a second): short
#: Huffman strings are decoded once per process. Bounded: cleared when full.
_MEMO_LIMIT = 1024
_MEMO_MAX_LEN = 64
_huffman_memo: dict[bytes, bytes] = {}
#: A block that reads nothing from the dynamic table and updates no size (nginx's responses:
#: static names, literals, some with incremental indexing) decodes the same on any connection,
#: and its only effect is to insert the same entries. Short ones are remembered process-wide:
#: (fields, list size, entries inserted newest first, their size); a hit replays the
#: insertions. Bounded like the Huffman memo.
_BLOCK_MEMO_LIMIT = 256
_BLOCK_MEMO_MAX_LEN = 512
_Field = tuple[bytes, bytes]
_block_memo: dict[bytes, tuple[tuple[_Field, ...], int, tuple[_Field, ...], int]] = {}


class HpackError(ProtocolError):
    """A header block that is not valid HPACK (COMPRESSION_ERROR)."""


def _entry_size(name: bytes | str, value: bytes | str) -> int:
    """An entry's size in the table (RFC 7541 section 4.1)."""
    return 32 + len(name) + len(value)


def _read_integer(data: bytes, pos: int, mask: int) -> tuple[int, int]:
    """(value, position after it) of the prefix integer at ``pos`` (prefix bits ``mask``).

    The hot paths inline the one-byte case and call this only when the prefix is all ones."""
    value = data[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise HpackError("HPACK integer longer than 4 continuation bytes")


def _read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    """(string, position after it) of the string literal at ``pos``."""
    byte = data[pos]
    length = byte & 0x7F
    if length == 0x7F:
        length, pos = _read_integer(data, pos, 0x7F)
    else:
        pos += 1
    stop = pos + length
    if stop > len(data):
        raise HpackError("truncated HPACK string literal")
    raw = data[pos:stop]
    if byte & 0x80:
        return _huffman_memo.get(raw) or _decode_huffman(raw), stop
    return raw, stop


def _decode_huffman(raw: bytes) -> bytes:
    try:
        decoded = huffman.decode(raw)
    except huffman.HuffmanError as exc:
        raise HpackError(str(exc)) from None
    if len(raw) <= _MEMO_MAX_LEN:
        if len(_huffman_memo) >= _MEMO_LIMIT:
            _huffman_memo.clear()
        _huffman_memo[raw] = decoded
    return decoded


class HpackDecoder:
    """Decodes the peer's header blocks; owns the peer-to-us dynamic table.

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE we advertised: a table size update
    above it is an error. One decoder per connection, blocks fed in the order received.
    """

    __slots__ = (
        "_entries",
        "_inserted",
        "_inserted_size",
        "_limit",
        "_reads_table",
        "_size",
        "max_header_list_size",
        "max_table_size",
    )

    def __init__(
        self,
        max_table_size: int = DEFAULT_TABLE_SIZE,
        max_header_list_size: int = MAX_HEADER_LIST_SIZE,
    ) -> None:
        self.max_table_size = max_table_size
        self.max_header_list_size = max_header_list_size
        self._entries: list[tuple[bytes, bytes]] = []  # newest first: _entries[i] is 62 + i
        self._size = 0
        self._limit = max_table_size  # the size the peer's last update set
        self._reads_table = False  # did the block being decoded read it or resize it?
        self._inserted: list[_Field] = []  # what the block being decoded inserted
        self._inserted_size = 0

    def __repr__(self) -> str:
        return f"<HpackDecoder {len(self._entries)} entries, {self._size}/{self._limit} bytes>"

    @property
    def table(self) -> list[tuple[bytes, bytes]]:
        """The dynamic table, newest entry (index 62) first."""
        return list(self._entries)

    @property
    def table_size(self) -> int:
        return self._size

    def decode(self, block: bytes | bytearray | memoryview) -> list[tuple[bytes, bytes]]:
        """One complete header block (HEADERS + CONTINUATION fragments joined) -> fields in
        order, names and values as bytes."""
        data = bytes(block)
        known = _block_memo.get(data)
        if known and known[1] <= self.max_header_list_size and known[3] <= self._limit:
            if known[2]:  # the entries all fit: inserting them at once evicts the same ones
                self._entries[:0] = known[2]
                self._size += known[3]
                self._evict()
            return list(known[0])
        self._reads_table = False
        inserted: list[_Field] = []
        self._inserted = inserted
        self._inserted_size = 0
        try:
            fields, size = self._decode(data)
        except IndexError:
            raise HpackError("truncated HPACK header block") from None
        if not self._reads_table and len(data) <= _BLOCK_MEMO_MAX_LEN:
            if len(_block_memo) >= _BLOCK_MEMO_LIMIT:
                _block_memo.clear()
            inserted.reverse()
            _block_memo[data] = (tuple(fields), size, tuple(inserted), self._inserted_size)
        return fields

    def _decode(self, data: bytes) -> tuple[list[tuple[bytes, bytes]], int]:
        """(fields, their list size). The field loop is one function on purpose: a call per
        field (a helper for literals) costs ~15 % of a response block's decode."""
        pos = self._size_updates(data)
        end = len(data)
        fields = []
        budget = self.max_header_list_size
        static, memo = STATIC_TABLE, _huffman_memo
        while pos < end:
            byte = data[pos]
            if byte & 0x80:  # indexed field
                index = byte & 0x7F
                index, pos = (index, pos + 1) if index != 0x7F else _read_integer(data, pos, 0x7F)
                field = static[index] if 0 < index <= STATIC_COUNT else self._lookup(index)
            else:  # literal: 01 incremental indexing, 0000 without, 0001 never indexed
                mask = 0x3F if byte & 0x40 else 0x0F
                if byte & 0x60 == 0x20:
                    raise HpackError("HPACK table size update after a header field")
                index = byte & mask
                if index != mask:
                    pos += 1
                elif data[pos + 1] < 0x80:  # the two-byte form: static names 15-61 unindexed
                    index += data[pos + 1]
                    pos += 2
                else:
                    index, pos = _read_integer(data, pos, mask)
                if index:
                    name = (static[index] if index <= STATIC_COUNT else self._lookup(index))[0]
                else:
                    name, pos = _read_string(data, pos)
                byte = data[pos]  # the value: _read_string inlined for a short one
                stop = pos + 1 + (byte & 0x7F)
                if byte & 0x7F == 0x7F or stop > end:
                    value, pos = _read_string(data, pos)
                else:
                    value = data[pos + 1 : stop]
                    if byte & 0x80:
                        value = memo.get(value) or _decode_huffman(value)
                    pos = stop
                field = (name, value)
                if mask == 0x3F:
                    self._insert(field)
            budget -= 32 + len(field[0]) + len(field[1])
            if budget < 0:
                raise HpackError(f"header list over {self.max_header_list_size} bytes")
            fields.append(field)
        return fields, self.max_header_list_size - budget

    def _size_updates(self, data: bytes) -> int:
        """Apply the table size updates at the start of the block (RFC 7541 section 4.2);
        the position of its first field."""
        pos = 0
        while pos < len(data) and data[pos] & 0xE0 == 0x20:
            size, pos = _read_integer(data, pos, 0x1F)
            self._resize(size)
        return pos

    def _lookup(self, index: int) -> tuple[bytes, bytes]:
        if index > STATIC_COUNT:
            self._reads_table = True
            try:
                return self._entries[index - STATIC_COUNT - 1]
            except IndexError:
                raise HpackError(f"HPACK index {index} beyond the dynamic table") from None
        if index:
            return STATIC_TABLE[index]
        raise HpackError("HPACK index 0")

    def _insert(self, field: tuple[bytes, bytes]) -> None:
        """Add ``field`` as index 62; an entry larger than the table empties it (RFC 7541
        section 4.4)."""
        size = _entry_size(*field)
        self._inserted.append(field)
        self._inserted_size += size
        if size > self._limit:
            self._entries.clear()
            self._size = 0
            return
        self._entries.insert(0, field)
        self._size += size
        self._evict()

    def _resize(self, size: int) -> None:
        if size > self.max_table_size:
            raise HpackError(f"HPACK table size update to {size} > {self.max_table_size}")
        self._reads_table = True
        self._limit = size
        self._evict()

    def _evict(self) -> None:
        """Drop the oldest entries until the table fits its limit (_entry_size inlined: every
        block from nginx evicts about five)."""
        entries, size, limit = self._entries, self._size, self._limit
        while size > limit:
            name, value = entries.pop()
            size -= 32 + len(name) + len(value)
        self._size = size


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
