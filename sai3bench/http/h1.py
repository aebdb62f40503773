"""Sans-IO HTTP/1.1: incremental response and request parsers (heads are built in h1build.py).

Owns the bytes of a message head and the framing of its body (Content-Length, chunked, read
until close). Never touches a socket, a clock, an event loop or mutable module state: the
protocol layer feeds bytes in and takes its own clock reading when ``head_done`` flips.

Rule 1: ``feed`` consumes every byte it is given until the message is done and not one byte
past its end. ``consumed < len(data)`` therefore means the rest is the next pipelined message,
which the caller keeps; after a feed that did not finish a message the caller may drop its
buffer, because a partial head or chunk line is copied into the parser's own.
Rule 2: a head is bounded (``max_head`` bytes, blank line included) and a partial one is
searched from where the last search stopped, so a head arriving a byte at a time costs O(n).
Rule 3: a head that cannot be HTTP fails at its first bytes, not when 64 KiB or a blank line
arrive: a response must start with "HTTP/", a request with a method character (checked only
when a head is split across reads: a whole one is checked line by line anyway). A TLS
ClientHello sent to a plain port, or a server answering garbage, is refused at once.
Rule 4: ambiguous framing is a ProtocolError, never a guess: conflicting or non-numeric
Content-Length, Content-Length with Transfer-Encoding, a final coding other than chunked, bare
CR or LF, NUL, whitespace between a framing field's name and its colon. Only CRLF ends a line.
Rule 5: when the head arrives only the status line and the framing fields (Content-Length,
Transfer-Encoding, Connection, Expect) are parsed; ``headers`` is split into (name, value)
pairs, and its other lines checked, on first read. Measured with timeit (best of 15 x 20k
runs, Python 3.11, this shared 2-core VM): start + feed of a 10-line S3 GET head plus a 1 KiB
body in one chunk takes 4.3 us from bytes and 4.6 us from a memoryview; reading ``headers``
too brings it to 7.8 us, which is what parsing every field eagerly costs; h11 takes 58 us for
the same exchange; a bare find + split of the head alone takes 0.75 us.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Final

from sai3bench.http.errors import ProtocolError

Buf = bytes | bytearray | memoryview

# The parser's states, indexes into _READERS. "done" has no reader: feed stops there.
HEAD: Final = 0
BODY_LENGTH: Final = 1
CHUNK_SIZE: Final = 2
CHUNK_DATA: Final = 3
CHUNK_CRLF: Final = 4
TRAILERS: Final = 5
UNTIL_CLOSE: Final = 6
DONE: Final = 7
STATE_NAMES: Final = (
    "head",
    "body-length",
    "chunk-size",
    "chunk-data",
    "chunk-crlf",
    "trailers",
    "until-close",
    "done",
)
_TOO_LONG: Final = ("head too large", "", "chunk-size line too long", "", "", "trailers too large")

DEFAULT_MAX_HEAD: Final = 64 * 1024
_MAX_CHUNK_LINE: Final = 4096  # size + extensions; nobody legitimate comes close
# A memoryview has no find(): copy this much of it to look for a head's end or a line's, then
# fall back to the stash. 4 KiB holds any S3 head and costs 0.2 us to copy.
_PROBE: Final = 4096
_LINE_PROBE: Final = 256
_KEEP_ALL: Final = sys.maxsize
_TCHAR: Final = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HEX: Final = b"0123456789abcdefABCDEF"
_VCHAR: Final = bytes(range(0x21, 0x7F))
_NOT_CTL: Final = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
_NOT_CR_LF_NUL: Final = bytes(range(256)).translate(None, b"\r\n\0")
_VERSIONS: Final = {b"HTTP/1.1": "1.1", b"HTTP/1.0": "1.0"}
_STATUS_PREFIXES: Final = {b"HTTP/1.1 ": "1.1", b"HTTP/1.0 ": "1.0"}
# Full status lines for every registered status with its standard phrase, built once.


class Headers(list[tuple[bytes, bytes]]):
    """Header fields in arrival order: (lower-cased name, value with surrounding space stripped).

    A list rather than a dict: cheaper to build, and order and repeated names survive.
    """

    __slots__ = ()

    def get(self, name: bytes | str, default: bytes | None = None) -> bytes | None:
        """The first value of ``name`` (any case), or ``default``."""
        key = (name.encode("ascii") if isinstance(name, str) else name).lower()
        for k, v in self:
            if k == key:
                return v
        return default

    def get_all(self, name: bytes | str) -> list[bytes]:
        """Every value of ``name`` (any case), in order."""
        key = (name.encode("ascii") if isinstance(name, str) else name).lower()
        return [v for k, v in self if k == key]


# ---------------------------------------------------------------- head parsing


def _check_head(block: bytes) -> int:
    """The end of the first line; ProtocolError for a bare CR or LF, or a NUL, anywhere."""
    # One translate keeps only CR, LF and NUL: a clean head leaves "\r\n" * lines (0.4 us
    # for 400 bytes, against 1.0 us for three count() calls).
    rest = block.translate(None, _NOT_CR_LF_NUL)
    # Occurrences of CRLF never overlap: they cover ``rest`` exactly when it is all CRLFs.
    if rest.count(b"\r\n") * 2 != len(rest):
        raise ProtocolError("bare CR, LF or NUL in head")
    eol = block.find(b"\r\n")
    return eol if eol >= 0 else len(block)


def _parse_fields(lines: Iterable[bytes]) -> Headers:
    """(name, value) pairs from field lines, checked; ~0.4 us per field."""
    headers = Headers()
    for line in lines:
        name, colon, value = line.partition(b":")
        # translate() deletes token characters: anything left (space before the colon, a
        # leading space from obs-fold, a control) is refused.
        if not colon or not name or name.translate(None, _TCHAR):
            raise ProtocolError(f"bad header line {line[:40]!r}")
        headers.append((name.lower(), value.strip()))
    return headers


def _field_values(lower: bytes, key: bytes) -> list[bytes] | None:
    """Values of every line whose lower-cased name is ``key`` (given as b"\\r\\nname")."""
    i = lower.find(key)
    if i < 0:
        return None
    out = []
    while i >= 0:
        j = i + len(key)
        after = lower[j : j + 1]
        if after == b":":
            eol = lower.find(b"\r\n", j)
            out.append(lower[j + 1 : eol if eol >= 0 else len(lower)].strip())
        elif after in (b" ", b"\t"):
            raise ProtocolError(f"whitespace before colon in {key[2:].decode()}")
        i = lower.find(key, j)  # else a longer name such as content-length-x
    return out or None


#: The framing fields of a lower-cased head, all in one scan: (name, what follows the name up
#: to a colon, the colon, the value). ``gap`` is empty for the field itself, starts with
#: whitespace for a malformed one, and holds the rest of a longer name (content-length-x).
#: One findall is 0.5 us; the finds it replaced (two per field, and the values' lists) 2 us.
_FRAMING: Final = re.compile(
    rb"\r\n(content-length|connection|transfer-encoding)([^:\r]*)(:?)([^\r]*)"
)


def _lengths(values: list[bytes]) -> int:
    """Content-Length from its values: repeated, or a list, only if all agree."""
    length: int | None = None
    for value in values:
        for part in value.split(b","):
            text = part.strip()
            if not text.isdigit() or len(text) > 18:
                raise ProtocolError(f"bad Content-Length {value[:30]!r}")
            if length is not None and int(text) != length:
                raise ProtocolError("conflicting Content-Length")
            length = int(text)
    assert length is not None  # values holds at least one
    return length


Framing = tuple[int | None, bool, bool, bool]


def _read_framing(lower: bytes) -> Framing:
    """(content_length, chunked, close, keep_alive_token) from the framing fields."""
    return _framing_of(_FRAMING.findall(lower))


def _framing_of(fields: list[tuple[bytes, bytes, bytes, bytes]]) -> Framing:
    """``_read_framing`` from the fields ``_FRAMING`` found."""
    lengths: list[bytes] = []
    conns: list[bytes] = []
    codings: list[bytes] = []
    for name, gap, colon, value in fields:
        if gap:
            if gap[:1] in b" \t":
                raise ProtocolError(f"whitespace before colon in {name.decode()}")
            continue  # a longer name
        if colon:
            field = (
                lengths
                if name == b"content-length"
                else conns
                if name == b"connection"
                else codings
            )
            field.append(value.strip())
    length = None
    if lengths:
        one = lengths[0]
        if len(lengths) == 1 and one.isdigit() and len(one) <= 18:
            length = int(one)
        else:
            length = _lengths(lengths)
    close = keep = False
    if conns:
        if len(conns) == 1 and b"," not in conns[0]:
            close = conns[0] == b"close"
            keep = conns[0] == b"keep-alive"
        else:
            names = _tokens(conns)
            close = b"close" in names
            keep = b"keep-alive" in names
    if not codings:
        return length, False, close, keep
    if length is not None:
        raise ProtocolError("both Content-Length and Transfer-Encoding")
    names = _tokens(codings)
    if not names or names[-1] != b"chunked" or b"chunked" in names[:-1]:
        raise ProtocolError(f"Transfer-Encoding {codings[0][:40]!r} does not end in chunked")
    return length, True, close, keep


def _tokens(values: list[bytes] | None) -> list[bytes]:
    return [t.strip() for v in values or () for t in v.split(b",") if t.strip()]


# ---------------------------------------------------------------- parsers


class _Parser:
    """Framing and body machinery shared by ResponseParser and RequestParser."""

    __slots__ = (
        "_acc",
        "_eol",
        "_head",
        "_headers",
        "_keep_left",
        "_left",
        "_scan",
        "_state",
        "_trailer_bytes",
        "body",
        "body_received",
        "chunked",
        "content_length",
        "done",
        "head_done",
        "keep_alive",
        "max_head",
        "trailers",
        "version",
    )

    _headers: Headers | None
    body: bytearray
    body_received: int
    chunked: bool
    content_length: int | None
    done: bool
    head_done: bool
    keep_alive: bool
    trailers: Headers | None
    version: str

    def __init__(self, max_head: int) -> None:
        self.max_head = max_head
        self._acc = bytearray()
        self.body = bytearray()

    def _reset(self, keep_body: bool | int) -> None:
        if keep_body is True:
            keep = _KEEP_ALL
        elif keep_body is False:
            keep = 0
        elif keep_body >= 0:
            keep = keep_body
        else:
            raise ValueError(f"keep_body {keep_body} < 0")
        self._keep_left = keep
        if keep or self.body:  # never clear a body the caller may still hold
            self.body = bytearray()
        if self._acc:
            self._acc.clear()
        self._state = self._scan = self._left = self._trailer_bytes = self.body_received = 0
        self.head_done = self.done = self.chunked = False
        self.keep_alive = True
        self._head = b""
        self._eol = 0
        self.version = ""
        self.content_length = self.trailers = self._headers = None

    @property
    def headers(self) -> Headers:
        """The head's fields, split and checked on first read (ProtocolError if malformed)."""
        headers = self._headers
        if headers is None:
            head, eol = self._head, self._eol
            lines = head[eol + 2 :].split(b"\r\n") if eol < len(head) else ()
            headers = self._headers = _parse_fields(lines)
        return headers

    @property
    def has_started(self) -> bool:
        """True once any byte of the current message was consumed (a close is then an error)."""
        return self._state != HEAD or bool(self._acc) or self._interim_seen()

    @property
    def state(self) -> str:
        """The name of the current state, from STATE_NAMES."""
        return STATE_NAMES[self._state]

    def feed(self, data: Buf) -> int:
        """Parse as much of ``data`` as belongs to the current message.

        Returns:
            Bytes consumed. Less than ``len(data)`` only once ``done`` is True: the rest is
            the next pipelined message and belongs to the caller.

        Raises:
            ProtocolError: malformed or ambiguous input; the connection is unusable.
        """
        pos = 0
        end = len(data)
        state = self._state
        while pos < end and state != DONE:
            pos = _READERS[state](self, data, pos, end)
            state = self._state
        return pos

    def feed_eof(self) -> None:
        """The peer closed. Finishes a read-until-close body; anything else unfinished raises."""
        if self._state == UNTIL_CLOSE:
            self._finish()
        elif self._state != DONE:
            where = "mid-message" if self.has_started else "before a message"
            raise ProtocolError(f"connection closed {where}")

    def _interim_seen(self) -> bool:
        return False

    def _on_head(self, block: bytes) -> None:
        raise NotImplementedError

    def _check_start(self, first: bytes) -> None:
        """ProtocolError unless ``first`` (up to 5 bytes) can begin a head of this kind."""
        raise NotImplementedError

    def _finish(self) -> None:
        self._state = DONE
        self.done = True

    def _set_head(
        self, block: bytes, eol: int, length: int | None, chunked: bool, no_body: bool
    ) -> None:
        self._head = block
        self._eol = eol
        self._headers = None  # a read before the head was complete cached an empty list
        self.content_length = length
        self.chunked = chunked
        self.head_done = True
        if no_body or length == 0:
            self._finish()
        elif chunked:
            self._state = CHUNK_SIZE
        elif length is not None:
            self._left = length
            self._state = BODY_LENGTH
        else:
            self.keep_alive = False
            self._state = UNTIL_CLOSE

    def _take_body(self, data: Buf, pos: int, n: int) -> None:
        keep = self._keep_left
        if keep:
            if n < keep:
                keep = n
            self.body += data[pos : pos + keep]
            self._keep_left -= keep
        self.body_received += n

    def _maybe_block(
        self, data: Buf, pos: int, end: int, sep: bytes, limit: int
    ) -> tuple[bytes | None, int]:
        """(bytes before ``sep``, position after it) once ``sep`` ends within ``limit`` bytes;
        (None, end) after stashing a partial block; ProtocolError past the limit."""
        acc = self._acc
        if not acc:
            stop = min(end, pos + limit)
            if isinstance(data, memoryview):
                window = bytes(data[pos : min(stop, pos + _LINE_PROBE)])
                i = window.find(sep)
                if i >= 0:
                    return window[:i], pos + i + len(sep)
            else:
                i = data.find(sep, pos, stop)
                if i >= 0:
                    return bytes(data[pos:i]), i + len(sep)
        old = len(acc)
        take = min(end - pos, limit - old)
        if take > 0:
            acc += data[pos : pos + take]
        i = acc.find(sep, max(0, self._scan - len(sep) + 1))
        if i < 0:
            if len(acc) >= limit:
                raise ProtocolError(_TOO_LONG[self._state])
            self._scan = len(acc)
            return None, pos + take
        block = bytes(acc[:i])
        acc.clear()
        self._scan = 0
        return block, pos + i + len(sep) - old


def _read_head(p: _Parser, data: Buf, pos: int, end: int) -> int:
    if not p._acc:  # the whole head in this read: no stash, no tuple
        stop = min(end, pos + p.max_head)
        if isinstance(data, memoryview):
            window = bytes(data[pos : min(stop, pos + _PROBE)])
            i = window.find(b"\r\n\r\n")
            if i >= 0:
                p._on_head(window[:i])
                return pos + i + 4
        else:
            i = data.find(b"\r\n\r\n", pos, stop)
            if i >= 0:
                p._on_head(bytes(data[pos:i]))  # no copy of a bytes slice
                return i + 4
        p._check_start(bytes(data[pos : min(end, pos + 5)]))  # only when a head is split
    block, pos = p._maybe_block(data, pos, end, b"\r\n\r\n", p.max_head)
    if block is not None:
        p._on_head(block)
    return pos


def _read_length(p: _Parser, data: Buf, pos: int, end: int) -> int:
    left = p._left
    n = end - pos
    if n > left:
        n = left
    if p._keep_left:
        p._take_body(data, pos, n)
    else:
        p.body_received += n
    p._left = left = left - n
    if not left:
        p._state = DONE
        p.done = True
    return pos + n


def _read_chunk_size(p: _Parser, data: Buf, pos: int, end: int) -> int:
    line, pos = p._maybe_block(data, pos, end, b"\r\n", _MAX_CHUNK_LINE)
    if line is None:
        return pos
    size = line.partition(b";")[0].rstrip(b" \t")
    if not size or size.translate(None, _HEX) or len(size) > 15 or line.translate(None, _NOT_CTL):
        raise ProtocolError(f"bad chunk-size line {line[:40]!r}")
    p._left = int(size, 16)
    p._state = CHUNK_DATA if p._left else TRAILERS
    return pos


def _read_chunk_data(p: _Parser, data: Buf, pos: int, end: int) -> int:
    n = min(end - pos, p._left)
    p._take_body(data, pos, n)
    p._left -= n
    if not p._left:
        p._left = 2
        p._state = CHUNK_CRLF
    return pos + n


def _read_chunk_crlf(p: _Parser, data: Buf, pos: int, end: int) -> int:
    left = p._left
    n = min(end - pos, left)
    if data[pos : pos + n] != b"\r\n"[2 - left : 2 - left + n]:
        raise ProtocolError("chunk data not followed by CRLF")
    p._left = left - n
    if not p._left:
        p._state = CHUNK_SIZE
    return pos + n


def _read_trailer(p: _Parser, data: Buf, pos: int, end: int) -> int:
    line, pos = p._maybe_block(data, pos, end, b"\r\n", p.max_head - p._trailer_bytes)
    if line is None:
        return pos
    if not line:
        p._finish()
        return pos
    p._trailer_bytes += len(line) + 2
    _check_head(line)
    if p.trailers is None:
        p.trailers = Headers()
    p.trailers += _parse_fields((line,))
    return pos


def _read_until_close(p: _Parser, data: Buf, pos: int, end: int) -> int:
    p._take_body(data, pos, end - pos)
    return end


_READERS: Final[tuple[Callable[[_Parser, Buf, int, int], int], ...]] = (
    _read_head,
    _read_length,
    _read_chunk_size,
    _read_chunk_data,
    _read_chunk_crlf,
    _read_trailer,
    _read_until_close,
)


class ResponseParser(_Parser):
    """Incremental parser for one HTTP/1.1 response at a time; call ``start()`` before each.

    After ``head_done``: ``status``, ``reason``, ``version``, ``headers``, ``content_length``,
    ``chunked``, ``keep_alive``. While and after the body: ``body_received`` (bytes, without
    chunk framing), ``body`` (the kept part), ``trailers`` and ``done``. Interim 1xx responses
    are skipped; the last one's status stays in ``interim_status`` (a client waiting on
    ``Expect: 100-continue`` sends its body when that reads 100 and ``head_done`` is False).

    Time to first byte is the caller's: it reads its clock when a ``feed`` returns with
    ``head_done`` newly True (that read held the head's end, and any body bytes after it).
    """

    __slots__ = (
        "_error_keep",
        "_framing",
        "_framing_fields",
        "_is_head",
        "interim_status",
        "reason",
        "status",
    )

    def __init__(self, max_head: int = DEFAULT_MAX_HEAD) -> None:
        super().__init__(max_head)
        #: The last response's framing fields and what they said: a connection's responses
        #: repeat them (Content-Length: 1024, Connection: keep-alive), and comparing the
        #: fields is 0.1 us where reading them is 0.7 us.
        self._framing_fields: list[tuple[bytes, bytes, bytes, bytes]] = []
        self._framing: Framing = (None, False, False, False)
        self.start()

    def start(
        self, method_is_head: bool = False, keep_body: bool | int = False, error_body: int = 0
    ) -> None:
        """Prepare for the next response.

        Args:
            method_is_head: the request was HEAD, so the response has no body whatever its
                Content-Length says.
            keep_body: False counts body bytes and drops them (GET payloads); True keeps the
                whole body in ``body``; an int keeps at most that many bytes and counts the rest.
            error_body: keep at least this many bytes when the status is 300 or more (the
                error XML or JSON), and none more than ``keep_body`` of a 2xx: a 1 KiB GET
                then copies its body nowhere (two copies and an allocation per op before).
        """
        self._reset(keep_body)
        self._is_head = method_is_head
        self._error_keep = error_body
        self.status = self.interim_status = 0
        self.reason = b""

    def feed(self, data: Buf) -> int:
        """``_Parser.feed``, with the usual read in one call: a whole head, then a
        Content-Length body (or none). Anything else (a split head, 1xx, chunked) goes the
        general way; the result is the same either way."""
        if self._state or self._acc:  # not at a head's first byte (HEAD is 0)
            return _Parser.feed(self, data)
        end = len(data)
        window = data if type(data) is bytes else bytes(data[: _PROBE if end > _PROBE else end])
        i = window.find(b"\r\n\r\n", 0, self.max_head)
        if i < 0:
            return _Parser.feed(self, data)
        self._on_head(window[:i])
        pos = i + 4
        if self.done:
            return pos
        if self.content_length is not None:  # no other framing sets it: BODY_LENGTH
            return _read_length(self, data, pos, end)
        if pos < end:  # an interim 1xx, chunked, until close
            return pos + _Parser.feed(self, data[pos:])
        return pos

    def _interim_seen(self) -> bool:
        return self.interim_status != 0

    def _check_start(self, first: bytes) -> None:
        if not b"HTTP/".startswith(first[:5]):
            raise ProtocolError(f"bad status line: not an HTTP response, it starts {first!r}")

    def _on_head(self, block: bytes) -> None:
        eol = _check_head(block)
        version = _STATUS_PREFIXES.get(block[:9])
        code = block[9:12]
        if (
            version is None
            or not code.isdigit()
            or code[0] == 48
            or eol < 12
            or (eol > 12 and block[12] != 32)
        ):
            raise ProtocolError(f"bad status line {block[: min(eol, 40)]!r}")
        status = int(code)
        if status < 200:
            if status == 101:
                raise ProtocolError("unexpected 101 Switching Protocols")
            self.interim_status = status
            return
        if status >= 300 and self._error_keep > self._keep_left:
            self._keep_left = self._error_keep
            self.body = bytearray()  # never one a caller may hold
        fields = _FRAMING.findall(block.lower())
        if fields != self._framing_fields:
            self._framing = _framing_of(fields)  # raises before anything is remembered
            self._framing_fields = fields
        length, chunked, close, keep = self._framing
        self.status = status
        self.reason = block[13:eol]
        self.version = version
        self.keep_alive = not close and (keep or version == "1.1")
        no_body = self._is_head or status == 204 or status == 304
        self._set_head(block, eol, length, chunked, no_body)

    def __repr__(self) -> str:
        return (
            f"<ResponseParser {self.state} status={self.status} "
            f"body={self.body_received}/{self.content_length}>"
        )


class RequestParser(_Parser):
    """Incremental parser for one HTTP/1.1 request at a time (the mock server's side).

    After ``head_done``: ``method``, ``target`` (as sent, still percent-encoded), ``version``,
    ``headers``, ``content_length``, ``chunked``, ``expect_continue``, ``keep_alive``. A request
    without Content-Length or chunked framing has no body.
    """

    __slots__ = ("expect_continue", "method", "target")

    def __init__(self, max_head: int = DEFAULT_MAX_HEAD) -> None:
        super().__init__(max_head)
        self.start()

    def start(self, *, keep_body: bool | int = True) -> None:
        """Prepare for the next request; ``keep_body`` as in ResponseParser.start (default all)."""
        self._reset(keep_body)
        self.method = self.target = ""
        self.expect_continue = False

    def _check_start(self, first: bytes) -> None:
        if first[:1].translate(None, _TCHAR):
            raise ProtocolError(f"bad request line: not an HTTP request, it starts {first!r}")

    def _on_head(self, block: bytes) -> None:
        eol = _check_head(block)
        parts = block[:eol].split(b" ")
        if len(parts) != 3:
            raise ProtocolError(f"bad request line {block[: min(eol, 40)]!r}")
        method, target, version = parts
        if (
            not method
            or method.translate(None, _TCHAR)
            or not target
            or target.translate(None, _VCHAR)
            or version not in _VERSIONS
        ):
            raise ProtocolError(f"bad request line {block[: min(eol, 40)]!r}")
        lower = block.lower()
        length, chunked, close, keep = _read_framing(lower)
        expect = _field_values(lower, b"\r\nexpect")
        self.method = method.decode("ascii")
        self.target = target.decode("ascii")
        self.version = _VERSIONS[version]
        self.expect_continue = expect is not None and b"100-continue" in expect
        self.keep_alive = not close and (keep or self.version == "1.1")
        self._set_head(block, eol, length if length is not None or chunked else 0, chunked, False)

    def __repr__(self) -> str:
        return (
            f"<RequestParser {self.state} {self.method} {self.target} "
            f"body={self.body_received}/{self.content_length}>"
        )
