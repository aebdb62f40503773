"""Collector response times (io_rate): recorded per kind, merged exactly, kept by encode/decode,
and absent (an older or closed-loop document still decodes)."""

from __future__ import annotations

import json

from sai3bench.metrics.collector import Collector, OpClass, OpKind


def paced(*pairs: tuple[int, int]) -> Collector:
    c = Collector()
    for kind, ns in pairs:
        c.record(kind, 4096 if kind == OpKind.GET else 0, ns // 2)
        c.record_response(kind, ns)
    return c


def test_response_is_kept_apart_from_service_time() -> None:
    c = paced((OpKind.GET, 10_000_000))
    resp = c.response(OpKind.GET)
    assert resp is not None and resp.count == 1 and resp.max_ns >= 9_990_000
    assert c.merged(OpClass.GET).max_ns < 5_010_000
    assert c.response(OpKind.PUT) is None


def test_merge_and_round_trip_are_exact() -> None:
    a = paced((OpKind.GET, 1_000), (OpKind.STAT, 50_000_000))
    b = paced((OpKind.GET, 3_000_000), (OpKind.DELETE, 7_000))
    a.merge(b)
    back = Collector.decode(a.encode())
    for kind in OpKind:
        mine, theirs = a.response(kind), back.response(kind)
        assert (mine is None) == (theirs is None)
        if mine is not None and theirs is not None:
            assert mine.counts == theirs.counts and mine.total_ns == theirs.total_ns
    meta = back.response_of_class(OpClass.META)
    assert meta is not None and meta.count == 2
    assert back.response_of_class(OpClass.PUT) is None


def test_a_document_without_response_still_decodes() -> None:
    doc = json.loads(paced((OpKind.GET, 1_000)).encode())
    del doc["response"]
    c = Collector.decode(json.dumps(doc).encode())
    assert c.response(OpKind.GET) is None and c.ops(OpKind.GET) == 1


def test_closed_loop_encodes_no_response() -> None:
    c = Collector()
    c.record(OpKind.GET, 10, 1_000)
    assert json.loads(c.encode())["response"] == []
