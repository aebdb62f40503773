"""replay --remap rules (plan/remap.py): first match wins, every rule form, bad documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sai3bench.errors import ConfigError
from sai3bench.plan.remap import UriParts, load_remap, parse_remap


def test_uri_parts_round_trip() -> None:
    for uri, parts in [
        ("s3://b/p/q/k.dat", ("s3", "", "b", "p/q/k.dat")),
        ("s3://127.0.0.1:9000/b/k", ("s3", "127.0.0.1:9000", "b", "k")),
        ("file:///tmp/data/x", ("file", "", "tmp", "data/x")),
        ("direct:///tmp/data/x", ("direct", "", "tmp", "data/x")),
        ("az://acct/cont/k", ("az", "", "acct", "cont/k")),
    ]:
        assert UriParts.of(uri) == parts
        assert UriParts.of(uri).uri() == uri


def test_map_to_bucket_and_prefix_first_match_wins() -> None:
    remap = parse_remap(
        {
            "rules": [
                {
                    "match": {"bucket": "src", "prefix": "data/"},
                    "map_to": {"bucket": "dst", "prefix": "new/"},
                },
                {"match": {"bucket": "src"}, "map_to": {"bucket": "other"}},
                {"match": {"bucket": "src"}, "map_to": {"bucket": "never"}},
            ]
        }
    )
    assert remap("s3://src/data/sub/k") == "s3://dst/new/sub/k"
    assert remap("s3://src/logs/k") == "s3://other/logs/k"  # empty prefix keeps the path
    assert remap("s3://elsewhere/k") == "s3://elsewhere/k"  # no rule: as logged


def test_host_match_and_match_any() -> None:
    remap = parse_remap(
        {
            "rules": [
                {"match": {"host": "10.0.0.1:80"}, "map_to": {"bucket": "h"}},
                {
                    "match_any": [{"bucket": "a"}, {"bucket": "b"}],
                    "map_to": {"bucket": "ab", "prefix": "x/"},
                },
            ]
        }
    )
    assert remap("s3://10.0.0.1:80/b/k") == "s3://10.0.0.1:80/h/k"
    assert remap("s3://a/k") == "s3://ab/x/k"
    assert remap("s3://b/d/k") == "s3://ab/x/d/k"


def test_map_to_many_strategies() -> None:
    def rule(strategy: str) -> Any:
        many = {"targets": [{"bucket": "r1"}, {"bucket": "r2"}], "strategy": strategy}
        return parse_remap({"rules": [{"match": {"bucket": "s"}, "map_to_many": many}]})

    rr = rule("round_robin")
    assert [rr(f"s3://s/k{i}") for i in range(3)] == ["s3://r1/k0", "s3://r2/k1", "s3://r1/k2"]
    sticky = rule("sticky_key")
    assert {sticky("s3://s/same") for _ in range(5)} == {sticky("s3://s/same")}
    rnd = rule("random")
    assert {rnd(f"s3://s/k{i}").split("/")[2] for i in range(50)} == {"r1", "r2"}


def test_regex_with_dollar_groups() -> None:
    remap = parse_remap(
        {"rules": [{"regex": "^s3://prod-([^/]+)/(.*)$", "replace": "s3://staging-$1/${2}"}]}
    )
    assert remap("s3://prod-db/data/f.dat") == "s3://staging-db/data/f.dat"
    assert remap("s3://dev-db/f") == "s3://dev-db/f"


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([], "'rules:' list"),
        ({"rules": [], "extra": 1}, "unknown keys"),
        ({"rules": ["x"]}, "rules[0]: expected a mapping"),
        ({"rules": [{"match": {"bucket": "a"}}]}, "are not a rule"),
        (
            {"rules": [{"match": {"bukket": "a"}, "map_to": {"bucket": "b"}}]},
            "host, bucket, prefix",
        ),
        ({"rules": [{"match": {}, "map_to": {"prefix": "b"}}]}, "map_to: expected"),
        ({"rules": [{"regex": "(", "replace": "x"}]}, "rules[0].regex"),
        (
            {
                "rules": [
                    {"match": {}, "map_to_many": {"targets": [{"bucket": "a"}], "strategy": "x"}}
                ]
            },
            "strategy",
        ),
        ({"rules": [{"match": {"bucket": 3}, "map_to": {"bucket": "b"}}]}, "expected text"),
    ],
)
def test_bad_remap_documents_name_the_rule(doc: Any, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_remap(doc)


def test_load_remap_reads_yaml(tmp_path: Path) -> None:
    good = tmp_path / "r.yaml"
    good.write_text("rules:\n  - match: {bucket: a}\n    map_to: {bucket: b}\n")
    assert load_remap(good)("s3://a/k") == "s3://b/k"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(ConfigError, match="not YAML"):
        load_remap(bad)
    with pytest.raises(ConfigError, match="no such"):
        load_remap(tmp_path / "missing.yaml")
