"""HPACK (RFC 7541) for our HTTP/2 client: pure, sans-IO, no per-field objects.

SEAM (issue 12): this file's public API is fixed; its body is being replaced by our own
implementation (static + dynamic table, table-driven Huffman decoder). Until then it delegates
to the ``hpack`` package so the frame codec can be built against the final API.

Errors: a block we cannot decode raises ``HpackError`` (a ProtocolError): the connection layer
answers it with GOAWAY COMPRESSION_ERROR and fails the connection (RFC 9113 section 4.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import hpack

from sai3bench.http.errors import ProtocolError

#: SETTINGS_HEADER_TABLE_SIZE both sides start with (RFC 7541 section 4.2).
DEFAULT_TABLE_SIZE = 4096


class HpackError(ProtocolError):
    """A header block that is not valid HPACK (COMPRESSION_ERROR)."""


class HpackDecoder:
    """Decodes the peer's header blocks; owns the peer-to-us dynamic table.

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE we advertised: a table size update
    above it is an error. One decoder per connection, blocks fed in the order received.
    """

    def __init__(self, max_table_size: int = DEFAULT_TABLE_SIZE) -> None:
        self.max_table_size = max_table_size
        self._impl = hpack.Decoder(max_table_size)

    def decode(self, block: bytes | bytearray | memoryview) -> list[tuple[bytes, bytes]]:
        """One complete header block (HEADERS + CONTINUATION fragments joined) -> fields in
        order, names and values as bytes."""
        try:
            return [(bytes(n), bytes(v)) for n, v in self._impl.decode(bytes(block), raw=True)]
        except hpack.HPACKError as exc:
            raise HpackError(str(exc)) from None


class HpackEncoder:
    """Encodes our request header blocks; owns the us-to-peer dynamic table.

    ``encode_request`` is the hot path: the pseudo-header prefix of a request shape (method,
    scheme, authority) is encoded once and reused; fields whose value repeats (content-sha256,
    the per-second date) go into the dynamic table; per-request values (path, signature) are
    literals without indexing and without Huffman coding (cheaper to send than to code).
    """

    def __init__(self) -> None:
        self._impl = hpack.Encoder()

    def set_max_table_size(self, size: int) -> None:
        """The peer's SETTINGS_HEADER_TABLE_SIZE: our table shrinks to it (and the next block
        starts with a table size update, RFC 7541 section 6.3)."""
        self._impl.header_table_size = size

    def encode(self, headers: Iterable[tuple[bytes, bytes]], *, huffman: bool = False) -> bytes:
        """Any header list (the general path; tests and rare requests)."""
        return bytes(self._impl.encode(list(headers), huffman=huffman))

    def encode_request(
        self,
        method: str,
        scheme: str,
        authority: str,
        path: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> bytes:
        """One request's header block: the four pseudo-headers, then ``headers`` (names
        lowercase, as HTTP/2 requires; not checked here)."""
        fields = [(":method", method), (":scheme", scheme), (":authority", authority)]
        fields.append((":path", path))
        fields.extend(headers)
        return bytes(self._impl.encode(fields, huffman=False))
