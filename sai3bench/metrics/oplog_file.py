"""The op-log file: upstream's 13-column TSV of every storage op (s3dlio's op-log), zstd.

One row per op: ``idx thread op client_id n_objects bytes endpoint file error start first_byte
end duration_ns``. ``start``, ``first_byte`` and ``end`` are ISO-8601 UTC with nanoseconds
(``2026-12-05T14:28:54.123456789Z``); ``endpoint + file`` is the op's URI (``s3://`` +
``bucket/key``); ``error`` is empty or the outcome's name (NOT_FOUND, THROTTLED, ...).

A file is a sequence of zstd frames: the header, then one frame per chunk of rows. A killed run
therefore keeps every chunk it finished, and a later stage appends frames to the same file; any
zstd reader reads across the frames (``zstd -dc`` included). A stage that ends in order adds a
16-byte skippable frame (which every zstd reader skips) holding the next idx, so the next stage
continues the numbering without reading the file again.
"""

from __future__ import annotations

import calendar
import io
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final, NamedTuple

import zstandard

from sai3bench.errors import UsageError

HEADER: Final = (
    "idx",
    "thread",
    "op",
    "client_id",
    "n_objects",
    "bytes",
    "endpoint",
    "file",
    "error",
    "start",
    "first_byte",
    "end",
    "duration_ns",
)
HEADER_LINE: Final = "\t".join(HEADER) + "\n"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_HINT: Final = "an op-log is the .tsv.zst file that 'sai3bench run --op-log FILE' writes"
#: zstd level: 3 is zstd's default and upstream's (S3DLIO_OPLOG_ZSTD_LEVEL).
LEVEL: Final = 3
#: A zstd skippable frame (magic 0x184D2A50..5F, then its length): the next idx, u64.
_NEXT_IDX: Final = struct.Struct("<IIQ")
_NEXT_IDX_MAGIC: Final = 0x184D2A5E


class OpLogError(UsageError):
    """An op-log that cannot be read: missing, not zstd, a wrong header or a bad row."""


class IsoFormatter:
    """Wall-clock nanoseconds -> ISO-8601 UTC text with 9 fraction digits.

    The digits come from ``str(ns)`` (seconds, then the last 9 for the fraction) and the
    ``YYYY-MM-DDTHH:MM:SS.`` part is cached per second: consecutive ops share it, so a timestamp
    costs one int-to-text conversion and a concatenation (the writer thread formats three per op).
    """

    __slots__ = ("_prefix", "_sec")

    def __init__(self) -> None:
        self._sec = ""
        self._prefix = ""

    def __call__(self, wall_ns: int) -> str:
        digits = str(wall_ns).rjust(10, "0")
        sec = digits[:-9]
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(int(sec)))
        return self._prefix + digits[-9:] + "Z"


_EPOCH_BY_SECOND: dict[str, int] = {}


def parse_iso_ns(text: str) -> int:
    """ISO-8601 UTC text (``Z`` or ``+00:00``, any number of fraction digits) -> epoch ns.

    Raises ValueError for anything else (a local-time offset included)."""
    s = text.removesuffix("Z").removesuffix("+00:00")
    base, _, frac = s.partition(".")
    secs = _EPOCH_BY_SECOND.get(base)
    if secs is None:
        if len(base) != 19:
            raise ValueError(f"not an ISO-8601 UTC time: {text!r}")
        secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
        if len(_EPOCH_BY_SECOND) > 4096:
            _EPOCH_BY_SECOND.clear()
        _EPOCH_BY_SECOND[base] = secs
    if frac and not frac.isdigit():
        raise ValueError(f"not an ISO-8601 UTC time: {text!r}")
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])


class OpLogEntry(NamedTuple):
    """One parsed row: what replay and the tests need (times in epoch ns)."""

    idx: int
    thread: str
    op: str
    client_id: str
    n_objects: int
    nbytes: int
    endpoint: str
    file: str
    error: str
    start_ns: int
    first_byte_ns: int
    end_ns: int
    duration_ns: int

    @property
    def uri(self) -> str:
        return self.endpoint + self.file


def parse_row(line: str, row: int = 0) -> OpLogEntry:
    """One TSV row (no newline) -> OpLogEntry; OpLogError naming the row when it is malformed."""
    cols = line.split("\t")
    if len(cols) != len(HEADER):
        raise OpLogError(
            f"op-log row {row}: {len(cols)} columns, expected {len(HEADER)}", hint=_HINT
        )
    try:
        return OpLogEntry(
            int(cols[0]),
            cols[1],
            cols[2],
            cols[3],
            int(cols[4] or 1),
            int(cols[5] or 0),
            cols[6],
            cols[7],
            cols[8],
            parse_iso_ns(cols[9]),
            parse_iso_ns(cols[10]) if cols[10] else 0,
            parse_iso_ns(cols[11]) if cols[11] else 0,
            int(cols[12] or 0),
        )
    except ValueError as exc:
        raise OpLogError(f"op-log row {row}: {exc}", hint=_HINT) from None


def start_of(line: str) -> int:
    """The start column of a row, in epoch ns (the sort key)."""
    cols = line.split("\t", 10)
    if len(cols) < 11:
        raise OpLogError(f"op-log row has {len(cols)} columns, expected {len(HEADER)}", hint=_HINT)
    try:
        return parse_iso_ns(cols[9])
    except ValueError as exc:
        raise OpLogError(f"op-log row: {exc}", hint=_HINT) from None


def open_rows(path: Path) -> Iterator[str]:
    """The rows of an op-log, as text lines without the newline; the header checked first.

    The file is opened and its header read now, so a missing file, a file that is not zstd or
    a wrong header raises OpLogError here; rows are then read lazily in bounded memory.
    """
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise OpLogError(f"cannot read op-log {path}: {exc.strerror}", hint=_HINT) from None
    if raw.read(4) != _ZSTD_MAGIC:
        raw.close()
        raise OpLogError(f"{path} is not zstd-compressed", hint=_HINT)
    raw.seek(0)
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    text = io.TextIOWrapper(reader, encoding="utf-8", newline="\n")
    header = _read(text, path)
    if header.rstrip("\n").split("\t") != list(HEADER):
        text.close()
        raise OpLogError(
            f"{path}: not an op-log header: {header[:120].rstrip()!r}",
            hint="the first line must be the 13 columns " + " ".join(HEADER),
        )
    return _rows(text, path)


def _read(text: IO[str], path: Path) -> str:
    try:
        return text.readline()
    except (zstandard.ZstdError, UnicodeDecodeError) as exc:
        text.close()
        raise OpLogError(f"{path}: corrupt op-log: {exc}", hint=_HINT) from None


def _rows(text: IO[str], path: Path) -> Iterator[str]:
    with text:
        while line := _read(text, path):
            if line != "\n":
                yield line.rstrip("\n")


def read_entries(path: Path) -> Iterator[OpLogEntry]:
    """Every row of an op-log, parsed; the file opened and its header checked now."""
    rows = open_rows(path)
    return (parse_row(line, n) for n, line in enumerate(rows, start=1))


def count_rows(path: Path) -> int:
    """Rows in an op-log (streamed: the file is never held in memory)."""
    return sum(1 for _ in open_rows(path))


def next_idx(path: Path) -> int:
    """The idx the next row appended to ``path`` gets: from the trailing frame a stage writes
    when it ends in order, else by counting the rows (a process killed mid-stage)."""
    with path.open("rb") as f:
        size = f.seek(0, io.SEEK_END)
        if size >= _NEXT_IDX.size:
            f.seek(size - _NEXT_IDX.size)
            magic, length, idx = _NEXT_IDX.unpack(f.read(_NEXT_IDX.size))
            if magic == _NEXT_IDX_MAGIC and length == 8:
                return int(idx)
    return count_rows(path)


class FrameWriter:
    """Appends zstd frames to an op-log: the header first when the file is new."""

    def __init__(self, path: Path, *, fresh: bool) -> None:
        self.path = path
        self._cctx = zstandard.ZstdCompressor(level=LEVEL)
        self._file = path.open("wb" if fresh else "ab")
        if fresh or self._file.tell() == 0:
            self.write(HEADER_LINE)

    def __repr__(self) -> str:
        return f"<FrameWriter {self.path}>"

    def write(self, text: str) -> None:
        """One frame holding ``text`` (whole rows, each ending in a newline)."""
        if text:
            self._file.write(self._cctx.compress(text.encode("utf-8")))
            self._file.flush()  # a killed process keeps every frame it wrote

    def mark_next_idx(self, idx: int) -> None:
        """The trailing skippable frame ``next_idx`` reads."""
        self._file.write(_NEXT_IDX.pack(_NEXT_IDX_MAGIC, 8, idx))
        self._file.flush()

    def close(self) -> None:
        self._file.close()
