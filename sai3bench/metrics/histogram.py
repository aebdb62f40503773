"""Latency histogram: one fixed log-linear layout of integer nanoseconds for the whole project.

This module owns the bucket layout, the record/merge/percentile math and the binary encoding
(specified byte by byte in docs/FORMAT.md). It is pure: no clock, no I/O, no globals that change.

Rule 1: one layout, fixed at import. Every histogram in every process and on every host has the
    same buckets, so merging is an elementwise add of two arrays and is exact.
Rule 2: values are recorded as given, in integer ns. Never round before recording (locust's
    ``bucket_response_time`` does, and its percentiles inherit the rounding twice).
Rule 3: ``record`` allocates nothing but Python int temporaries; the counts array is allocated
    once in ``__init__``.

Layout (same precision as HdrHistogram with 3 significant digits, unit 1 ns):
    values 0..2047 each have their own bucket (index = value); above, each power of two
    [2^m, 2^(m+1)) is split into 1024 equal buckets, so a bucket is at most 1/1024 of its lower
    bound wide. With k = bit_length(v) - 11 (k >= 1), index = k * 1024 + (v >> k).
    Values below 2^42 ns (73.3 minutes) have exact buckets; larger ones go to the last bucket
    and are counted in ``saturated``. Min, max and the sum stay exact in every case.
"""

from __future__ import annotations

import math
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate
from operator import add

#: log2 of the number of buckets per power of two below 2^SUB_BUCKET_BITS (values < 2048 exact).
SUB_BUCKET_BITS = 11
#: Values < 2^MAX_VALUE_BITS ns get their own bucket; larger ones saturate into the last one.
MAX_VALUE_BITS = 42
_HALF = 1 << (SUB_BUCKET_BITS - 1)  # 1024 buckets per power of two above 2048
_EXACT_LIMIT = 1 << SUB_BUCKET_BITS  # 2048
_MAX_K = MAX_VALUE_BITS - SUB_BUCKET_BITS  # 31: largest shift with its own buckets
#: Number of buckets: 2048 exact ones, then 1024 for each k in 1.._MAX_K.
N_BUCKETS = (_MAX_K + 2) * _HALF  # 33,792
#: Largest value with its own bucket, in ns (about 73.3 minutes).
MAX_TRACKABLE_NS = (1 << MAX_VALUE_BITS) - 1
_LAST = N_BUCKETS - 1
# Histogram.record (and its inlined copy in collector.py) spells these as literals for speed.
assert (_EXACT_LIMIT, SUB_BUCKET_BITS, _MAX_K, _HALF, _LAST) == (2048, 11, 31, 1024, 33791)

MAGIC = b"S3BH"
VERSION = 1
FLAG_ZLIB = 0x01
_HEADER_LEN = 8


def bucket_index(value_ns: int) -> int:
    """The bucket that holds ``value_ns`` (negative -> 0, beyond the range -> the last)."""
    if value_ns < _EXACT_LIMIT:
        return value_ns if value_ns > 0 else 0
    k = value_ns.bit_length() - SUB_BUCKET_BITS
    if k > _MAX_K:
        return _LAST
    return (k << (SUB_BUCKET_BITS - 1)) + (value_ns >> k)


def bucket_range(index: int) -> tuple[int, int]:
    """The inclusive value range ``(lo, hi)`` in ns of bucket ``index``.

    The last bucket also receives saturated values above ``hi``; see ``Histogram.saturated``.
    """
    if not 0 <= index < N_BUCKETS:
        raise IndexError(f"bucket index {index} outside 0..{N_BUCKETS - 1}")
    if index < _EXACT_LIMIT:
        return index, index
    k = (index >> (SUB_BUCKET_BITS - 1)) - 1
    lo = (index - (k << (SUB_BUCKET_BITS - 1))) << k
    return lo, lo + (1 << k) - 1


def _representative(index: int) -> int:
    """The value reported for a bucket: its midpoint, within 1/2048 of any value in it."""
    lo, hi = bucket_range(index)
    return (lo + hi + 1) >> 1


def nearest_rank(q: float, count: int) -> int:
    """The 1-based nearest rank ``ceil(q * count)``, at least 1, robust to float noise.

    ``0.07 * 100`` is 7.000000000000001 in binary floating point; a plain ``ceil`` would say 8.
    """
    x = q * count
    r = round(x)
    rank = r if abs(x - r) <= 1e-9 * max(1.0, x) else math.ceil(x)
    return min(max(rank, 1), count)


class Histogram:
    """Counts of integer-nanosecond values in the fixed log-linear layout, plus exact min/max/sum.

    Not thread-safe: each worker (or process) owns one and they are merged at the end.
    """

    __slots__ = ("count", "counts", "max_ns", "min_ns", "saturated", "total_ns")

    def __init__(self) -> None:
        #: Per-bucket counts; index with ``bucket_index``. Treat as read-only outside this module.
        self.counts = array("Q", bytes(8 * N_BUCKETS))
        #: Number of recorded values.
        self.count = 0
        #: Exact sum of recorded values in ns (a Python int: it never overflows).
        self.total_ns = 0
        #: Exact smallest recorded value in ns; 0 when empty.
        self.min_ns = 0
        #: Exact largest recorded value in ns; 0 when empty.
        self.max_ns = 0
        #: Values above MAX_TRACKABLE_NS, counted in the last bucket.
        self.saturated = 0

    # Hot path. timeit (process_time, min of 15 x 400k) on this 2-core VM, CPython 3.11, under
    # load avg ~12: record(123_456) 233-241 ns, record(1_500) 164-175 ns, with list.append at
    # 25 ns on the same run. The bucket update alone is ~160 ns; min/max/sum/count add ~70 ns.
    # Comparing the common case (v >= 2048) first keeps negatives out of the shift for free.
    def record(self, v: int) -> None:
        """Record one value in ns. Negative values are clamped to 0 (a caller bug, not data)."""
        if v >= 2048:
            k = v.bit_length() - 11
            if k <= 31:
                self.counts[(k << 10) + (v >> k)] += 1
            else:
                self.counts[33791] += 1
                self.saturated += 1
        elif v >= 0:
            self.counts[v] += 1
        else:
            v = 0
            self.counts[0] += 1
        self.total_ns += v
        if self.count:
            if v < self.min_ns:
                self.min_ns = v
            elif v > self.max_ns:
                self.max_ns = v
        else:
            self.min_ns = self.max_ns = v
        self.count += 1

    def record_many(self, values: Sequence[int]) -> None:
        """``record(v)`` for each of ``values``, cheaper per value: the loop updates the bucket
        alone; count, sum, min and max come from builtins once. The PUT latency split records
        two values per PUT this way, a batch at a time (measured ~120 ns a value against
        ~230 for ``record``). The bucket arithmetic is ``bucket_index``'s, inlined."""
        if not values:
            return
        lo, hi = min(values), max(values)
        if lo < 0:
            values = [v if v > 0 else 0 for v in values]
            lo = 0
        counts = self.counts
        for v in values:
            if v >= 2048:
                k = v.bit_length() - 11
                counts[(k << 10) + (v >> k) if k <= 31 else 33791] += 1
            else:
                counts[v] += 1
        if hi > MAX_TRACKABLE_NS:
            self.saturated += sum(1 for v in values if v > MAX_TRACKABLE_NS)
        self.total_ns += sum(values)
        if self.count:
            self.min_ns = min(self.min_ns, lo)
            self.max_ns = max(self.max_ns, hi)
        else:
            self.min_ns, self.max_ns = lo, hi
        self.count += len(values)

    def record_n(self, v: int, n: int) -> None:
        """Record value ``v`` (ns) ``n`` times, as if ``record(v)`` were called ``n`` times."""
        if n <= 0:
            return
        v = max(v, 0)
        i = bucket_index(v)
        self.counts[i] += n
        if v > MAX_TRACKABLE_NS:
            self.saturated += n
        self.total_ns += v * n
        if self.count:
            self.min_ns = min(self.min_ns, v)
            self.max_ns = max(self.max_ns, v)
        else:
            self.min_ns = self.max_ns = v
        self.count += n

    def merge(self, other: Histogram) -> None:
        """Add ``other`` into this histogram in place. Exact: counts, sum, min and max."""
        if not other.count:
            return
        lo, hi = bucket_index(other.min_ns), bucket_index(other.max_ns) + 1
        mine = self.counts
        mine[lo:hi] = array("Q", map(add, mine[lo:hi], other.counts[lo:hi]))
        if self.count:
            self.min_ns = min(self.min_ns, other.min_ns)
            self.max_ns = max(self.max_ns, other.max_ns)
        else:
            self.min_ns, self.max_ns = other.min_ns, other.max_ns
        self.count += other.count
        self.total_ns += other.total_ns
        self.saturated += other.saturated

    def mean_ns(self) -> float:
        """Exact mean in ns (from the sum, not the buckets); 0.0 when empty."""
        return self.total_ns / self.count if self.count else 0.0

    def value_at_quantile(self, q: float) -> int:
        """The nearest-rank ``q`` quantile in ns (``q`` in [0, 1]); 0 when empty.

        The rank is ``ceil(q * count)`` (at least 1); the answer is the midpoint of the bucket
        holding that rank, clamped to [min_ns, max_ns], so it is within 1/2048 (0.05%) of the
        exact order statistic for values up to MAX_TRACKABLE_NS. Ranks 1 and ``count`` (q = 0,
        q = 1) give min_ns and max_ns exactly, saturated or not.
        """
        return self.percentiles((q,))[0]

    def percentiles(self, qs: Sequence[float]) -> list[int]:
        """``value_at_quantile`` for each of ``qs``, in one pass over the counts."""
        for q in qs:
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"quantile {q} outside [0, 1]")
        if not self.count:
            return [0 for _ in qs]
        hi = bucket_index(self.max_ns) + 1
        cumulative = list(accumulate(self.counts[:hi]))
        out = []
        for q in qs:
            rank = nearest_rank(q, self.count)
            if rank == self.count or rank == 1:  # the extremes are kept exactly
                out.append(self.max_ns if rank == self.count else self.min_ns)
                continue
            index = bisect_left(cumulative, rank)
            out.append(min(max(_representative(index), self.min_ns), self.max_ns))
        return out

    def encode(self, *, compress: bool = False) -> bytes:
        """The versioned, lossless binary form of docs/FORMAT.md (optionally zlib'd body)."""
        body = bytearray()
        n_entries = 0
        pairs = bytearray()
        prev = -1
        first = bucket_index(self.min_ns)  # only the occupied span is walked
        for i, c in enumerate(self.counts[first : bucket_index(self.max_ns) + 1], first):
            if c:
                _put_varint(pairs, i - prev - 1)
                _put_varint(pairs, c)
                prev = i
                n_entries += 1
        for field in (self.count, self.total_ns, self.min_ns, self.max_ns, self.saturated):
            _put_varint(body, field)
        _put_varint(body, n_entries)
        body += pairs
        flags = FLAG_ZLIB if compress else 0
        payload = zlib.compress(bytes(body), 6) if compress else bytes(body)
        head = MAGIC + bytes((VERSION, flags, SUB_BUCKET_BITS, MAX_VALUE_BITS))
        return head + payload

    @classmethod
    def decode(cls, data: bytes) -> Histogram:
        """Parse ``encode()`` output. Raises ValueError on a foreign layout or a corrupt blob."""
        if len(data) < _HEADER_LEN or data[:4] != MAGIC:
            raise ValueError("not a sai3bench histogram (bad magic)")
        version, flags, sub_bits, max_bits = data[4:8]
        if version != VERSION:
            raise ValueError(f"histogram encoding version {version} not supported")
        if (sub_bits, max_bits) != (SUB_BUCKET_BITS, MAX_VALUE_BITS):
            raise ValueError(f"histogram layout ({sub_bits}, {max_bits}) is not this project's")
        if flags & ~FLAG_ZLIB:
            raise ValueError(f"unknown histogram flags 0x{flags:02x}")
        body = zlib.decompress(data[_HEADER_LEN:]) if flags & FLAG_ZLIB else data[_HEADER_LEN:]
        return cls._from_body(memoryview(body))

    @classmethod
    def _from_body(cls, body: memoryview) -> Histogram:
        h = cls()
        pos = 0
        fields = []
        for _ in range(6):
            value, pos = _get_varint(body, pos)
            fields.append(value)
        h.count, h.total_ns, h.min_ns, h.max_ns, h.saturated, n_entries = fields
        index = -1
        seen = 0
        # merge() adds only the buckets between min's and max's: one outside would be lost.
        lo, hi = bucket_index(h.min_ns), bucket_index(h.max_ns)
        for _ in range(n_entries):
            gap, pos = _get_varint(body, pos)
            c, pos = _get_varint(body, pos)
            index += gap + 1
            if not lo <= index <= hi or c == 0:
                raise ValueError(
                    "corrupt histogram: bucket index out of range (outside min..max) or zero count"
                )
            h.counts[index] = c
            seen += c
        if pos != len(body):
            raise ValueError("corrupt histogram: trailing bytes")
        if seen != h.count:
            raise ValueError(f"corrupt histogram: buckets hold {seen}, header says {h.count}")
        return h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            self.count == other.count
            and self.total_ns == other.total_ns
            and self.min_ns == other.min_ns
            and self.max_ns == other.max_ns
            and self.saturated == other.saturated
            and self.counts == other.counts
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        if not self.count:
            return "<Histogram n=0>"
        p50 = self.value_at_quantile(0.5)
        return f"<Histogram n={self.count} p50={short_ns(p50)} max={short_ns(self.max_ns)}>"


def short_ns(ns: float) -> str:
    """A compact 3-significant-digit rendering for reprs and logs: 950ns, 1.20ms, 3600s."""
    if ns < 999.5:
        return f"{ns:.0f}ns"
    for unit, scale in (("µs", 1e3), ("ms", 1e6), ("s", 1e9)):
        x = ns / scale
        if x < 999.5 or unit == "s":
            decimals = 2 - math.floor(math.log10(x)) if x >= 1 else 2
            text = f"{x:.{max(decimals, 0)}f}"
            if len(text.replace(".", "")) > 3 and decimals > 0:  # 9.995 -> "10.00": one fewer
                text = f"{x:.{decimals - 1}f}"
            return f"{text}{unit}"
    raise AssertionError("unreachable")


def _put_varint(out: bytearray, value: int) -> None:
    """Unsigned LEB128: 7 bits per byte, least significant first, high bit = more follows."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("corrupt histogram: truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
