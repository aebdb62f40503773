"""config.load: YAML text -> Config, with one-line errors that name the YAML path and a hint."""
# ruff: noqa: E501 - the upstream example configs at the end are quoted with their long lines

from __future__ import annotations

import textwrap

import msgspec
import pytest

from sai3bench.config.load import LoadedConfig, load_config, load_config_file
from sai3bench.config.schema import (
    Config,
    EnsureObjects,
    GetOp,
    ListOp,
    Prepare,
    PutOp,
    StatOp,
)
from sai3bench.config.sizespec import FixedSize, LognormalSize, UniformSize
from sai3bench.errors import ConfigError

MIB = 1048576
GET = "{op: get, path: 'data/*', weight: 100}"


def load(text: str) -> LoadedConfig:
    return load_config(textwrap.dedent(text))


def load_error(text: str) -> ConfigError:
    """Load text that must fail; check the error contract (one line, a hint) on the way."""
    with pytest.raises(ConfigError) as info:
        load(text)
    err = info.value
    assert "\n" not in err.msg
    assert err.hint
    assert "\n" not in err.hint
    return err


def put_spec(size_yaml: str):
    """The size_spec a put op ends up with, given the YAML of its size keys."""
    cfg = load(f"target: file:///t/\nworkload: [{{op: put, path: p/, weight: 1, {size_yaml}}}]")
    op = cfg.config.workload[0]
    assert isinstance(op, PutOp)
    return op.size_spec


def ensure(entry_yaml: str) -> EnsureObjects:
    text = f"""
    target: file:///t/
    prepare:
      ensure_objects:
        - {{base_uri: data/, {entry_yaml}}}
    workload: [{GET}]
    """
    prepare = load(text).config.prepare
    assert prepare is not None
    return prepare.ensure_objects[0]


# --- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size_yaml", "spec"),
    [
        ("object_size: 131072", FixedSize(size=131072)),
        ("object_size: 8MB", FixedSize(size=8_000_000)),
        ("object_size: 8MiB", FixedSize(size=8 * MIB)),
        ("object_size: 1.5GB", FixedSize(size=1_500_000_000)),
        ("object_size: '1 MiB'", FixedSize(size=MIB)),
        ("object_size: 64k", FixedSize(size=64_000)),
        ("object_size: 64Ki", FixedSize(size=65536)),
        ("size_spec: 4096", FixedSize(size=4096)),
        ("size_spec: 32KiB", FixedSize(size=32768)),
        ("size_distribution: 131072", FixedSize(size=131072)),
        ("size_spec: {type: fixed, size: 4KiB}", FixedSize(size=4096)),
        ("size_spec: {type: uniform, min: 1KiB, max: 1MiB}", UniformSize(min=1024, max=MIB)),
        ("size_spec: {type: uniform}", UniformSize(min=1024, max=1048576)),
        ("size_spec: {type: uniform, min: 4096, max: 4096}", UniformSize(min=4096, max=4096)),
        (
            "size_distribution: {type: lognormal, mean: 1MiB, std_dev: 512KiB, min: 100KB, max: 5MB}",
            LognormalSize(mean=MIB, std_dev=524288, min=100_000, max=5_000_000),
        ),
        (
            "size_spec: {type: lognormal, mean: 4096, std_dev: 0}",
            LognormalSize(mean=4096, std_dev=0),
        ),
    ],
)
def test_put_size_forms(size_yaml, spec):
    assert put_spec(size_yaml) == spec


def test_object_size_is_kept_and_wins_over_size_spec():
    cfg = load(
        "target: file:///t/\nworkload: [{op: put, path: p/, weight: 1, object_size: 2KiB,"
        " size_spec: {type: uniform, min: 1, max: 9}}]"
    )
    op = cfg.config.workload[0]
    assert isinstance(op, PutOp)
    assert (op.object_size, op.size_spec) == (2048, FixedSize(size=2048))
    assert cfg.warnings == (
        "'workload[0].size_spec' is ignored: object_size takes precedence (as upstream)",
    )


@pytest.mark.parametrize(
    ("entry_yaml", "spec", "min_max"),
    [
        ("min_size: 102400, max_size: 102400", FixedSize(size=102400), (102400, 102400)),
        ("min_size: 1KiB, max_size: 1MiB", UniformSize(min=1024, max=MIB), (1024, MIB)),
        ("", FixedSize(size=MIB), (None, None)),
        ("min_size: 4KiB", UniformSize(min=4096, max=MIB), (4096, None)),
        ("max_size: 2MiB", UniformSize(min=MIB, max=2 * MIB), (None, 2 * MIB)),
        ("size_spec: 1024", FixedSize(size=1024), (None, None)),
        (
            "size_distribution: {type: uniform, min: 1, max: 2}",
            UniformSize(min=1, max=2),
            (None, None),
        ),
    ],
)
def test_ensure_size_forms(entry_yaml, spec, min_max):
    entry = ensure(f"count: 10, {entry_yaml}")
    assert entry.size_spec == spec
    assert (entry.min_size, entry.max_size) == min_max


@pytest.mark.parametrize(
    ("size_yaml", "path", "words"),
    [
        ("object_size: 0", "workload[0].object_size", "a size of 0 is not allowed"),
        ("object_size: -5", "workload[0].object_size", "negative"),
        ("object_size: 12XB", "workload[0].object_size", "unknown size unit 'xb'"),
        ("object_size: 1.5", "workload[0].object_size", "expected bytes"),
        ("object_size: true", "workload[0].object_size", "boolean"),
        ("size_spec: 0", "workload[0].size_spec", "a size of 0"),
        ("size_spec: {type: fixed}", "workload[0].size_spec.size", "missing required key"),
        ("size_spec: {type: fixed, size: 0}", "workload[0].size_spec.size", "a size of 0"),
        (
            "size_spec: {type: uniform, min: 2MiB, max: 1MiB}",
            "workload[0].size_spec.min",
            "min (2097152) is larger than max (1048576)",
        ),
        ("size_spec: {type: uniform, max: 512}", "workload[0].size_spec.min", "min (1024)"),
        (
            "size_spec: {type: lognormal, mean: 1MiB}",
            "workload[0].size_spec.std_dev",
            "missing required key",
        ),
        (
            "size_spec: {type: lognormal, mean: 0, std_dev: 1}",
            "workload[0].size_spec.mean",
            "a size of 0",
        ),
        (
            "size_spec: {type: lognormal, mean: 1MiB, std_dev: 1x}",
            "workload[0].size_spec.std_dev",
            "unknown size unit 'x'",
        ),
        (
            "size_spec: {type: normal, mean: 1}",
            "workload[0].size_spec.type",
            "unknown size type 'normal'",
        ),
        ("size_spec: {fixed: 32KB}", "workload[0].size_spec", "missing 'type'"),
        (
            "size_spec: 1, size_distribution: 2",
            "workload[0].size_distribution",
            "given together with size_spec",
        ),
    ],
)
def test_put_size_errors(size_yaml, path, words):
    err = load_error(
        f"target: file:///t/\nworkload: [{{op: put, path: p/, weight: 1, {size_yaml}}}]"
    )
    assert err.msg.startswith(f"{path}: ")
    assert words in err.msg


@pytest.mark.parametrize(
    ("entry_yaml", "path", "words"),
    [
        (
            "min_size: 2MiB, max_size: 1MiB",
            "min_size",
            "min_size (2097152) is larger than max_size",
        ),
        ("min_size: 2MiB", "min_size", "max_size (1048576)"),
        ("min_size: 0, max_size: 1", "min_size", "a size of 0"),
        ("max_size: 1QB", "max_size", "unknown size unit"),
        ("size_spec: {type: uniform, min: 9, max: 1}", "size_spec.min", "larger than max"),
    ],
)
def test_ensure_size_errors(entry_yaml, path, words):
    err = load_error(f"""
        target: file:///t/
        prepare: {{ensure_objects: [{{base_uri: d/, count: 1, {entry_yaml}}}]}}
        workload: [{GET}]
        """)
    assert err.msg.startswith(f"prepare.ensure_objects[0].{path}: ")
    assert words in err.msg


# --- durations, counts, seconds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), (90, 90.0), ("1.5s", 1.5)],
)
def test_duration(value, seconds):
    assert (
        load(f"duration: {value}\ntarget: file:///t/\nworkload: [{GET}]").config.duration == seconds
    )


def test_defaults():
    cfg = load(f"target: file:///t\nworkload: [{GET}]").config
    assert (cfg.duration, cfg.concurrency, cfg.prepare) == (60.0, 16, None)
    assert cfg.error_handling.backoff_duration == 5.0
    assert cfg.workload == (GetOp(path="file:///t/data/*", weight=100),)


def test_error_handling_and_prepare_units():
    cfg = load(f"""
        target: file:///t/
        error_handling: {{backoff_duration: 2m, error_rate_window: 500ms, max_retries: 5}}
        prepare:
          post_prepare_delay: 2m
          ensure_objects: [{{base_uri: d/, count: "1,000,000", size_spec: 1KiB}}]
        workload: [{GET}]
        """).config
    eh = cfg.error_handling
    assert (eh.backoff_duration, eh.error_rate_window, eh.max_retries) == (120.0, 0.5, 5)
    assert cfg.prepare is not None
    assert cfg.prepare.post_prepare_delay == 120.0
    assert cfg.prepare.ensure_objects[0].count == 1_000_000


@pytest.mark.parametrize(
    ("count", "expected"),
    [("'1,000,000'", 1_000_000), ("1_000_000", 1_000_000), ("'250 000'", 250_000), ("1000", 1000)],
)
def test_count_separators(count, expected):
    assert ensure(f"count: {count}").count == expected


# --- URIs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "path", "resolved"),
    [
        ("file:///t/", "data/*", "file:///t/data/*"),
        ("file:///t", "/", "file:///t/"),
        ("s3://b/bench/", "smoke/", "s3://b/bench/smoke/"),
        ("gcs://b", "x/", "gs://b/x/"),
        ("azure://acct/cont/", "x", "az://acct/cont/x"),
        ("s3://b/", "file:///abs/x", "file:///abs/x"),
        ("direct:///mnt/d/", "", "direct:///mnt/d/"),
    ],
)
def test_paths_resolve_against_target(target, path, resolved):
    cfg = load(f"target: '{target}'\nworkload: [{{op: stat, path: '{path}', weight: 1}}]").config
    assert cfg.workload == (StatOp(path=resolved, weight=1),)


def test_target_alias_is_normalised():
    assert load(f"target: gcs://b/\nworkload: [{GET}]").config.target == "gs://b/"


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        (
            "workload: [{op: get, path: data/, weight: 1}]",
            "workload[0].path",
            "relative path needs a top-level target (got 'data/')",
        ),
        (
            "target: file://rel/t\nworkload: [{op: get, path: d, weight: 1}]",
            "target",
            "must be absolute",
        ),
        ("target: /tmp/t\nworkload: [{op: get, path: d, weight: 1}]", "target", "no scheme"),
        (
            "workload: [{op: get, path: 'http://h/x', weight: 1}]",
            "workload[0].path",
            "unknown scheme 'http'",
        ),
        ("workload: [{op: get, path: 's3:///x', weight: 1}]", "workload[0].path", "no bucket"),
        ("workload: [{op: get, path: 5, weight: 1}]", "workload[0].path", "expected a URI string"),
        (
            "prepare: {ensure_objects: [{base_uri: d/, count: 1}]}\n"
            "workload: [{op: get, path: 'file:///x', weight: 1}]",
            "prepare.ensure_objects[0].base_uri",
            "relative path needs a top-level target",
        ),
    ],
)
def test_uri_errors(text, path, words):
    err = load_error(text)
    assert err.msg.startswith(f"{path}: ")
    assert words in err.msg


# --- error messages, one kind at a time ----------------------------------------------------------


def ops(*items: str) -> str:
    """A config with a target and these workload items (flow YAML, braces added)."""
    return "target: file:///t/\nworkload: [" + ", ".join(f"{{{i}}}" for i in items) + "]"


def put(extra: str) -> str:
    return ops(f"op: put, path: d, weight: 1, {extra}")


def top(extra: str) -> str:
    """A valid config plus extra top-level YAML (may be several lines)."""
    return f"{extra}\ntarget: file:///t/\nworkload: [{GET}]"


def entry(fields: str) -> str:
    return top(f"prepare: {{ensure_objects: [{{{fields}}}]}}")


@pytest.mark.parametrize(
    ("text", "msg", "hint_has"),
    [
        # unknown keys, with a did-you-mean at each level
        (top("durration: 5s"), "durration: unknown key", "did you mean 'duration'?"),
        (
            ops("op: get, path: d, weight: 1", "op: get, path: d, wieght: 1"),
            "workload[1].wieght: unknown key",
            "did you mean 'weight'?",
        ),
        (
            put("size_spec: {type: lognormal, mean: 1, stddev: 1}"),
            "workload[0].size_spec.stddev: unknown key",
            "did you mean 'std_dev'?",
        ),
        (
            entry("base_uri: d/, count: 1, fil: zero"),
            "prepare.ensure_objects[0].fil: unknown key",
            "did you mean 'fill'?",
        ),
        (
            top("prepare: {cleanup_mod: strict}"),
            "prepare.cleanup_mod: unknown key",
            "did you mean 'cleanup_mode'?",
        ),
        (
            top("error_handling: {max_retry: 1}"),
            "error_handling.max_retry: unknown key",
            "did you mean 'max_retries'?",
        ),
        (
            top("zzz: 1"),
            "zzz: unknown key",
            "valid keys here: concurrency, distributed, duration, dynamic_put_pool, error_handling, "
            "io_rate, multi_endpoint, op_log_path, page_cache_mode, perf_log, prepare, processes, "
            "range_engine, target, warmup_period, workload; or run with --ignore-unknown-keys",
        ),
        # a key that belongs to another op or size type
        (
            ops("op: get, path: d, weight: 1, object_size: 1"),
            "workload[0].object_size: not valid here",
            "only put ops take 'object_size'",
        ),
        (
            put("size_spec: {type: uniform, mean: 1}"),
            "workload[0].size_spec.mean: not valid here",
            "only lognormal size specs take 'mean'",
        ),
        # ops
        (ops("op: gett, path: d, weight: 1"), "workload[0].op: unknown op 'gett'", "mean 'get'?"),
        (ops("op: GET, path: d, weight: 1"), "workload[0].op: unknown op 'GET'", "mean 'get'?"),
        (
            ops("path: d, weight: 1"),
            "workload[0]: missing 'op'",
            "one of get, put, list, stat, delete",
        ),
        (
            put("concurrency: 2"),
            "workload[0]: put needs object_size or size_spec",
            "add object_size",
        ),
        (
            put("size: 4096"),
            "workload[0]: put needs object_size or size_spec",
            "rename 'size' to 'object_size'",
        ),
        (
            put("file_size: 4096"),
            "workload[0]: put needs object_size or size_spec",
            "rename 'file_size' to 'object_size'",
        ),
        # workload shape and weights
        ("target: file:///t/", "workload: missing", "add a workload: list"),
        ("target: file:///t/\nworkload: []", "workload: is empty", "add at least one op"),
        (
            "target: file:///t/\nworkload: {op: get}",
            "workload: expected a list, got {'op': 'get'}",
            "'- item' lines",
        ),
        ("workload: [get]", "workload[0]: expected a mapping, got 'get'", "key: value"),
        (
            ops("op: get, path: d, weight: 0", "op: list, path: d, weight: 0"),
            "workload: the total weight is 0",
            "weight > 0",
        ),
        (
            ops("op: get, path: d, weight: -1"),
            "workload[0].weight: expected `int` >= 0 (got -1)",
            "whole number >= 0",
        ),
        (ops("op: get, path: d"), "workload[0].weight: missing required key", "add weight: 100"),
        (ops("op: get, weight: 1"), "workload[0].path: missing required key", "add path:"),
        (
            ops("op: get, path: d, weight: 1, concurrency: 0"),
            "workload[0].concurrency: expected `int` >= 1 (got 0)",
            "whole number >= 1",
        ),
        (
            put("object_size: 1, dedup_factor: 0"),
            "workload[0].dedup_factor: expected `int` >= 1 (got 0)",
            ">= 1",
        ),
        (
            put("object_size: 1, compress_factor: 1.5"),
            "workload[0].compress_factor: expected `int`, got `float`: 1.5",
            "whole number",
        ),
        # top-level values
        (top("concurrency: '16'"), "concurrency: expected `int`, got `str`: '16'", "whole number"),
        (top("duration: 5x"), "duration: unknown duration unit 'x' in '5x'", "30s, 5m"),
        (
            top("error_handling: {backoff_duration: soon}"),
            "error_handling.backoff_duration: not a duration: 'soon'",
            "30s",
        ),
        (
            top("error_handling: {retry_on_error: maybe}"),
            "error_handling.retry_on_error: expected `bool`, got `str`: 'maybe'",
            "true or false",
        ),
        # prepare values
        (
            entry("base_uri: d/, count: 1, fill: rand"),
            "prepare.ensure_objects[0].fill: invalid enum value 'rand'",
            "did you mean 'prand'?",
        ),
        (
            top("prepare: {cleanup_mode: careful}"),
            "prepare.cleanup_mode: invalid enum value 'careful'",
            "strict, tolerant",
        ),
        (
            entry("base_uri: d/, count: lots"),
            "prepare.ensure_objects[0].count: not a count: 'lots'",
            "1,000,000",
        ),
        (
            entry("base_uri: d/"),
            "prepare.ensure_objects[0].count: missing required key",
            "add count:",
        ),
        (
            top("prepare: {post_prepare_delay: 1.5s}"),
            "prepare.post_prepare_delay: not whole seconds: '1.5s'",
            "'30s'",
        ),
        (
            top("prepare: {ensure_objects: {base_uri: d/}}"),
            "prepare.ensure_objects: expected a list",
            "'- item'",
        ),
        (top("prepare: 5"), "prepare: expected a mapping, got 5", "key: value"),
        # document shape
        (
            "workload: [1,\nb: 2",
            "YAML syntax error at line 3, column 1: did not find expected ',' or ']'",
            "indentation",
        ),
        ("a: b: c", "YAML syntax error at line 1, column 5: mapping values are not", "colons"),
        ("", "the config must be a mapping of keys, got an empty document", "workload:"),
        ("- a\n- b", "the config must be a mapping of keys, got a list", "top-level keys"),
    ],
)
def test_error_messages(text, msg, hint_has):
    err = load_error(text)
    assert err.msg.startswith(msg), err.msg
    assert hint_has in (err.hint or ""), err.hint


def test_non_utf8_bytes():
    with pytest.raises(ConfigError, match=r"^the config is not valid UTF-8 .*0xff on line 1") as e:
        load_config(b"workload: \xff\xfe")
    assert e.value.hint


# --- duplicate keys (issue 8 item 12: the last one silently won) ---------------------------------


@pytest.mark.parametrize(
    "text,key,lines",
    [
        ("duration: 10\nconcurrency: 2\nduration: 30\n", "duration", "lines 1 and 3"),
        ("workload:\n- {op: get, path: a, weight: 1, weight: 2}\n", "weight", "line 2 (twice)"),
        ("prepare:\n  cleanup: true\n  cleanup: false\n", "cleanup", "lines 2 and 3"),
        ("a: 1\n? a\n: 2\n", "a", "lines 1 and 2"),
    ],
)
def test_a_duplicate_key_is_an_error_naming_both_lines(text, key, lines):
    err = load_error(text + f"target: file:///t/\nworkload_: [{GET}]\n")
    assert err.msg == f"duplicate key {key!r} on {lines}"


def test_merge_keys_may_be_overridden():
    loaded = load("""
    target: file:///t/
    version: &d {op: get, path: a, weight: 1}
    workload:
      - <<: *d
        weight: 5
    """)
    assert loaded.config.workload[0].weight == 5


# --- ignored keys -------------------------------------------------------------------------------


def test_ignored_keys_warn_in_document_order():
    loaded = load("""
        version: 1
        backend: s3
        io_rate: {iops: 100}
        target: file:///t/
        cleanup: {enabled: true}
        warmup_period: 10s
        prepare:
          ensure_objects: [{base_uri: d/, count: 0}]
        workload:
          - {op: get, path: d, weight: 1, use_multi_endpoint: true}
          - {op: put, path: d, weight: 1, object_size: 1, size: 4096}
        """)
    assert loaded.warnings == (
        "'version' is ignored (upstream no-op)",
        "'backend' is ignored (upstream no-op)",
        "'cleanup' is ignored (upstream no-op; prepare.cleanup is the one that counts)",
        "'workload[0].use_multi_endpoint' has no effect: no multi_endpoint block",
        "'workload[1].size' is ignored (upstream no-op; object_size sets it)",
    )
    assert loaded.config.prepare == Prepare(
        ensure_objects=(
            EnsureObjects(base_uri="file:///t/d/", count=0, size_spec=FixedSize(size=MIB)),
        )
    )


def test_min_max_with_size_spec_warns():
    text = f"""
        target: file:///t/
        prepare: {{ensure_objects: [{{base_uri: d/, count: 1, min_size: 1, size_spec: 4096}}]}}
        workload: [{GET}]
        """
    assert load(text).warnings == (
        "'prepare.ensure_objects[0].min_size' is ignored: size_spec takes precedence (as upstream)",
    )


# --- upstream example configs (sai3bench-features.md section 2.14) ------------------------------
# Quoted as upstream writes them (long flow lines included); excerpts completed with a target.

EXAMPLES = {
    "put_smoke": (
        """
        {duration: 3s, concurrency: 8, target: "s3://my-bucket2/bench/",
         workload: [{weight: 100, op: put, path: "smoke/", object_size: 131072}]}
        """,
        (),
    ),
    "test-cleanup-2k": (
        """
        duration: "1s"
        concurrency: 32
        target: "file:///tmp/sai3bench-cleanup-test/"
        prepare:
          ensure_objects:
            - base_uri: "file:///tmp/sai3bench-cleanup-test/data/"
              count: 2000
              min_size: 102400   # 100 KiB
              max_size: 102400
              fill: random
          cleanup: true
        workload:
          - op: get
            path: "data/*"
            weight: 100
        """,
        (),
    ),
    "size_distributions": (
        """
        target: "file:///tmp/io-bench-sizetest/"
        prepare:
          ensure_objects:
            - base_uri: "file:///tmp/io-bench-sizetest/small/"
              count: 50
              size_distribution: {type: lognormal, mean: 4096, std_dev: 2048, min: 1024, max: 16384}
              fill: zero
        workload:
          - weight: 20
            op: put
            path: "lognormal/"
            size_distribution: {type: lognormal, mean: 1048576, std_dev: 524288, min: 102400, max: 5242880}
        """,
        (),
    ),
    "per_op_concurrency": (
        """
        target: "file:///tmp/perop/"
        concurrency: 16
        workload:
          - {weight: 60, op: get, path: "data/*", concurrency: 64}
          - {weight: 40, op: put, path: "output/", object_size: 524288, concurrency: 4}
        """,
        (),
    ),
    "dedupe_compress": (
        """
        target: "file:///tmp/sai3bench-dedupe-test/"
        prepare:
          ensure_objects:
            - {base_uri: "file:///tmp/sai3bench-dedupe-test/dedupe/", count: 50, size_distribution: 131072, fill: random, dedup_factor: 3, compress_factor: 2}
        workload:
          - {weight: 100, op: get, path: "dedupe/*"}
        """,
        (),
    ),
    "rate_1000_exponential": (
        """
        duration: 10s
        concurrency: 8
        io_rate: {iops: 1000, distribution: exponential}
        target: "file:///tmp/sai3bench-rate-test"
        prepare:
          ensure_objects:
            - {base_uri: "file:///tmp/sai3bench-rate-test/data/", count: 100, min_size: 4096, max_size: 4096, fill: random}
        workload:
          - {weight: 100, op: get, path: "data/"}
        """,
        (),
    ),
    "page_cache_auto": (
        """
        target: file:///tmp/sai3bench-page-cache-test/
        page_cache_mode: auto
        prepare:
          ensure_objects:
            - {base_uri: "data/", count: 100, min_size: 1048576, max_size: 1048576, fill: zero}
        workload:
          - {op: get, path: "data/*", weight: 100}
        """,
        (),
    ),
    "multi_endpoint_file": (
        """
        multi_endpoint:
          strategy: round_robin
          endpoints: [file:///tmp/ep1/, file:///tmp/ep2/, file:///tmp/ep3/, file:///tmp/ep4/]
        prepare:
          ensure_objects:
            - {base_uri: "file:///tmp/ep1/testdata/", count: 100, min_size: 4096, max_size: 4096, fill: random}
        workload:
          - {op: get, path: "file:///tmp/ep1/testdata/*", weight: 70}
          - {op: put, path: "file:///tmp/ep1/testdata/", object_size: 4096, weight: 30}
        """,
        (),
    ),
    "tree_test_basic": (
        """
        version: 1
        target: "file:///mnt/test/sai3bench-tree-basic"
        prepare:
          directory_structure: {width: 3, depth: 2, files_per_dir: 5, distribution: "bottom", dir_mask: "d%d_w%d.dir"}
          ensure_objects:
            - base_uri: "file:///mnt/test/sai3bench-tree-basic"
              count: 0
              size_spec: {type: "uniform", min: 1024, max: 4096}
        workload:
          - {op: get, path: "/", weight: 50}
          - {op: put, path: "/", object_size: 2048, weight: 30}
          - {op: stat, path: "/", weight: 20}
        """,
        ("'version' is ignored (upstream no-op)",),
    ),
    "local_1kb_put_test": (
        """
        target: file:///tmp/local-1kb/
        concurrency: 256
        duration: 5s
        enable_metadata_cache: false
        prepare:
          prepare_strategy: parallel
          ensure_objects: [{base_uri: "prep/", count: 100000, size_spec: 1024}]
        workload:
          - {op: put, path: "", object_size: 1024, weight: 100}
        """,
        (
            "'enable_metadata_cache' is ignored (no KV metadata cache here: prepare lists the "
            "store on each run (upstream's cache writes sai3-kv-cache.tar.zst into the data "
            "prefix, where a GET glob then finds it))",
        ),
    ),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_upstream_examples_load(name):
    text, warnings = EXAMPLES[name]
    loaded = load(text)
    assert loaded.warnings == warnings
    assert isinstance(loaded.config, Config)


def test_example_shapes():
    """Spot-check what two examples turn into, field by field."""
    cleanup = load(EXAMPLES["test-cleanup-2k"][0]).config
    assert (cleanup.duration, cleanup.concurrency) == (1.0, 32)
    assert cleanup.prepare == Prepare(
        ensure_objects=(
            EnsureObjects(
                base_uri="file:///tmp/sai3bench-cleanup-test/data/",
                count=2000,
                size_spec=FixedSize(size=102400),
                min_size=102400,
                max_size=102400,
            ),
        ),
        cleanup=True,
    )
    assert cleanup.workload == (
        GetOp(path="file:///tmp/sai3bench-cleanup-test/data/*", weight=100),
    )
    tree = load(EXAMPLES["tree_test_basic"][0]).config
    assert [op.path for op in tree.workload] == ["file:///mnt/test/sai3bench-tree-basic/"] * 3
    perop = load(EXAMPLES["per_op_concurrency"][0]).config
    assert [op.concurrency for op in perop.workload] == [64, 4]


# --- files and the schema's own guards -----------------------------------------------------------


def test_load_config_file(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(f"target: file:///t/\nworkload: [{GET}]\n")
    assert load_config_file(path).config.workload[0].path == "file:///t/data/*"
    assert load_config_file(str(path)).warnings == ()


def test_load_config_file_missing(tmp_path):
    with pytest.raises(ConfigError, match="no such config file") as info:
        load_config_file(tmp_path / "nope.yaml")
    assert info.value.hint


def test_load_config_file_unreadable(tmp_path):
    with pytest.raises(ConfigError, match="is a directory, not a config file") as info:
        load_config_file(tmp_path)  # a directory
    assert info.value.hint


def test_schema_guards_without_the_loader():
    """A Config built in code obeys the same cross-field rules as a loaded one."""
    with pytest.raises(ValueError, match="total weight is 0"):
        Config(workload=(ListOp(path="file:///t/", weight=0),))
    with pytest.raises(ValueError, match="min_size"):
        EnsureObjects(
            base_uri="file:///t/", count=1, size_spec=FixedSize(size=1), min_size=5, max_size=4
        )
    with pytest.raises(msgspec.ValidationError, match="total weight is 0"):
        msgspec.convert({"workload": [{"op": "list", "path": "file:///t/", "weight": 0}]}, Config)


def test_config_is_frozen():
    cfg = load(f"target: file:///t/\nworkload: [{GET}]").config
    with pytest.raises(AttributeError):
        cfg.duration = 1.0  # type: ignore[misc]


# --- nesting (a segmentation fault at 50,000 levels of brackets or '- ') -------------------------


def test_deep_bracket_nesting_is_refused_before_yaml_sees_it():
    text = "target: file:///t/\nworkload: " + "[" * 50_000 + "]" * 50_000 + "\n"
    err = load_error(text)
    assert err.msg == "YAML nested more than 64 levels deep (line 2)"


@pytest.mark.parametrize("depth", [65, 1_000])
def test_deep_block_nesting_is_refused_too(depth):
    """``- - - x`` nests a level every 2 bytes with no bracket: 1,000 levels raised RecursionError
    (a traceback) when the message printed the value, 50,000 crashed the composer (SIGSEGV)."""
    text = "target: file:///t/\nworkload:\n  - " + "- " * depth + "x\n"
    assert load_error(text).msg == "YAML nested more than 64 levels deep (line 3)"


def test_nesting_up_to_the_limit_and_brackets_in_quotes_pass():
    deep = "[" * 60 + "]" * 60
    loaded = load(f"""
    target: file:///t/
    objects: {deep}
    workload: [{{op: get, path: 'a/[]{{}}]]]]]]/b', weight: 1}}]
    """)
    assert loaded.config.workload[0].path == "file:///t/a/[]{}]]]]]]/b"


@pytest.mark.parametrize(
    "yaml_line,path",
    [
        ("duration: 99999999999999999999999w", "duration"),
        ("duration: 367d", "duration"),
        ("error_handling: {backoff_duration: 400d}", "error_handling.backoff_duration"),
        ("prepare: {post_prepare_delay: 99999999999999999999d}", "prepare.post_prepare_delay"),
    ],
)
def test_durations_longer_than_a_year_are_refused(yaml_line, path):
    err = load_error(f"target: file:///t/\n{yaml_line}\nworkload: [{GET}]\n")
    assert err.msg.startswith(f"{path}: ") and err.msg.endswith("is longer than 366 days")


def test_a_year_is_fine():
    assert load(f"target: file:///t/\nduration: 366d\nworkload: [{GET}]\n").config.duration == (
        366 * 86400
    )


# --- values PyYAML builds with Python's own limits (tracebacks before) ---------------------------


@pytest.mark.parametrize(
    "value",
    ["1" * 5000, "0x" + "f" * 4000, "-" + "9" * 41, "1" * 81],
)
def test_integers_longer_than_40_digits_are_refused(value):
    err = load_error(f"target: file:///t/\nconcurrency: {value}\nworkload: [{GET}]\n")
    assert err.msg == "the integer on line 2 has more than 40 digits"


def test_a_count_of_2_64_still_reaches_its_own_check():
    loaded = load(
        f"target: s3://b/\nprepare: {{ensure_objects: [{{base_uri: d/, count: {2**64}}}]}}\nworkload: [{GET}]\n"
    )
    assert loaded.config.prepare.ensure_objects[0].count == 2**64


def test_a_date_that_does_not_exist_is_one_line():
    err = load_error(f"target: file:///t/\nduration: 2001-13-45\nworkload: [{GET}]\n")
    assert err.msg.startswith("YAML value on line 2 cannot be read: month must be in 1..12")


@pytest.mark.parametrize(
    "yaml_line,hint",
    [
        ("error_handling: {max_total_errors: lots}", "use a whole number"),
        ("error_handling: {error_rate_threshold: lots}", "use a number"),
        ("workload: [{op: get, path: a, weight: 1, concurrency: 2.5}]", "use a whole number"),
    ],
)
def test_the_hint_is_for_the_type_expected_not_the_one_given(yaml_line, hint):
    """``expected `int | null`, got `str``` hinted "use a string", the type that was wrong."""
    workload = "" if yaml_line.startswith("workload") else f"\nworkload: [{GET}]"
    err = load_error(f"target: file:///t/\n{yaml_line}{workload}\n")
    assert err.hint == hint
