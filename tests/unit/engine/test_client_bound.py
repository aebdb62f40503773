"""The note after a one-process workload whose own CPU was the limit."""

from __future__ import annotations

from sai3bench.engine.runner import client_bound_hint


def test_a_busy_core_with_more_cores_to_use_gets_the_note() -> None:
    hint = client_bound_hint(cpu_s=9.5, wall_s=10.0, cores=8)
    assert hint == (
        "note: the client used 95% of a core: it may be the bottleneck; "
        "--processes auto runs one engine per usable core (8 here)"
    )


def test_no_note_below_the_threshold_on_one_core_or_without_a_window() -> None:
    assert client_bound_hint(cpu_s=8.0, wall_s=10.0, cores=8) is None
    assert client_bound_hint(cpu_s=10.0, wall_s=10.0, cores=1) is None
    assert client_bound_hint(cpu_s=1.0, wall_s=0.0, cores=8) is None
