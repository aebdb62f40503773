"""Per-run measurements: latency histograms per op class x size bucket, counters, outcomes.

This module owns what one run (or one worker, process or host) measured, and how those
measurements merge exactly. It never reads a clock, never prints, and never puts a failed op into
a histogram: failures are counted by (kind, outcome), and retries apart by (kind, outcome of
the attempt tried again). A latency figure is that of one successful op: for an engine retry its
last attempt (the backoff sleep is not the server's time); for a request the HTTP pool sent
again on a fresh connection, both sends, since nothing paused between them.

Size buckets follow sai3-bench (inclusive upper bounds, 8 KiB x 8^n); META ops (LIST, STAT,
DELETE, MKDIR, RMDIR) always go to bucket 0 ("zero"), whatever bytes they report. Each META kind
has its own histogram (the console prints each on its own line); the META class, bucket 0 (the
TSV's META row) is their merge, made when asked for.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import msgspec

from sai3bench.metrics.histogram import Histogram
from sai3bench.outcome import Outcome


class OpKind(enum.IntEnum):
    """What the op did. Stable numbers: they index counters and appear in results files."""

    GET = 0
    PUT = 1
    LIST = 2
    STAT = 3
    DELETE = 4
    MKDIR = 5
    RMDIR = 6


#: The kinds of OpClass META, each with its own histogram. Files written before MKDIR and RMDIR
#: existed carry 5 kinds; they decode with those two at zero.
META_KINDS: tuple[OpKind, ...] = (
    OpKind.LIST,
    OpKind.STAT,
    OpKind.DELETE,
    OpKind.MKDIR,
    OpKind.RMDIR,
)
_OLD_N_KINDS = 5


class OpClass(enum.IntEnum):
    """How sai3-bench groups kinds in its histograms and TSV rows."""

    GET = 0
    PUT = 1
    META = 2


#: OpClass of each OpKind, indexed by kind.
OP_CLASS_OF: tuple[OpClass, ...] = (
    OpClass.GET,
    OpClass.PUT,
    OpClass.META,
    OpClass.META,
    OpClass.META,
    OpClass.META,
    OpClass.META,
)

SIZE_BUCKET_LABELS = (
    "zero",
    "1B-8KiB",
    "8KiB-64KiB",
    "64KiB-512KiB",
    "512KiB-4MiB",
    "4MiB-32MiB",
    "32MiB-256MiB",
    "256MiB-2GiB",
    ">2GiB",
)
N_SIZE_BUCKETS = len(SIZE_BUCKET_LABELS)
_N_KINDS = len(OpKind)
_N_SLOTS = len(OpClass) * N_SIZE_BUCKETS
#: ``_hists`` index of a META kind's own histogram is ``kind + _KIND_SLOT``: after the class slots
#: (LIST 27, STAT 28, DELETE 29, MKDIR 30, RMDIR 31). Slot 18 (META, bucket 0) then stays empty
#: but in a collector decoded from a file written before META kinds were kept apart.
_KIND_SLOT = _N_SLOTS - OpKind.LIST
_META_SLOTS = range(_N_SLOTS, _N_SLOTS + len(META_KINDS))
_TOP_BOUND = 1 << 31  # 2 GiB: the last inclusive upper bound

# Bucket of n (1 <= n <= 2 GiB) by b = (n - 1).bit_length(), i.e. ceil(log2(n)): b <= 13 means
# n <= 8 KiB (bucket 1); each following bucket spans three more powers of two.
_BUCKET_OF_BITS = tuple(1 if b <= 13 else 1 + (b - 11) // 3 for b in range(32))


def size_bucket(nbytes: int) -> int:
    """Index into SIZE_BUCKET_LABELS for an object of ``nbytes`` bytes (0 or less -> 0)."""
    if nbytes <= 0:
        return 0
    if nbytes > _TOP_BOUND:
        return 8
    return _BUCKET_OF_BITS[(nbytes - 1).bit_length()]


class _CollectorWire(msgspec.Struct, kw_only=True):
    """Version 1 of the JSON form (docs/FORMAT.md). Lists are indexed by OpKind."""

    format: str = "sai3bench.collector"
    version: int = 1
    ops: list[int]
    nbytes: list[int]
    retries: list[int]
    slot_bytes: list[int]  # per (class * 9 + bucket)
    errors: list[tuple[int, int, int]]  # (kind, outcome, count)
    histograms: list[tuple[int, int, bytes]]  # (class, bucket, Histogram.encode())
    ttfb: list[tuple[int, bytes]] = []  # (class, Histogram.encode()): time to first byte
    retry_outcomes: list[tuple[int, int, int]] = []  # (kind, outcome of the failed try, count)
    #: (META kind, Histogram.encode()): LIST, STAT, DELETE, MKDIR and RMDIR apart. Absent in
    #: older files, whose META histogram is the (META, 0) entry of ``histograms``.
    meta_kinds: list[tuple[int, bytes]] = []
    #: (kind, Histogram.encode()): io_rate response times (intended start -> done). Absent in
    #: closed-loop runs and older files.
    response: list[tuple[int, bytes]] = []
    #: (PUT_SETUP | PUT_IO, Histogram.encode()): the PUT latency split (upstream v0.8.90).
    #: Absent in older files and in runs without PUTs.
    put_split: list[tuple[int, bytes]] = []


#: Parts of a PUT's latency (``Collector.put_split``): setup is the op's start to its request
#: going out (data, key, signing, head), I/O the request out to the response done.
PUT_SETUP, PUT_IO = 0, 1


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(_CollectorWire)


class Collector:
    """Everything one run measured. One per worker; merged exactly at the end."""

    __slots__ = (
        "_bytes",
        "_errors",
        "_hists",
        "_ops",
        "_put_split",
        "_response",
        "_retries",
        "_retry_outcomes",
        "_slot_bytes",
        "_ttfb",
    )

    def __init__(self) -> None:
        # class * 9 + bucket, then one per META kind (kind + _KIND_SLOT)
        self._hists: list[Histogram | None] = [None] * (_N_SLOTS + len(META_KINDS))
        # Indexed by OpKind; only the META kinds' entries are kept (GET/PUT are derived).
        self._ops = [0] * _N_KINDS
        self._bytes = [0] * _N_KINDS
        self._retries = [0] * _N_KINDS
        #: (kind, outcome of the attempt that was tried again) -> count.
        self._retry_outcomes: dict[tuple[int, int], int] = {}
        # Indexed like _hists; only GET and PUT slots are kept (META bytes are in _bytes).
        self._slot_bytes = [0] * _N_SLOTS
        self._errors: dict[tuple[int, int], int] = {}
        #: Time to first byte per OpClass (request sent -> response head read): network
        #: backends only; file:// has no such moment.
        self._ttfb: list[Histogram | None] = [None] * len(OpClass)
        #: io_rate only: response time per OpKind, from the op's intended start (its slot in
        #: the schedule) to done, queueing included. The latency histograms keep service time.
        self._response: list[Histogram | None] = [None] * _N_KINDS
        #: PUT latency split (upstream v0.8.90): [setup, I/O] of each successful PUT.
        self._put_split: list[Histogram | None] = [None, None]

    # Hot path. timeit (process_time, min of 15 x 400k) on this 2-core VM under load avg ~12:
    # GET 4 KiB 355-358 ns, PUT 1 MiB 351-356 ns, LIST 328-343 ns (list.append: 25 ns on the
    # same run). The histogram update is inlined (a copy of Histogram.record, kept equal by
    # test_collector.py): calling h.record costs ~50 ns more, calling size_bucket() ~60 ns more.
    # GET/PUT op and byte counts per kind are not kept here: kind == class for them, so they are
    # derived from the histogram counts and bucket bytes (two list updates saved, ~60 ns).
    def record(self, kind: int, nbytes: int, latency_ns: int) -> None:
        """Record one successful op: its kind (OpKind), bytes moved and latency in ns."""
        if kind >= 2:  # META: always bucket "zero", one histogram per kind
            self._ops[kind] += 1
            self._bytes[kind] += nbytes
            slot = kind + 25
        else:
            if nbytes <= 0:
                slot = kind * 9
            elif nbytes <= 2147483648:
                slot = kind * 9 + _BUCKET_OF_BITS[(nbytes - 1).bit_length()]
            else:
                slot = kind * 9 + 8
            self._slot_bytes[slot] += nbytes
        h = self._hists[slot]
        if h is None:
            h = self._hists[slot] = Histogram()
        v = latency_ns  # from here: Histogram.record, inlined
        if v >= 2048:
            k = v.bit_length() - 11
            if k <= 31:
                h.counts[(k << 10) + (v >> k)] += 1
            else:
                h.counts[33791] += 1
                h.saturated += 1
        elif v >= 0:
            h.counts[v] += 1
        else:
            v = 0
            h.counts[0] += 1
        h.total_ns += v
        if h.count:
            if v < h.min_ns:
                h.min_ns = v
            elif v > h.max_ns:
                h.max_ns = v
        else:
            h.min_ns = h.max_ns = v
        h.count += 1

    def record_ttfb(self, kind: int, ttfb_ns: int) -> None:
        """Record a successful op's time to first byte (ns), per op class."""
        _record_at(self._ttfb, OP_CLASS_OF[kind], ttfb_ns)

    def ttfb(self, cls: int) -> Histogram | None:
        """Time-to-first-byte histogram of an OpClass, or None if none was recorded."""
        return self._ttfb[cls]

    def record_put_split(self, setup_ns: Sequence[int], io_ns: Sequence[int]) -> None:
        """Record successful PUTs' setup (start to request out) and I/O (out to done) in ns,
        a batch at a time (``Histogram.record_many``: about half ``record``'s cost a value)."""
        hists = self._put_split
        setup, io = hists
        if setup is None or io is None:
            setup, io = hists[0], hists[1] = Histogram(), Histogram()
        setup.record_many(setup_ns)
        io.record_many(io_ns)

    def put_split(self, part: int) -> Histogram | None:
        """PUT_SETUP or PUT_IO latencies of the PUTs, or None if none was recorded."""
        return self._put_split[part]

    def record_response(self, kind: int, response_ns: int) -> None:
        """Record a successful paced op's response time (ns): intended start to done."""
        h = self._response[kind]  # per paced op: _record_at's extra call, inlined
        if h is None:
            h = self._response[kind] = Histogram()
        h.record(response_ns)

    def response(self, kind: int) -> Histogram | None:
        """Response-time histogram of an OpKind, or None (a closed-loop run has none)."""
        return self._response[kind]

    def response_of_class(self, cls: int) -> Histogram | None:
        """Response times of every kind in OpClass ``cls`` merged, or None if none."""
        parts = [h for k, h in enumerate(self._response) if h is not None and OP_CLASS_OF[k] == cls]
        if not parts:
            return None
        out = Histogram()
        for h in parts:
            out.merge(h)
        return out

    def record_error(self, kind: int, outcome: int) -> None:
        """Count one failed op by kind and Outcome. Never touches a histogram."""
        key = (kind, outcome)
        self._errors[key] = self._errors.get(key, 0) + 1

    def record_retry(self, kind: int, outcome: int = Outcome.OTHER) -> None:
        """Count one attempt that failed with ``outcome`` and was tried again: an engine retry
        (error_handling, prepare/cleanup rounds) or a request the HTTP pool sent again. The
        op's final attempt is recorded as its success or error, as if it had been the only one.
        """
        self._retries[kind] += 1
        key = (kind, outcome)
        self._retry_outcomes[key] = self._retry_outcomes.get(key, 0) + 1

    def merge(self, other: Collector) -> None:
        """Add ``other`` into this collector in place. Exact: histograms merge by array add."""
        for slot, theirs in enumerate(other._hists):
            if theirs is None:
                continue
            mine = self._hists[slot]
            if mine is None:
                mine = self._hists[slot] = Histogram()
            mine.merge(theirs)
        for mine_list, their_list in (
            (self._ops, other._ops),
            (self._bytes, other._bytes),
            (self._retries, other._retries),
            (self._slot_bytes, other._slot_bytes),
        ):
            for i, v in enumerate(their_list):
                mine_list[i] += v
        for mine_d, their_d in (
            (self._errors, other._errors),
            (self._retry_outcomes, other._retry_outcomes),
        ):
            for key, n in their_d.items():
                mine_d[key] = mine_d.get(key, 0) + n
        _merge_hists(self._ttfb, other._ttfb)
        _merge_hists(self._response, other._response)
        if other._put_split[0] is not None:
            _merge_hists(self._put_split, other._put_split)

    def histogram(self, cls: int, bucket: int) -> Histogram | None:
        """The histogram of (OpClass, size bucket), or None if nothing was recorded: the live
        one for GET and PUT, a new merge of the META kinds' for (META, 0)."""
        if cls == OpClass.META and bucket == 0:
            return self._meta_merged()
        return self._hists[cls * N_SIZE_BUCKETS + bucket]

    def kind_histogram(self, kind: int) -> Histogram | None:
        """Latencies of one OpKind, or None if none was recorded (a META kind of a collector
        decoded from an older file, which kept them together, has none either)."""
        if kind >= OpKind.LIST:
            return self._hists[kind + _KIND_SLOT]
        h = self.merged(kind)
        return h if h.count else None

    def _meta_merged(self) -> Histogram | None:
        parts = [self._hists[s] for s in (18, *_META_SLOTS)]
        if all(h is None for h in parts):
            return None
        out = Histogram()
        for h in parts:
            if h is not None:
                out.merge(h)
        return out

    def bucket_bytes(self, cls: int, bucket: int) -> int:
        """Bytes moved by successful ops of (OpClass, size bucket)."""
        if cls == OpClass.META:
            return sum(self._bytes[2:]) if bucket == 0 else 0
        return self._slot_bytes[cls * N_SIZE_BUCKETS + bucket]

    def merged(self, cls: int) -> Histogram:
        """A new histogram holding every bucket of OpClass ``cls`` (empty if none)."""
        out = Histogram()
        for bucket in range(N_SIZE_BUCKETS):
            h = self.histogram(cls, bucket)
            if h is not None:
                out.merge(h)
        return out

    def ops(self, kind: int | None = None) -> int:
        """Successful ops of one OpKind, or of all kinds when ``kind`` is None."""
        if kind is None:
            return sum(self.ops_of_class(cls) for cls in OpClass)
        if kind >= 2:
            return self._ops[kind]
        return sum(h.count for h in self._class_hists(kind) if h is not None)

    def nbytes(self, kind: int | None = None) -> int:
        """Bytes moved by successful ops of one OpKind, or of all kinds when ``kind`` is None."""
        if kind is None:
            return sum(self.bytes_of_class(cls) for cls in OpClass)
        if kind >= 2:
            return self._bytes[kind]
        return sum(self._slot_bytes[kind * N_SIZE_BUCKETS : (kind + 1) * N_SIZE_BUCKETS])

    def ops_of_class(self, cls: int) -> int:
        """Successful ops of all kinds in OpClass ``cls``."""
        return sum(self._ops[2:]) if cls == OpClass.META else self.ops(cls)

    def bytes_of_class(self, cls: int) -> int:
        """Bytes moved by successful ops of all kinds in OpClass ``cls``."""
        return sum(self._bytes[2:]) if cls == OpClass.META else self.nbytes(cls)

    def _class_hists(self, cls: int) -> list[Histogram | None]:
        return self._hists[cls * N_SIZE_BUCKETS : (cls + 1) * N_SIZE_BUCKETS]

    def errors(self) -> dict[tuple[int, int], int]:
        """A copy of the failure counts: (OpKind, Outcome) -> count."""
        return dict(self._errors)

    def error_count(self) -> int:
        """Failed ops of all kinds and outcomes."""
        return sum(self._errors.values())

    @property
    def retries(self) -> int:
        """Retried attempts of all kinds (see ``retries_of`` for one kind)."""
        return sum(self._retries)

    def retries_of(self, kind: int) -> int:
        """Retried attempts of one OpKind."""
        return self._retries[kind]

    def retry_outcomes(self) -> dict[tuple[int, int], int]:
        """A copy of the retry counts: (OpKind, Outcome of the attempt tried again) -> count."""
        return dict(self._retry_outcomes)

    def encode(self) -> bytes:
        """Versioned JSON (docs/FORMAT.md) with base64 histogram blobs, for IPC and merging."""
        hists = [
            (slot // N_SIZE_BUCKETS, slot % N_SIZE_BUCKETS, h.encode(compress=True))
            for slot, h in enumerate(self._hists[:_N_SLOTS])
            if h is not None
        ]
        wire = _CollectorWire(
            ops=[self.ops(k) for k in OpKind],
            nbytes=[self.nbytes(k) for k in OpKind],
            retries=self._retries,
            slot_bytes=[
                self.bucket_bytes(i // N_SIZE_BUCKETS, i % N_SIZE_BUCKETS) for i in range(_N_SLOTS)
            ],
            errors=[(k, o, n) for (k, o), n in sorted(self._errors.items())],
            histograms=hists,
            ttfb=[(c, h.encode(compress=True)) for c, h in enumerate(self._ttfb) if h is not None],
            retry_outcomes=[(k, o, n) for (k, o), n in sorted(self._retry_outcomes.items())],
            meta_kinds=[
                (s - _KIND_SLOT, h.encode(compress=True))
                for s in _META_SLOTS
                if (h := self._hists[s]) is not None
            ],
            response=[
                (k, h.encode(compress=True)) for k, h in enumerate(self._response) if h is not None
            ],
            put_split=[
                (p, h.encode(compress=True)) for p, h in enumerate(self._put_split) if h is not None
            ],
        )
        return _ENCODER.encode(wire)

    @classmethod
    def decode(cls, data: bytes) -> Collector:
        """Parse ``encode()`` output. Raises ValueError on a foreign or corrupt document."""
        try:
            wire = _DECODER.decode(data)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a sai3bench collector: {exc}") from exc
        if wire.format != "sai3bench.collector" or wire.version != 1:
            raise ValueError(f"unsupported collector format {wire.format!r} v{wire.version}")
        _pad_old_kinds(wire)
        if (len(wire.ops), len(wire.nbytes), len(wire.retries)) != (_N_KINDS,) * 3:
            raise ValueError("collector counters do not have one entry per op kind")
        if len(wire.slot_bytes) != _N_SLOTS:
            raise ValueError("collector slot_bytes does not have one entry per (class, bucket)")
        c = cls()
        c._ops[2:], c._bytes[2:] = wire.ops[2:], wire.nbytes[2:]
        c._retries = list(wire.retries)
        c._slot_bytes[: 2 * N_SIZE_BUCKETS] = wire.slot_bytes[: 2 * N_SIZE_BUCKETS]
        c._errors = {(k, o): n for k, o, n in wire.errors}
        c._retry_outcomes = {(k, o): n for k, o, n in wire.retry_outcomes}
        if (
            wire.retry_outcomes
            and [sum(n for k, _, n in wire.retry_outcomes if k == kind) for kind in OpKind]
            != c._retries
        ):
            raise ValueError("collector retries disagree with their outcomes")
        for op_class, bucket, blob in wire.histograms:
            if not (0 <= op_class < len(OpClass) and 0 <= bucket < N_SIZE_BUCKETS):
                raise ValueError(f"collector histogram slot ({op_class}, {bucket}) out of range")
            c._hists[op_class * N_SIZE_BUCKETS + bucket] = Histogram.decode(blob)
        for kind, blob in wire.meta_kinds:
            if kind not in META_KINDS:
                raise ValueError(f"collector META kind {kind} out of range")
            c._hists[kind + _KIND_SLOT] = Histogram.decode(blob)
        meta = c._meta_merged()
        if (meta.count if meta else 0) != sum(wire.ops[2:]):
            raise ValueError("collector META ops disagree with their histograms")
        for op_class, blob in wire.ttfb:
            if not 0 <= op_class < len(OpClass):
                raise ValueError(f"collector ttfb class {op_class} out of range")
            c._ttfb[op_class] = Histogram.decode(blob)
        for kind, blob in wire.response:
            if not 0 <= kind < _N_KINDS:
                raise ValueError(f"collector response kind {kind} out of range")
            c._response[kind] = Histogram.decode(blob)
        for part, blob in wire.put_split:
            if part not in (PUT_SETUP, PUT_IO):
                raise ValueError(f"collector PUT split part {part} out of range")
            c._put_split[part] = Histogram.decode(blob)
        if (c._put_split[0] is None) != (c._put_split[1] is None):
            raise ValueError("collector PUT split has one part without the other")
        for kind in (OpKind.GET, OpKind.PUT):
            if c.ops(kind) != wire.ops[kind]:
                raise ValueError(f"collector {kind.name} ops disagree with its histograms")
        return c

    def __repr__(self) -> str:
        counts = [(k.name, self.ops(k)) for k in OpKind]
        parts = [f"{name}={n}" for name, n in counts if n]
        return f"<Collector {' '.join(parts) or 'empty'} errors={self.error_count()}>"


def _pad_old_kinds(wire: _CollectorWire) -> None:
    """A file written before MKDIR and RMDIR (5 kinds): their counters are zero."""
    lengths = {len(wire.ops), len(wire.nbytes), len(wire.retries)}
    if lengths == {_OLD_N_KINDS}:
        pad = [0] * (_N_KINDS - _OLD_N_KINDS)
        wire.ops, wire.nbytes, wire.retries = wire.ops + pad, wire.nbytes + pad, wire.retries + pad


def _record_at(hists: list[Histogram | None], i: int, value_ns: int) -> None:
    """Record ``value_ns`` in ``hists[i]``, made on first use."""
    h = hists[i]
    if h is None:
        h = hists[i] = Histogram()
    h.record(value_ns)


def _merge_hists(mine: list[Histogram | None], theirs: list[Histogram | None]) -> None:
    """Add each of ``theirs`` into the histogram at the same index of ``mine`` (made if None)."""
    for i, h in enumerate(theirs):
        if h is not None:
            m = mine[i]
            if m is None:
                m = mine[i] = Histogram()
            m.merge(h)
