"""perf_log and warmup_period in the YAML: parsed (no longer ignored), with one-line errors."""

from __future__ import annotations

import pytest

from sai3bench.config.load import load_config
from sai3bench.config.schema import PerfLog
from sai3bench.errors import ConfigError

WORKLOAD = "target: file:///t/\nworkload: [{op: get, path: 'a/*', weight: 1}]\n"


def test_defaults_write_a_1s_perf_log_without_warmup() -> None:
    loaded = load_config(WORKLOAD)
    assert loaded.config.perf_log == PerfLog(enabled=True, interval=1.0)
    assert loaded.config.warmup_period == 0.0
    assert loaded.warnings == ()


def test_interval_enabled_warmup_and_path_ignored() -> None:
    loaded = load_config(
        "duration: 30s\nwarmup_period: 5s\n"
        "perf_log: {interval: 500ms, enabled: false, path: /tmp/x.tsv}\n" + WORKLOAD
    )
    assert loaded.config.perf_log == PerfLog(enabled=False, interval=0.5)
    assert loaded.config.warmup_period == 5.0
    assert loaded.warnings == (
        "'perf_log.path' is ignored (as upstream standalone: the perf-log is "
        "<results_dir>/perf_log.tsv)",
    )


@pytest.mark.parametrize(
    ("yaml", "message", "hint"),
    [
        ("duration: 10s\nwarmup_period: 10s\n", "10s is not shorter than duration", "shorten"),
        ("warmup_period: 61s\n", "61s is not shorter than duration (60s)", "shorten"),
        ("perf_log: {interval: 10ms}\n", "0.01s is shorter than 100ms", "100ms or more"),
        ("perf_log: {intervall: 1s}\n", "perf_log.intervall: unknown key", "'interval'"),
        ("perf_log: {interval: soon}\n", "perf_log.interval", "duration such as"),
        ("perf_log:\n", "perf_log: expected a mapping, got None", "perf_log: {"),
        ("warmup_period:\n", "warmup_period", "duration such as"),
    ],
)
def test_bad_values_are_one_line(yaml: str, message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(yaml + WORKLOAD)
    assert message in str(info.value)
    assert hint in (info.value.hint or "")
