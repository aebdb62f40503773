"""Two one-line messages found in review: the op-log's name, and a run stopped in its warmup."""

from __future__ import annotations

from sai3bench.cli.oplog_run import op_log_name_warning
from sai3bench.engine.runner import warmup_line


def test_an_op_log_not_named_zst_is_warned_about() -> None:
    assert op_log_name_warning("/tmp/ops.tsv.zst") is None
    assert op_log_name_warning(None) is None
    line = op_log_name_warning("/tmp/ops.tsv")
    assert line is not None and "zstd" in line and ".tsv.zst" in line


def test_a_run_stopped_inside_its_warmup_says_so() -> None:
    assert "left out of the results" in warmup_line(2.0, 8.0)
    stopped = warmup_line(2.0, 0.0)
    assert "stopped within its first 2s" in stopped and "no op counts" in stopped
