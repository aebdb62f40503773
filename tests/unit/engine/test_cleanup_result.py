"""engine/cleanup.py's accounting: the summary never calls an undeleted object deleted, and which
outcomes fail the run in each cleanup_mode (strict, tolerant, best_effort)."""

from __future__ import annotations

import pytest

from sai3bench.engine.cleanup import CleanupMode, CleanupResult, _failure
from sai3bench.metrics.collector import Collector


def _result(deleted: int = 0, gone: int = 0, left: int = 0, retries: int = 0) -> CleanupResult:
    r = CleanupResult(Collector(), 1.5)
    r.deleted, r.already_gone, r.errors, r.retries = deleted, gone, left, retries
    if left:
        r.left["s3://b/run/data/prepared-*"] = left
    return r


def test_summary_of_a_clean_cleanup() -> None:
    assert _result(deleted=2651).summary() == "deleted 2,651 objects in 1.50s"


def test_summary_never_counts_failures_as_deleted() -> None:
    # Before: "deleted 2,651 objects (0 succeeded, 0 already deleted, 2,651 errors)".
    text = _result(left=2651).summary()
    assert text == "deleted 0 of 2,651 objects (2,651 left behind) in 1.50s"


def test_summary_names_gone_and_retries() -> None:
    text = _result(deleted=10, gone=2, retries=3).summary()
    assert text == "deleted 10 of 12 objects (2 already gone, 3 retries) in 1.50s"


@pytest.mark.parametrize(
    ("mode", "gone", "left", "fails"),
    [
        ("strict", 0, 0, False),
        ("strict", 1, 0, True),  # strict: this cleanup must delete every object itself
        ("strict", 0, 1, True),
        ("tolerant", 5, 0, False),  # tolerant: already gone is fine ...
        ("tolerant", 0, 1, True),  # ... an object left behind is not
        ("best_effort", 0, 7, False),  # best_effort: warned about, never fatal
        ("best_effort", 7, 0, False),
    ],
)
def test_which_outcomes_fail_in_each_mode(
    mode: CleanupMode, gone: int, left: int, fails: bool
) -> None:
    failure = _failure(_result(deleted=3, gone=gone, left=left), mode)
    assert (failure is not None) is fails
    if failure is not None:
        assert failure.exit_code == 1
        if left:
            assert f"left {left} of {3 + gone + left} prepared objects behind" in failure.msg
            assert "under s3://b/run/data/prepared-*" in failure.msg
            assert failure.hint is not None and "--cleanup-only" in failure.hint
