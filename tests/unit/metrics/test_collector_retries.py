"""Collector retries by (kind, outcome): what the "Retries:" block and results.json show."""

from __future__ import annotations

import pytest

from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.outcome import Outcome


def _some() -> Collector:
    c = Collector()
    c.record_retry(OpKind.GET, Outcome.CONNECTION)
    c.record_retry(OpKind.GET, Outcome.CONNECTION)
    c.record_retry(OpKind.PUT, Outcome.THROTTLED)
    return c


def test_retries_are_counted_by_kind_and_outcome() -> None:
    c = _some()
    assert c.retries == 3 and c.retries_of(OpKind.GET) == 2
    assert c.retry_outcomes() == {
        (OpKind.GET, Outcome.CONNECTION): 2,
        (OpKind.PUT, Outcome.THROTTLED): 1,
    }


def test_retry_outcomes_merge_and_survive_encoding() -> None:
    c = _some()
    c.merge(_some())
    back = Collector.decode(c.encode())
    assert back.retry_outcomes() == {
        (OpKind.GET, Outcome.CONNECTION): 4,
        (OpKind.PUT, Outcome.THROTTLED): 2,
    }
    assert back.retries == 6


def test_a_document_whose_retry_outcomes_disagree_with_its_retries_is_refused() -> None:
    blob = _some().encode().replace(b'"retries":[2,1,', b'"retries":[1,1,')
    with pytest.raises(ValueError, match="retries disagree"):
        Collector.decode(blob)
