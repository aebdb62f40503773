"""Without -v, a logged warning reads like the console's own ``warning: ...`` lines."""

from __future__ import annotations

import logging

from sai3bench.cli.app import _UserFormatter


def test_a_warning_is_one_plain_line_without_the_module_name() -> None:
    record = logging.LogRecord(
        "sai3bench.engine.transient", logging.WARNING, __file__, 1, "LIST %s failed", ("x",), None
    )
    assert _UserFormatter().format(record) == "warning: LIST x failed"
