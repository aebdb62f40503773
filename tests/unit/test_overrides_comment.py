"""cli.overrides.apply_overrides: the 'effective values' comment stays one comment line
whatever the flag's value (a newline in --target used to end it and inject a YAML key)."""

from __future__ import annotations

import yaml

from sai3bench.cli.overrides import Overrides, apply_overrides

TEXT = "target: file:///a/\nduration: 30s\nconcurrency: 16\n"


def test_a_newline_in_a_value_stays_inside_the_comment() -> None:
    target = "file:///b/x\nconcurrency: 99"
    out = apply_overrides(TEXT, Overrides(target=target))
    raw = yaml.safe_load(out)
    assert raw == {"target": target, "duration": "30s", "concurrency": 16}
    lines = out.splitlines()
    assert lines[0].startswith("# effective values: the command line set --target")
    assert len(lines) == 1 + len(TEXT.splitlines())  # no line of its own for 'concurrency: 99'


def test_a_plain_value_is_shown_as_given() -> None:
    out = apply_overrides(TEXT, Overrides(duration="6s", concurrency=4))
    assert out.startswith(
        "# effective values: the command line set --duration 6s --concurrency 4\n"
    )
