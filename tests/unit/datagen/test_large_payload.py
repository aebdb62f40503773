"""A huge object is streamed from the reused pool, never built in memory (issue 8 item 10).

``DataSource.payload`` for an object above the scratch cap returns the scratch head plus views of
the shared pool; the bytes of the object are never allocated. Measured with tracemalloc: one
payload() call allocates the head's stamp arrays (256 KiB, whatever the size) and the views'
bookkeeping (~200 bytes per 4 MiB view, about 1/20,000 of the object).
"""

from __future__ import annotations

import tracemalloc

import pytest

from sai3bench.datagen.buffers import REST_CYCLE_VIEWS, DataSource
from sai3bench.payload import payload_length, split_payload

GIB = 1 << 30


@pytest.mark.parametrize("fill", ["random", "zero"])
@pytest.mark.parametrize("size", [GIB, 64 * GIB])
def test_a_huge_payload_allocates_a_tiny_fraction_of_its_size(fill: str, size: int) -> None:
    source = DataSource(fill, seed=1)
    scratch = source.new_scratch(size)  # the caller's, sized once per worker
    source.payload(4096, 0, scratch)  # warm up caches outside the measurement
    tracemalloc.start()
    try:
        body = source.payload(size, 7, scratch)
        assert payload_length(body) == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(body, tuple) and all(isinstance(v, memoryview) for v in body)
    # Fixed: the stamp arrays of the 64 MiB head (256 KiB). Per size: ~200 bytes a 4 MiB view.
    assert peak < (1 << 20) + size / 10_000, f"payload({size}) allocated {peak} bytes"


def test_splitting_a_huge_payload_into_parts_copies_nothing() -> None:
    source = DataSource("random", seed=1)
    scratch = source.new_scratch(GIB)
    body = source.payload(GIB, 3, scratch)
    tracemalloc.start()
    try:
        parts = split_payload(body, 16 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parts) == 64 and sum(payload_length(p) for p in parts) == GIB
    assert peak < GIB / 10_000


def test_a_5_tib_payload_reuses_its_views() -> None:
    """Past 16,384 distinct pool views (64 GiB, where pool blocks repeat anyway) the views repeat
    by reference: a 5 TiB body holds 13 MiB of references (25 MiB at peak, measured with
    tracemalloc), not ~250 MiB of memoryviews."""
    size = 5 << 40
    source = DataSource("random", seed=1)
    scratch = source.new_scratch(size)
    source.payload(4096, 0, scratch)
    tracemalloc.start()
    try:
        body = source.payload(size, 11, scratch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(body, tuple) and payload_length(body) == size
    assert len({id(v) for v in body}) <= REST_CYCLE_VIEWS + 2
    assert peak < 48 << 20, peak


def test_the_rest_repeats_its_cycle_exactly() -> None:
    source = DataSource("random", seed=2)
    cycle = REST_CYCLE_VIEWS * (4 << 20)  # the default pool's 4 MiB views
    size = source.scratch_cap + cycle + 100
    body = source.payload(size, 5, source.new_scratch(size))
    assert isinstance(body, tuple) and payload_length(body) == size
    assert len(body) == 1 + REST_CYCLE_VIEWS + 1
    assert bytes(body[-1]) == bytes(body[1])[:100]  # the cycle starts again, cut to the tail
    short = source.payload(source.scratch_cap + cycle, 5, source.new_scratch(size))
    assert isinstance(short, tuple) and [bytes(v[:64]) for v in short[1:]] == [
        bytes(v[:64]) for v in body[1:-1]
    ]  # up to the cycle, the same bytes as without it
