"""The PUT latency split (upstream v0.8.90): Histogram.record_many, the collector's two
histograms (merged, encoded, older files without them), the console's three PUT lines and the
results.json figures."""

from __future__ import annotations

import msgspec
import pytest

from sai3bench.metrics.collector import PUT_IO, PUT_SETUP, Collector, OpKind
from sai3bench.metrics.histogram import MAX_TRACKABLE_NS, Histogram
from sai3bench.report.console import format_workload_results, latency_summary

VALUES = [0, 1, 2047, 2048, 2049, 31_000, 123_456_789, -5, MAX_TRACKABLE_NS + 10, 7]


def test_record_many_is_record_for_each_value() -> None:
    one, many = Histogram(), Histogram()
    for v in VALUES:
        one.record(v)
    many.record_many(VALUES[:4])
    many.record_many([])
    many.record_many(VALUES[4:])
    assert many == one and many.saturated == one.saturated == 1
    assert (many.count, many.min_ns, many.max_ns, many.total_ns) == (
        one.count,
        one.min_ns,
        one.max_ns,
        one.total_ns,
    )


def _with_puts(setups: list[int], ios: list[int]) -> Collector:
    c = Collector()
    for s, i in zip(setups, ios, strict=True):
        c.record(OpKind.PUT, 1024, s + i)
    c.record_put_split(setups, ios)
    return c


def test_split_merges_and_survives_encoding() -> None:
    a = _with_puts([30_000, 40_000], [3_000_000, 4_000_000])
    b = _with_puts([50_000], [5_000_000])
    b.merge(a)
    c = Collector.decode(b.encode())
    setup, io = c.put_split(PUT_SETUP), c.put_split(PUT_IO)
    assert setup is not None and io is not None
    assert (setup.count, setup.min_ns, setup.max_ns) == (3, 30_000, 50_000)
    assert (io.count, io.total_ns) == (3, 12_000_000)
    merged = Collector()
    merged.merge(Collector())  # no split on either side: still none
    assert merged.put_split(PUT_IO) is None


def test_an_older_file_without_the_split_decodes() -> None:
    doc = msgspec.json.decode(_with_puts([1], [2]).encode())
    del doc["put_split"]
    c = Collector.decode(msgspec.json.encode(doc))
    assert c.ops(OpKind.PUT) == 1 and c.put_split(PUT_SETUP) is None
    text = format_workload_results(c, 1.0, 1, 1.0)
    assert "  Latency: mean=" in text and "Latency (total)" not in text


def test_one_part_without_the_other_is_refused() -> None:
    doc = msgspec.json.decode(_with_puts([1], [2]).encode())
    doc["put_split"] = doc["put_split"][:1]
    with pytest.raises(ValueError, match="one part without the other"):
        Collector.decode(msgspec.json.encode(doc))


def test_console_and_summary_show_the_split_for_put_alone() -> None:
    c = _with_puts([30_000] * 10, [3_000_000] * 10)
    c.record(OpKind.GET, 1024, 1_000_000)
    text = format_workload_results(c, 1.0, 1, 1.0)
    put = text[text.index("PUT Performance:") :]
    lines = [ln.split(":")[0].strip() for ln in put.splitlines()[4:7]]
    assert lines == ["Latency (total)", "Latency (I/O ext)", "Latency (setup int)"]
    assert "p50=3.03ms" in put.splitlines()[4] and "p50=30.00µs" in put.splitlines()[6]
    get = text[text.index("GET Performance:") : text.index("PUT Performance:")]
    assert "(I/O ext)" not in get
    summary = latency_summary(c, 1.0)
    assert summary["PUT"]["io_latency_ns"]["p50"] == pytest.approx(3_000_000, rel=1e-3)  # type: ignore[index]
    assert summary["PUT"]["setup_latency_ns"]["max"] == 30_000  # type: ignore[index]
    assert "io_latency_ns" not in summary["GET"]


def test_the_recorder_splits_successful_puts_only() -> None:
    from sai3bench.backends.base import Backend
    from sai3bench.engine.batch import LATE, BatchResults
    from sai3bench.engine.ops import PlannedOp
    from sai3bench.engine.record import Tally, make_recorder

    op = PlannedOp(index=0, kind=OpKind.PUT, backend=Backend.__new__(Backend), label="p")  # type: ignore[type-abstract]
    out = BatchResults(3)
    for j in range(3):
        out.start_ns[j], out.latency_ns[j] = 1_000 * (j + 1), 500_000
    out.outcome[1], out.outcome[2] = 5, LATE  # a failed PUT, a late one
    c = Collector()
    record = make_recorder(c, [op], Tally())
    out.put_sent[:] = [(1, 5_000), (2, 9_000)]
    record([(0, "k", 1, 0)] * 3, 3, out)
    assert c.put_split(PUT_SETUP) is None  # nothing recorded, not empty histograms
    out.outcome[0] = 0
    out.put_sent[:] = [(0, 31_000)]
    record([(0, "k", 1, 0)] * 3, 1, out)
    setup, io = c.put_split(PUT_SETUP), c.put_split(PUT_IO)
    assert setup is not None and io is not None
    assert (setup.min_ns, io.min_ns) == (30_000, 470_000)
