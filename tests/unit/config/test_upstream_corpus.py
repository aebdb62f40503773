"""The upstream-shaped corpus (tests/data/upstream_shaped/): one config per upstream feature or
shape, written for this project (upstream's own files are never copied). Each must load with
exactly the warnings its sidecar (expected.yaml) lists, and ``run --dry-run`` must exit 0 and
print the plan lines listed there: objects and bytes per prepare set, the tree's directories
and files, the op mix. A config that names its storage only per agent is refused in one line,
and runs with ``--target``.

Paths in the corpus are file:///tmp/sai3-corpus/... or s3://127.0.0.1:...: a dry run touches
nothing, and a slip into a real run could not reach anything outside this machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sai3bench.cli.overrides import Overrides
from sai3bench.cli.run import RunFlags, run_command
from sai3bench.config.load import load_config_file
from sai3bench.errors import ConfigError

CORPUS = Path(__file__).parents[2] / "data" / "upstream_shaped"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
CONFIGS = sorted(p.name for p in CORPUS.glob("*.yaml") if p.name != "expected.yaml")


def test_every_config_has_its_expectations_and_stays_local() -> None:
    assert sorted(EXPECTED) == CONFIGS
    assert len(CONFIGS) >= 30
    for name in CONFIGS:
        lines = (CORPUS / name).read_text().splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        for scheme in ("s3://", "file://", "direct://", "gs://", "az://"):
            for uri in text.split(scheme)[1:]:
                assert uri.startswith(("/tmp/sai3-corpus/", "127.0.0.1:")), (name, uri[:40])


@pytest.mark.parametrize("name", CONFIGS)
def test_corpus_config_loads_with_exactly_its_warnings(name: str) -> None:
    want = EXPECTED[name]
    if "error" in want:
        with pytest.raises(ConfigError) as info:
            load_config_file(CORPUS / name)
        assert info.value.msg == want["error"]
        return
    assert list(load_config_file(CORPUS / name).warnings) == want["warnings"]


@pytest.mark.parametrize("name", [n for n in CONFIGS if "error" not in EXPECTED[n]])
def test_corpus_dry_run_prints_the_plan(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(CORPUS / name, RunFlags(dry_run=True)) == 0
    out = capsys.readouterr().out
    assert out.startswith("Dry run: the plan below was computed from the config")
    for line in EXPECTED[name]["plan"]:
        assert line in out, (line, out)


def test_per_agent_config_runs_with_target(capsys: pytest.CaptureFixture[str]) -> None:
    """What the refusal's hint says to do works: --target names one namespace for all."""
    name = "per_agent_target.yaml"
    with pytest.raises(ConfigError) as info:
        load_config_file(CORPUS / name)
    assert "--target file:///tmp/sai3-corpus/agent1/" in (info.value.hint or "")
    target = "file:///tmp/sai3-corpus/one/"
    flags = RunFlags(dry_run=True, overrides=Overrides(target=target))
    assert run_command(CORPUS / name, flags) == 0
    out = capsys.readouterr().out
    assert f"[0] {target}prepared-*.dat  10 x fixed 1.00 KiB" in out
    assert f"GET - 100.0% (weight: 100)  {target}*" in out
