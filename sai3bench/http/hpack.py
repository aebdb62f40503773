"""HPACK (RFC 7541) for our HTTP/2 client: pure, sans-IO, no per-field objects.

The decoder reads the peer's response blocks: every representation, the dynamic table with its
size accounting (32 + len(name) + len(value)) and eviction, table size updates (only at the
start of a block, only up to the size we advertised), Huffman strings through the table-driven
decoder of http/huffman.py. Hostile input is bounded: prefix integers have at most 4
continuation bytes, and a block that decodes to more than ``max_header_list_size`` (256 KiB by
default, counted as RFC 9113's SETTINGS_MAX_HEADER_LIST_SIZE counts: 32 + name + value per
field) is refused, so a server cannot make us allocate without bound (an indexed field is one
byte on the wire however large the entry it names). Process-wide memos, all bounded: short
Huffman values, and whole blocks that read nothing from the dynamic table (nginx's GET
responses), whose insertions a hit replays.

Lazy values (``HpackDecoder.lazy``, set by H2Connection): a connection reads only a few
headers of a response (:status, content-length for HEAD, one asked-for header), yet nginx
answers every new object's PUT with a unique Huffman-coded ``location`` that it also inserts
into the dynamic table: decoding and inserting it was most of a 1 KiB PUT's response block
(8.3 us a block against 0.7 us for a repeated one). With ``lazy``, a short Huffman value seen
for the first time comes back as ``Coded`` (its bytes are the code) and is decoded by
``plain()`` when read (H2Response.headers does); seen a second time (server, date, etag) it is
decoded and remembered. Insertions wait in a pending list and are applied (decoded, sized,
evicted) only when something reads the table: an index beyond the static table, a size update,
``table``. nginx never references its entries, so then nothing is ever applied; the list keeps
only the newest limit // 32 insertions (no older entry can still be in the table: every entry
takes at least 32 bytes). Applying insertions in bulk evicts what one at a time would: the
table is always the longest run of newest entries that fits the limit. A value never read is
never decoded, so an invalid Huffman code in it is not reported (RFC 7541 5.2 asks a decoder
to reject one; we do when it is read). A lazy decoder also keeps the last block that read no
table and left one value coded: the next 201 is the same bytes around another location, and
its fields and insertions are taken from that block without a parse (6.9 -> 1.6 us a block,
tools/bench_hpack.py). Huffman values (memo, ``Coded``, ``plain``) live in hpack_values.py.

The encoder (our request blocks) lives in http/hpack_encoder.py and is re-exported here.

Errors: a block we cannot decode raises ``HpackError`` (a ProtocolError): the connection layer
answers it with GOAWAY COMPRESSION_ERROR and fails the connection (RFC 9113 section 4.3).
"""

from __future__ import annotations

import contextlib

from sai3bench.http.hpack_encoder import DEFAULT_TABLE_SIZE, HpackEncoder
from sai3bench.http.hpack_static import STATIC_COUNT, STATIC_TABLE
from sai3bench.http.hpack_values import (
    Coded,
    HpackError,
    decode_huffman,
    defer,
    huffman_memo,
    plain,
)

__all__ = [
    "DEFAULT_TABLE_SIZE",
    "MAX_HEADER_LIST_SIZE",
    "Coded",
    "HpackDecoder",
    "HpackEncoder",
    "HpackError",
    "plain",
]

#: The largest decoded header list we accept (bytes of 32 + name + value per field).
MAX_HEADER_LIST_SIZE = 256 * 1024
#: A block that reads nothing from the dynamic table and updates no size (nginx's responses:
#: static names, literals, some with incremental indexing) decodes the same on any connection,
#: and its only effect is to insert the same entries. Short ones are remembered process-wide:
#: (fields, list size, entries inserted oldest first); a hit replays the insertions. Bounded
#: like the Huffman memo; a block with a value left coded is not kept (it is likely unique).
_BLOCK_MEMO_LIMIT = 256
_BLOCK_MEMO_MAX_LEN = 512
_Field = tuple[bytes, bytes]
_block_memo: dict[bytes, tuple[tuple[_Field, ...], int, tuple[_Field, ...]]] = {}
_Template = tuple[bytes, bytes, tuple[_Field, ...], int, tuple[_Field, ...], int, int]


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
        hit = huffman_memo.get(raw)
        return (decode_huffman(raw) if hit is None else hit), stop
    return raw, stop


class HpackDecoder:
    """Decodes the peer's header blocks; owns the peer-to-us dynamic table.

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE we advertised: a table size update
    above it is an error. One decoder per connection, blocks fed in the order received.
    ``lazy``: short Huffman values seen for the first time come back ``Coded`` (module doc).
    """

    __slots__ = (
        "_coded",
        "_entries",
        "_limit",
        "_pending",
        "_reads_table",
        "_size",
        "_span",
        "_template",
        "lazy",
        "max_header_list_size",
        "max_table_size",
    )

    def __init__(
        self,
        max_table_size: int = DEFAULT_TABLE_SIZE,
        max_header_list_size: int = MAX_HEADER_LIST_SIZE,
        *,
        lazy: bool = False,
    ) -> None:
        self.max_table_size = max_table_size
        self.max_header_list_size = max_header_list_size
        self.lazy = lazy
        self._entries: list[_Field] = []  # applied, newest first: _entries[i] is 62 + i
        self._size = 0  # of _entries
        self._pending: list[_Field] = []  # inserted, not applied yet, oldest first
        self._limit = max_table_size  # the size the peer's last update set
        self._reads_table = False  # did the block being decoded read it or resize it?
        self._coded = 0  # values it left coded
        self._span = (0, 0, 0)  # the last one's (string start, end, field number)
        #: The last block that read no table and left one value coded (nginx's 201 with a new
        #: location): (bytes before the value's string, bytes after, fields, the value's field
        #: number, insertions, its number among them or -1, list size without it).
        self._template: _Template | None = None

    def __repr__(self) -> str:
        with contextlib.suppress(HpackError):  # a pending value's code is invalid: shown
            self._apply()
        more = f" +{len(self._pending)} pending" if self._pending else ""
        return (
            f"<HpackDecoder {len(self._entries)} entries{more}, {self._size}/{self._limit} bytes>"
        )

    @property
    def table(self) -> list[_Field]:
        """The dynamic table, newest entry (index 62) first."""
        self._apply()
        return list(self._entries)

    @property
    def table_size(self) -> int:
        self._apply()
        return self._size

    def decode(self, block: bytes | bytearray | memoryview) -> list[_Field]:
        """One complete header block (HEADERS + CONTINUATION fragments joined) -> fields in
        order, names and values as bytes (values may be ``Coded`` if ``lazy``)."""
        data = bytes(block)
        pending = self._pending
        known = _block_memo.get(data)
        if known and known[1] <= self.max_header_list_size:
            if known[2]:
                pending += known[2]
                if len(pending) > 2 * (self._limit >> 5) + 16:
                    self._forget_evicted()
            return list(known[0])
        if self._template is not None:
            fields = self._from_template(data, self._template)
            if fields is not None:
                return fields
        self._reads_table, self._coded = False, 0
        start = len(pending)
        try:
            fields, size = self._decode(data)
        except IndexError:
            raise HpackError("truncated HPACK header block") from None
        if not self._reads_table and len(data) <= _BLOCK_MEMO_MAX_LEN:
            if not self._coded:
                if len(_block_memo) >= _BLOCK_MEMO_LIMIT:
                    _block_memo.clear()
                _block_memo[data] = (tuple(fields), size, tuple(pending[start:]))
            elif self._coded == 1:
                self._keep_template(data, fields, size, tuple(pending[start:]))
        if len(pending) > 2 * (self._limit >> 5) + 16:
            self._forget_evicted()
        return fields

    def _decode(self, data: bytes) -> tuple[list[_Field], int]:
        """(fields, their list size). The field loop is one function on purpose: no call per
        field (a helper for literals) on the per-response path."""
        pos = self._size_updates(data)
        end = len(data)
        fields: list[_Field] = []
        budget = self.max_header_list_size
        static, memo, pending, lazy = STATIC_TABLE, huffman_memo, self._pending, self.lazy
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
                    pos = stop
                    if byte & 0x80:
                        hit = memo.get(value)
                        if hit is not None:
                            value = hit
                        elif not lazy:
                            value = decode_huffman(value)
                        else:
                            value = defer(value)
                            if type(value) is Coded:  # counted at its longest: 8/5 of the code
                                self._coded += 1
                                self._span = (stop - 1 - len(value), stop, len(fields))
                                budget -= len(value) * 3 // 5
                field = (name, value)
                if mask == 0x3F:
                    pending.append(field)
            budget -= 32 + len(field[0]) + len(field[1])
            if budget < 0:
                budget = self._exact_budget(fields, field)
            fields.append(field)
        return fields, self.max_header_list_size - budget

    def _keep_template(
        self, data: bytes, fields: list[_Field], size: int, inserted: tuple[_Field, ...]
    ) -> None:
        """Remember a block whose one coded value is likely unique, for ``_from_template``."""
        start, stop, at = self._span
        field = fields[at]
        numbers = [i for i, entry in enumerate(inserted) if entry is field]
        base = size - 32 - len(field[0]) - len(field[1]) * 8 // 5
        self._template = (
            data[:start],
            data[stop:],
            tuple(fields),
            at,
            inserted,
            numbers[0] if numbers else -1,
            base,
        )

    def _from_template(self, data: bytes, template: _Template) -> list[_Field] | None:
        """The fields of ``data`` if it is the template's block with another short Huffman
        string in the coded value's place (None: decode it). The bytes around that string are
        the same and read no table, so they decode to the same fields and insertions."""
        prefix, suffix, fields, at, inserted, number, base = template
        start, stop = len(prefix), len(data) - len(suffix)
        n = stop - start - 1
        if not 0 <= n < 0x7F or data[start] != 0x80 | n:
            return None
        if not (data.startswith(prefix) and data.endswith(suffix)):
            return None
        name = fields[at][0]
        if base + 32 + len(name) + n * 8 // 5 > self.max_header_list_size:
            return None  # a full decode counts it exactly
        raw = data[start + 1 : stop]
        value = huffman_memo.get(raw)
        field = (name, defer(raw) if value is None else value)
        out = list(fields)
        out[at] = field
        if inserted:
            if number >= 0:
                self._pending += (*inserted[:number], field, *inserted[number + 1 :])
            else:
                self._pending += inserted
            if len(self._pending) > 2 * (self._limit >> 5) + 16:
                self._forget_evicted()
        return out

    def _exact_budget(self, fields: list[_Field], field: _Field) -> int:
        """The list budget left after ``fields`` and ``field`` counted exactly (their coded
        values decoded in place: the upper bound counted for them ran out); HpackError if
        it is spent."""
        for i, (name, value) in enumerate(fields):
            if type(value) is Coded:
                fields[i] = (name, plain(value))
        left = self.max_header_list_size - 32 - len(field[0]) - len(plain(field[1]))
        left -= sum(32 + len(name) + len(value) for name, value in fields)
        if left < 0:
            raise HpackError(f"header list over {self.max_header_list_size} bytes")
        return left

    def _size_updates(self, data: bytes) -> int:
        """Apply the table size updates at the start of the block (RFC 7541 section 4.2);
        the position of its first field."""
        pos = 0
        while pos < len(data) and data[pos] & 0xE0 == 0x20:
            size, pos = _read_integer(data, pos, 0x1F)
            self._resize(size)
        return pos

    def _lookup(self, index: int) -> _Field:
        if index > STATIC_COUNT:
            self._reads_table = True
            if self._pending:
                self._apply()
            try:
                return self._entries[index - STATIC_COUNT - 1]
            except IndexError:
                raise HpackError(f"HPACK index {index} beyond the dynamic table") from None
        if index:
            return STATIC_TABLE[index]
        raise HpackError("HPACK index 0")

    def _apply(self) -> None:
        """Apply the pending insertions (newest first, decoding coded values) until one does
        not fit: it and everything older are evicted, so they are never decoded."""
        pending = self._pending
        if not pending:
            return
        limit, total = self._limit, 0
        kept: list[_Field] = []
        for name, value in reversed(pending):
            value = plain(value)
            size = 32 + len(name) + len(value)
            if total + size > limit:
                pending.clear()
                self._entries, self._size = kept, total
                return
            total += size
            kept.append((name, value))
        pending.clear()
        self._entries[:0] = kept
        self._size += total
        self._evict()

    def _forget_evicted(self) -> None:
        """Keep only the newest limit // 32 pending insertions: the older ones and every
        applied entry are certainly evicted (at least 32 bytes an entry)."""
        keep = self._limit >> 5
        pending = self._pending
        del pending[: len(pending) - keep]
        self._entries.clear()
        self._size = 0

    def _resize(self, size: int) -> None:
        if size > self.max_table_size:
            raise HpackError(f"HPACK table size update to {size} > {self.max_table_size}")
        self._reads_table = True
        self._apply()  # the insertions before it were made under the old limit
        self._limit = size
        self._evict()

    def _evict(self) -> None:
        """Drop the oldest entries until the table fits its limit."""
        entries, size, limit = self._entries, self._size, self._limit
        while size > limit:
            name, value = entries.pop()
            size -= 32 + len(name) + len(value)
        self._size = size
