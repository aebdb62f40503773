"""cli.overrides.set_top_level on valid YAML shapes its line edit cannot handle: the value on
the next line, a quoted key, a flow mapping. Each must load with the override applied."""

from __future__ import annotations

import pytest
import yaml

from sai3bench.cli.overrides import Overrides, apply_overrides
from sai3bench.config.load import load_config

WORKLOAD = "workload:\n  - {op: get, path: 'd/*', weight: 1}\n"


@pytest.mark.parametrize(
    "text",
    [
        "target:\n  file:///tmp/a/\nduration: 1s\n" + WORKLOAD,
        '"target": file:///tmp/a/\nduration: 1s\n' + WORKLOAD,
        "{target: 'file:///tmp/a/', duration: 1s, workload: [{op: get, path: 'd/*', weight: 1}]}\n",
        "target: &t file:///tmp/a/\nduration: 1s\nnote_of: *t\n" + WORKLOAD,
    ],
    ids=["value-next-line", "quoted-key", "flow-mapping", "anchor-used"],
)
def test_override_applies_to_every_yaml_shape(text: str) -> None:
    out = apply_overrides(text, Overrides(target="file:///tmp/b/", duration="3s"))
    if "note_of" in text:  # not a config key: only the YAML is checked here
        raw = yaml.safe_load(out)
        assert raw["target"] == "file:///tmp/b/" and raw["note_of"] == "file:///tmp/a/"
        return
    config = load_config(out).config
    assert config.target == "file:///tmp/b/"
    assert config.duration == 3
    assert out.startswith("# effective values: the command line set --duration 3s --target")


def test_plain_layout_keeps_its_comments() -> None:
    text = "# mine\ntarget: file:///tmp/a/  # old\nduration: 1s\n" + WORKLOAD
    out = apply_overrides(text, Overrides(target="file:///tmp/b/"))
    assert "# mine" in out and "# old" in out
    assert load_config(out).config.target == "file:///tmp/b/"
