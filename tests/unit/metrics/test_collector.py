"""Collector: size buckets at every boundary, META in bucket 0, errors apart, exact merge."""

from __future__ import annotations

import os
import random

import pytest

from sai3bench.metrics.collector import (
    N_SIZE_BUCKETS,
    OP_CLASS_OF,
    SIZE_BUCKET_LABELS,
    Collector,
    OpClass,
    OpKind,
    size_bucket,
)
from sai3bench.metrics.histogram import MAX_TRACKABLE_NS, Histogram
from sai3bench.outcome import Outcome

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
# Inclusive upper bound of buckets 0..7 (sai3-bench features section 3.3); bucket 8 is beyond.
UPPER = (0, 8 * KIB, 64 * KIB, 512 * KIB, 4 * MIB, 32 * MIB, 256 * MIB, 2 * GIB)


@pytest.fixture
def rng():
    seed = int(os.environ.get("SAI3_TEST_SEED", "7321"))
    print(f"seed={seed} (set SAI3_TEST_SEED to replay)")
    return random.Random(seed)


def reference_bucket(n: int) -> int:
    """The obvious loop over the bounds, to check the bit_length table against."""
    for i, bound in enumerate(UPPER):
        if n <= bound:
            return i
    return 8


def test_enums_and_class_map_are_stable():
    assert [(k.name, int(k)) for k in OpKind] == [
        ("GET", 0),
        ("PUT", 1),
        ("LIST", 2),
        ("STAT", 3),
        ("DELETE", 4),
        ("MKDIR", 5),
        ("RMDIR", 6),
    ]
    assert [(c.name, int(c)) for c in OpClass] == [("GET", 0), ("PUT", 1), ("META", 2)]
    assert (OpClass.GET, OpClass.PUT, *(OpClass.META,) * 5) == OP_CLASS_OF
    assert SIZE_BUCKET_LABELS == (
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


@pytest.mark.parametrize("bound_idx", range(len(UPPER)))
def test_size_bucket_at_every_boundary(bound_idx):
    bound = UPPER[bound_idx]
    assert size_bucket(bound) == bound_idx
    assert size_bucket(bound + 1) == bound_idx + 1
    if bound > 0:
        assert size_bucket(bound - 1) == (bound_idx if bound - 1 > UPPER[bound_idx - 1] else 0)


def test_size_bucket_matches_reference_everywhere(rng):
    probes = [-(2**40), -1, 0, 1, 2, 1 << 64, 10**30]
    for p in range(70):
        probes += [(1 << p) - 1, 1 << p, (1 << p) + 1]
    probes += [rng.randrange(0, 1 << rng.randrange(1, 40)) for _ in range(5000)]
    for n in probes:
        assert size_bucket(n) == reference_bucket(n), n


def test_record_files_each_boundary_size_in_its_bucket():
    sizes = [s for b in UPPER for s in (b - 1, b, b + 1) if s >= 0]
    for kind in (OpKind.GET, OpKind.PUT):
        c = Collector()
        for n in sizes:
            c.record(kind, n, 1000)
        for bucket in range(N_SIZE_BUCKETS):
            expected = [n for n in sizes if reference_bucket(n) == bucket]
            h = c.histogram(kind, bucket)
            assert (h.count if h else 0) == len(expected), (kind, bucket)
            assert c.bucket_bytes(kind, bucket) == sum(expected)


def test_meta_ops_always_go_to_bucket_zero():
    c = Collector()
    c.record(OpKind.LIST, 10 * MIB, 500)
    c.record(OpKind.STAT, 4096, 600)
    c.record(OpKind.DELETE, 0, 700)
    h = c.histogram(OpClass.META, 0)
    assert h is not None and h.count == 3
    assert all(c.histogram(OpClass.META, b) is None for b in range(1, N_SIZE_BUCKETS))
    assert c.ops(OpKind.LIST) == c.ops(OpKind.STAT) == c.ops(OpKind.DELETE) == 1
    assert c.ops_of_class(OpClass.META) == 3
    assert c.nbytes(OpKind.LIST) == 10 * MIB
    assert c.bytes_of_class(OpClass.META) == c.bucket_bytes(OpClass.META, 0) == 10 * MIB + 4096
    assert c.bucket_bytes(OpClass.META, 3) == 0


def test_errors_and_retries_never_reach_histograms():
    c = Collector()
    for kind in OpKind:
        c.record_error(kind, Outcome.TIMEOUT)
        c.record_error(kind, Outcome.TIMEOUT)
        c.record_error(kind, Outcome.NOT_FOUND)
        c.record_retry(kind)
    assert all(c.histogram(cls, b) is None for cls in OpClass for b in range(N_SIZE_BUCKETS))
    assert c.ops() == 0 and c.merged(OpClass.GET).count == 0
    assert c.error_count() == 3 * len(OpKind)
    assert c.errors()[(OpKind.PUT, Outcome.TIMEOUT)] == 2
    assert c.errors()[(OpKind.DELETE, Outcome.NOT_FOUND)] == 1
    assert c.retries == len(OpKind) and c.retries_of(OpKind.STAT) == 1
    c.errors().clear()  # a copy
    assert c.error_count() == 3 * len(OpKind)


def test_inlined_record_matches_histogram_record(rng):
    """Collector.record carries a copy of Histogram.record; they must never drift apart."""
    values = [-5, 0, 1, 2047, 2048, MAX_TRACKABLE_NS, MAX_TRACKABLE_NS + 1, 10**16]
    values += [rng.randrange(0, 1 << 44) >> rng.randrange(0, 44) for _ in range(3000)]
    c, ref = Collector(), Histogram()
    for v in values:
        c.record(OpKind.GET, 4096, v)
        ref.record(v)
    assert c.histogram(OpClass.GET, 1) == ref


def test_counters_by_kind_and_class():
    c = Collector()
    c.record(OpKind.GET, 100, 1_000)
    c.record(OpKind.GET, 100 * KIB, 2_000)
    c.record(OpKind.PUT, 3 * GIB, 3_000)
    c.record(OpKind.STAT, 0, 4_000)
    assert [c.ops(k) for k in OpKind] == [2, 1, 0, 1, 0, 0, 0]
    assert [c.nbytes(k) for k in OpKind] == [100 + 100 * KIB, 3 * GIB, 0, 0, 0, 0, 0]
    assert c.ops() == 4 and c.nbytes() == 100 + 100 * KIB + 3 * GIB
    assert [c.ops_of_class(k) for k in OpClass] == [2, 1, 1]
    assert c.bytes_of_class(OpClass.PUT) == 3 * GIB
    put_big = c.histogram(OpClass.PUT, 8)
    assert put_big is not None and put_big.count == 1
    merged = c.merged(OpClass.GET)
    assert (merged.count, merged.min_ns, merged.max_ns) == (2, 1_000, 2_000)
    merged.record(5)  # a new object: the collector is untouched
    assert c.merged(OpClass.GET).count == 2
    assert repr(c) == "<Collector GET=2 PUT=1 STAT=1 errors=0>"
    assert repr(Collector()) == "<Collector empty errors=0>"


def _random_ops(rng: random.Random, n: int) -> list[tuple[OpKind, int, int]]:
    kinds = list(OpKind)
    ops = []
    for _ in range(n):
        kind = rng.choice(kinds)
        nbytes = 0 if kind >= 2 else rng.choice(UPPER[1:]) + rng.randint(-1, 1)
        ops.append((kind, nbytes, rng.randint(500, 50_000_000)))
    return ops


def _feed(c: Collector, ops: list[tuple[OpKind, int, int]]) -> None:
    for i, (kind, nbytes, lat) in enumerate(ops):
        c.record(kind, nbytes, lat)
        if i % 17 == 0:
            c.record_error(kind, Outcome(i % 11))
        if i % 23 == 0:
            c.record_retry(kind)


def test_merge_is_exact(rng):
    ops = _random_ops(rng, 6000)
    whole = Collector()
    _feed(whole, ops)
    parts = [Collector(), Collector(), Collector()]
    for i, op in enumerate(ops):  # keep error/retry positions identical to `whole`
        p = parts[rng.randrange(3)]
        p.record(*op)
        if i % 17 == 0:
            p.record_error(op[0], Outcome(i % 11))
        if i % 23 == 0:
            p.record_retry(op[0])
    merged = Collector()
    for p in parts:
        merged.merge(p)
    for cls in OpClass:
        for b in range(N_SIZE_BUCKETS):
            assert merged.histogram(cls, b) == whole.histogram(cls, b), (cls, b)
            assert merged.bucket_bytes(cls, b) == whole.bucket_bytes(cls, b)
    assert [merged.ops(k) for k in OpKind] == [whole.ops(k) for k in OpKind]
    assert [merged.nbytes(k) for k in OpKind] == [whole.nbytes(k) for k in OpKind]
    assert merged.errors() == whole.errors() and merged.retries == whole.retries
    assert merged.encode() == whole.encode()


def test_encode_decode_round_trip(rng):
    c = Collector()
    _feed(c, _random_ops(rng, 2000))
    blob = c.encode()
    back = Collector.decode(blob)
    assert back.encode() == blob
    for cls in OpClass:
        assert back.merged(cls) == c.merged(cls)
    assert back.errors() == c.errors() and back.retries == c.retries
    assert Collector.decode(Collector().encode()).ops() == 0


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b'{"format":"other","version":1,"ops":[0,0,0,0,0],"nbytes":[0,0,0,0,0],'
        b'"retries":[0,0,0,0,0],"slot_bytes":' + str([0] * 27).encode() + b","
        b'"errors":[],"histograms":[]}',
        b'{"version":2,"ops":[0,0,0,0,0],"nbytes":[0,0,0,0,0],'
        b'"retries":[0,0,0,0,0],"slot_bytes":' + str([0] * 27).encode() + b","
        b'"errors":[],"histograms":[]}',
        b'{"ops":[0,0,0,0],"nbytes":[0,0,0,0,0],'
        b'"retries":[0,0,0,0,0],"slot_bytes":' + str([0] * 27).encode() + b","
        b'"errors":[],"histograms":[]}',
        b'{"ops":[3,0,0,0,0],"nbytes":[0,0,0,0,0],'  # 3 GET ops but no GET histogram
        b'"retries":[0,0,0,0,0],"slot_bytes":' + str([0] * 27).encode() + b","
        b'"errors":[],"histograms":[]}',
    ],
)
def test_decode_refuses_foreign_or_inconsistent_documents(bad):
    with pytest.raises(ValueError):
        Collector.decode(bad)


def test_ttfb_histograms_merge_and_round_trip() -> None:
    a, b = Collector(), Collector()
    a.record_ttfb(OpKind.GET, 1_000)
    b.record_ttfb(OpKind.GET, 3_000)
    b.record_ttfb(OpKind.PUT, 5_000)
    a.merge(b)
    got = a.ttfb(OpClass.GET)
    assert got is not None and got.count == 2 and got.min_ns == 1_000 and got.max_ns == 3_000
    back = Collector.decode(a.encode())
    again = back.ttfb(OpClass.GET)
    assert again is not None and again.count == 2 and back.ttfb(OpClass.PUT) is not None
    assert back.ttfb(OpClass.META) is None
