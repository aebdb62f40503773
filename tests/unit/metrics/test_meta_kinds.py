"""LIST, STAT and DELETE each keep their own histogram; the META class is their exact merge,
and results written before the split (one META histogram) still decode."""

from __future__ import annotations

import base64
import json
import random

import pytest

from sai3bench.metrics.collector import Collector, OpClass, OpKind
from sai3bench.metrics.histogram import Histogram
from sai3bench.report.tsv import format_results_tsv


def _meta_run(rng: random.Random, n: int = 3000) -> Collector:
    c = Collector()
    for _ in range(n):
        kind = rng.choice((OpKind.LIST, OpKind.STAT, OpKind.DELETE, OpKind.GET))
        c.record(kind, rng.randrange(0, 5000), rng.randrange(100, 50_000_000))
    return c


def test_each_meta_kind_has_its_own_histogram_and_meta_is_their_merge():
    c = Collector()
    c.record(OpKind.LIST, 0, 5_000_000)
    c.record(OpKind.STAT, 0, 300)
    c.record(OpKind.STAT, 0, 400)
    c.record(OpKind.DELETE, 0, 90_000)
    lst, stat, dele = (c.kind_histogram(k) for k in (OpKind.LIST, OpKind.STAT, OpKind.DELETE))
    assert lst is not None and (lst.count, lst.max_ns) == (1, 5_000_000)
    assert stat is not None and (stat.count, stat.min_ns, stat.max_ns) == (2, 300, 400)
    assert dele is not None and dele.count == 1
    whole = Histogram()
    for v in (5_000_000, 300, 400, 90_000):
        whole.record(v)
    assert c.histogram(OpClass.META, 0) == whole == c.merged(OpClass.META)
    assert c.kind_histogram(OpKind.GET) is None


def test_merge_and_round_trip_keep_the_kinds_apart_exactly():
    rng = random.Random(7)
    a, b = _meta_run(rng), _meta_run(rng)
    both = Collector()
    both.merge(a)
    both.merge(b)
    for kind in (OpKind.LIST, OpKind.STAT, OpKind.DELETE):
        expect = Histogram()
        for part in (a, b):
            h = part.kind_histogram(kind)
            assert h is not None
            expect.merge(h)
        assert both.kind_histogram(kind) == expect
    back = Collector.decode(both.encode())
    assert back.encode() == both.encode()
    for kind in OpKind:
        assert back.kind_histogram(kind) == both.kind_histogram(kind)


def _as_old_file(c: Collector) -> bytes:
    """The collector as written before META kinds were split: one (META, 0) histogram."""
    doc = json.loads(c.encode())
    doc.pop("meta_kinds")
    meta = c.histogram(OpClass.META, 0)
    assert meta is not None
    doc["histograms"].append([2, 0, base64.b64encode(meta.encode(compress=True)).decode()])
    return json.dumps(doc).encode()


def test_an_old_results_file_decodes_with_its_meta_row_intact():
    c = _meta_run(random.Random(3))
    old = Collector.decode(_as_old_file(c))
    assert old.histogram(OpClass.META, 0) == c.histogram(OpClass.META, 0)
    assert format_results_tsv(old, 2.0) == format_results_tsv(c, 2.0)
    assert old.kind_histogram(OpKind.STAT) is None  # the split was never recorded
    mixed = Collector()  # an old file merged with a new one: nothing lost or counted twice
    mixed.merge(old)
    mixed.merge(c)
    merged = mixed.histogram(OpClass.META, 0)
    single = c.histogram(OpClass.META, 0)
    assert merged is not None and single is not None and merged.count == 2 * single.count
    again = Collector.decode(mixed.encode())
    assert again.histogram(OpClass.META, 0) == merged


def test_a_file_whose_meta_ops_disagree_with_its_histograms_is_refused():
    c = Collector()
    c.record(OpKind.STAT, 0, 1000)
    doc = json.loads(c.encode())
    doc["ops"][OpKind.STAT] = 5
    with pytest.raises(ValueError, match="META"):
        Collector.decode(json.dumps(doc).encode())


def test_mkdir_and_rmdir_have_their_own_histograms_and_round_trip():
    c = Collector()
    c.record(OpKind.MKDIR, 0, 5_000)
    c.record(OpKind.RMDIR, 0, 7_000)
    c.record(OpKind.RMDIR, 0, 9_000)
    c.record_error(OpKind.RMDIR, 0)
    assert (c.ops(OpKind.MKDIR), c.ops(OpKind.RMDIR)) == (1, 2)
    assert c.ops_of_class(OpClass.META) == 3
    back = Collector.decode(c.encode())
    assert back.encode() == c.encode()
    for kind in (OpKind.MKDIR, OpKind.RMDIR):
        assert back.kind_histogram(kind) == c.kind_histogram(kind)


def test_a_file_written_with_five_op_kinds_still_decodes():
    """results.json and share frames from before MKDIR/RMDIR carry 5 entries per counter."""
    c = _meta_run(random.Random(5))
    doc = json.loads(c.encode())
    for key in ("ops", "nbytes", "retries"):
        assert doc[key][5:] == [0, 0]
        doc[key] = doc[key][:5]
    old = Collector.decode(json.dumps(doc).encode())
    assert [old.ops(k) for k in OpKind] == [c.ops(k) for k in OpKind]
    assert old.encode() == c.encode()
