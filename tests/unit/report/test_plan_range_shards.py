"""--dry-run says when range_engine is on (with its settings) and when keys are sharded."""

from __future__ import annotations

from sai3bench.config.load import load_config
from sai3bench.report.plan import format_plan

YAML = """
target: s3://b/p/
workload:
  - {op: get, path: "data/*", weight: 1}
prepare:
  ensure_objects: [{base_uri: data/, count: 10, size_spec: 1KiB}]
"""


def test_off_by_default_and_unsharded() -> None:
    text = format_plan(load_config(YAML).config, "c.yaml")
    assert "Range engine" not in text and "key_prefix_shards" not in text
    assert "s3://b/p/data/prepared-*.dat" in text


def test_range_engine_and_shards_are_shown() -> None:
    extra = (
        "range_engine: {enabled: true, chunk_size: 16MiB, max_concurrent_ranges: 4}\n"
        "prepare:\n  key_prefix_shards: 256\n"
        "  ensure_objects: [{base_uri: data/, count: 10, size_spec: 1KiB}]\n"
    )
    text = format_plan(load_config(YAML.split("prepare:")[0] + extra).config, "c.yaml")
    assert (
        "Range engine: on for s3://, gs://, az:// GETs of objects >= 16.00 MiB: ranges of "
        "16.00 MiB, 4 in flight per GET, 30s per range"
    ) in text
    assert "s3://b/p/data/*/prepared-*.dat" in text
    assert "key_prefix_shards: 256 (keys under 00/ .. ff/" in text
