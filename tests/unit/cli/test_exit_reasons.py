"""A run that failed twice says both: the first is the error, the rest are warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sai3bench.cli.run import ResultFiles, _exit_code
from sai3bench.engine.interrupt import Interrupt
from sai3bench.engine.runner import RunReport
from sai3bench.errors import RunFailed


def test_cleanup_leftovers_are_not_hidden_by_a_failed_workload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server killed mid-run: the workload aborts, then cleanup cannot delete what prepare
    made. Before, only the abort was said at the end; the 200 objects left were not."""
    report = RunReport()
    report.fail(RunFailed("workload aborted: 5,696 of 11,392 ops failed"))
    report.fail(None)  # a stage that went well adds nothing
    report.fail(RunFailed("cleanup (tolerant): left 200 of 200 prepared objects behind"))
    with pytest.raises(RunFailed, match="workload aborted"):
        _exit_code(Interrupt(), None, report, ResultFiles(tmp_path))
    assert "warning: cleanup (tolerant): left 200 of 200" in capsys.readouterr().err
    assert report.failure is report.failures[0]
