"""Merge exactness, as a property: splitting the samples over k shares loses nothing.

Issue 9 runs one engine per process and per host, then merges their measurements. The merged
figures must be those of one process fed every sample: same counts, bytes, min, max, sum and
the same percentiles, whatever the split. Shares travel as ``Collector.encode()`` bytes, so
every part goes through an encode/decode round trip before it is merged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sai3bench.metrics.collector import N_SIZE_BUCKETS, Collector, OpClass, OpKind
from sai3bench.metrics.histogram import MAX_TRACKABLE_NS, Histogram
from sai3bench.outcome import Outcome

QUANTILES = (0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0)
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
T = TypeVar("T")

#: Edges of the layout: exact buckets, the first shifted one, bucket seams, saturation.
EDGES = (0, 1, 2, 2047, 2048, 2049, 4095, 4096, 1 << 20, MAX_TRACKABLE_NS, MAX_TRACKABLE_NS + 1)
latency = st.one_of(
    st.sampled_from(EDGES),
    st.integers(0, 2047),
    st.integers(0, 10**12),
    st.integers(0, 1 << 45),  # some beyond 2^42 ns: saturated, exact min/max/sum still
)
size = st.one_of(
    st.sampled_from((0, 1, 8 * KIB, 8 * KIB + 1, 4 * MIB, 2 * GIB, 2 * GIB + 1)),
    st.integers(0, 3 * GIB),
)


def sized_list(draw: st.DrawFn, elements: st.SearchStrategy[T], max_size: int) -> list[T]:
    """A list whose length is drawn evenly: hypothesis's own lists are mostly short."""
    n = draw(st.integers(0, max_size))
    return draw(st.lists(elements, min_size=n, max_size=n))


def repeat_and_split(draw: st.DrawFn, items: list[T]) -> tuple[list[T], int, list[int]]:
    """Each item 1 to 1, 10 or 500 times (so that some runs pass 10,000 samples and p99.99 is
    not the max), shuffled, and the part of each among k parts (some may stay empty)."""
    # A seeded Random, not st.randoms(): that one draws from hypothesis's buffer on every
    # call, and 10,000 calls overrun it, so big runs would never be tried.
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    most = rng.choice((1, 10, 500))  # not drawn: hypothesis would favour 1
    out = [x for x in items for _ in range(rng.randint(1, most))]
    rng.shuffle(out)
    k = draw(st.integers(1, 8))
    return out, k, [rng.randrange(k) for _ in out]


@st.composite
def split_samples(draw: st.DrawFn) -> tuple[list[int], int, list[int]]:
    """Latencies, duplicates common (a small pool is drawn from), split over k parts."""
    pool = draw(st.lists(latency, min_size=1, max_size=12))
    return repeat_and_split(draw, sized_list(draw, st.one_of(st.sampled_from(pool), latency), 100))


def merge_all(parts: list[Histogram]) -> Histogram:
    out = Histogram()
    for h in parts:
        out.merge(h)
    return out


def assert_same_figures(got: Histogram, want: Histogram) -> None:
    """Every figure a report shows, then the whole state (buckets included)."""
    assert (got.count, got.min_ns, got.max_ns, got.total_ns, got.saturated) == (
        want.count,
        want.min_ns,
        want.max_ns,
        want.total_ns,
        want.saturated,
    )
    assert got.percentiles(QUANTILES) == want.percentiles(QUANTILES)
    assert got.mean_ns() == want.mean_ns()
    assert got == want


@settings(deadline=None, max_examples=200)
@given(split_samples())
def test_histogram_merge_equals_one_histogram_fed_everything(
    case: tuple[list[int], int, list[int]],
) -> None:
    values, k, part_of = case
    whole = Histogram()
    parts = [Histogram() for _ in range(k)]
    for v, p in zip(values, part_of, strict=True):
        whole.record(v)
        parts[p].record(v)
    assert_same_figures(merge_all(parts), whole)
    # Order and grouping do not matter: reversed, and as a tree (host of processes).
    assert_same_figures(merge_all(parts[::-1]), whole)
    assert_same_figures(merge_all([merge_all(parts[::2]), merge_all(parts[1::2])]), whole)
    # The parts as they travel: encoded (compressed or not) and decoded.
    blobs = [h.encode(compress=i % 2 == 0) for i, h in enumerate(parts)]
    assert_same_figures(merge_all([Histogram.decode(b) for b in blobs]), whole)


@settings(deadline=None, max_examples=100)
@given(split_samples())
def test_merged_percentiles_are_within_1_in_2048_of_the_exact_order_statistic(
    case: tuple[list[int], int, list[int]],
) -> None:
    """What exactness buys: the merged answer is as good as one histogram's, not worse."""
    values, k, part_of = case
    if not values:
        return
    parts = [Histogram() for _ in range(k)]
    for v, p in zip(values, part_of, strict=True):
        parts[p].record(v)
    ordered = sorted(values)
    merged = merge_all(parts)
    for q, got in zip(QUANTILES, merged.percentiles(QUANTILES), strict=True):
        exact = ordered[max(1, -(-round(q * 10_000) * len(values) // 10_000)) - 1]
        if q in (0.0, 1.0) or exact <= MAX_TRACKABLE_NS:
            assert abs(got - exact) <= exact / 2048, (q, got, exact)


@dataclass(frozen=True)
class Event:
    """One call on a Collector: what it records and into which part."""

    what: str  # "op", "ttfb", "error", "retry"
    kind: int
    nbytes: int
    value: int  # latency or ttfb in ns, or an Outcome
    part: int


event = st.tuples(
    st.sampled_from(("op", "op", "op", "ttfb", "error", "retry")),
    st.sampled_from(list(OpKind)),
    size,
    latency,
    st.sampled_from(list(Outcome)),
)


@st.composite
def split_events(draw: st.DrawFn) -> tuple[int, list[Event]]:
    drawn, k, part_of = repeat_and_split(draw, sized_list(draw, event, 60))
    return k, [
        Event(what, kind, nbytes, outcome if what in ("error", "retry") else ns, part)
        for (what, kind, nbytes, ns, outcome), part in zip(drawn, part_of, strict=True)
    ]


def play(c: Collector, e: Event) -> None:
    if e.what == "op":
        c.record(e.kind, e.nbytes, e.value)
    elif e.what == "ttfb":
        c.record_ttfb(e.kind, e.value)
    elif e.what == "error":
        c.record_error(e.kind, e.value)
    else:
        c.record_retry(e.kind, e.value)


def assert_same_collector(got: Collector, want: Collector) -> None:
    for kind in (*OpKind, None):
        assert (got.ops(kind), got.nbytes(kind)) == (want.ops(kind), want.nbytes(kind))
    assert got.errors() == want.errors()
    assert got.error_count() == want.error_count()
    assert got.retries == want.retries
    assert [got.retries_of(k) for k in OpKind] == [want.retries_of(k) for k in OpKind]
    assert got.retry_outcomes() == want.retry_outcomes()
    for cls in OpClass:
        assert got.ops_of_class(cls) == want.ops_of_class(cls)
        assert got.bytes_of_class(cls) == want.bytes_of_class(cls)
        assert_same_figures(got.merged(cls), want.merged(cls))
        assert got.ttfb(cls) == want.ttfb(cls)  # both None, or equal histograms
        for bucket in range(N_SIZE_BUCKETS):
            assert got.histogram(cls, bucket) == want.histogram(cls, bucket)
            assert got.bucket_bytes(cls, bucket) == want.bucket_bytes(cls, bucket)


@settings(deadline=None, max_examples=100)
@given(split_events())
def test_collector_merge_of_decoded_parts_equals_one_collector(
    case: tuple[int, list[Event]],
) -> None:
    k, events = case
    whole = Collector()
    parts = [Collector() for _ in range(k)]
    for e in events:
        play(whole, e)
        play(parts[e.part], e)
    decoded = [Collector.decode(part.encode()) for part in parts]  # as shares travel
    merged = Collector()
    for part in decoded:
        merged.merge(part)
    assert_same_collector(merged, whole)
    assert merged.encode() == whole.encode()  # nothing else differs either
    # A client that merges hosts, each of which merged its processes, gets the same.
    hosts = [Collector(), Collector()]
    for i, part in enumerate(decoded):
        hosts[i % 2].merge(part)
    client = Collector()
    for host in hosts:
        client.merge(Collector.decode(host.encode()))
    assert_same_collector(client, whole)


def test_decode_refuses_buckets_outside_min_max_that_merge_would_drop() -> None:
    """merge() adds only the buckets from min's to max's, so decode must not accept a blob
    with counts outside them: before the check, merging this one lost a count."""
    # count 2, sum 10, min 5, max 5, 0 saturated, 2 entries: bucket 5 x1 and bucket 7 x1.
    body = bytes([2, 10, 5, 5, 0, 2]) + bytes([5, 1]) + bytes([1, 1])
    with pytest.raises(ValueError, match=r"outside min\.\.max"):
        Histogram.decode(b"S3BH\x01\x00\x0b\x2a" + body)
