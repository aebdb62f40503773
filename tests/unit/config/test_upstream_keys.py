"""Upstream keys accepted with a reason, --ignore-unknown-keys, use_multi_endpoint, duration 0,
defaulted base_uri, and the one-line refusals (config/upstream_keys.py, config/walk.py)."""

from __future__ import annotations

import textwrap

import msgspec
import pytest

from sai3bench.cli.overrides import Overrides, check_overrides
from sai3bench.config.load import LoadedConfig, load_config
from sai3bench.engine.options import RunOptions
from sai3bench.engine.runner import idle_run_problem
from sai3bench.errors import ConfigError

GET = "{op: get, path: 'd/*', weight: 1}"
MULTI = "multi_endpoint: {endpoints: [file:///tmp/e1/, file:///tmp/e2/]}"


def load(text: str, *, lenient: bool = False) -> LoadedConfig:
    return load_config(textwrap.dedent(text), ignore_unknown_keys=lenient)


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(text)
    return info.value


# --- unknown keys ------------------------------------------------------------------------------


def test_unknown_key_is_refused_with_a_guess_and_the_way_out():
    err = error(f"target: file:///t/\nconcurency: 4\nworkload: [{GET}]")
    assert err.msg == "concurency: unknown key"
    assert "did you mean 'concurrency'?" in (err.hint or "")
    assert "--ignore-unknown-keys" in (err.hint or "")


def test_ignore_unknown_keys_warns_instead():
    loaded = load(
        "target: file:///t/\nconcurency: 4\nworkload: [{op: get, path: d, weight: 1, x: 1}]",
        lenient=True,
    )
    assert loaded.warnings == (
        "'concurency' is ignored: unknown key (--ignore-unknown-keys; did you mean 'concurrency'?)",
        "'workload[0].x' is ignored: unknown key (--ignore-unknown-keys; upstream ignores it too)",
    )
    assert loaded.config.concurrency == 16  # the typo is a default, as upstream: said above


@pytest.mark.parametrize(
    ("text", "path", "dropped"),
    [
        ("workload: [{op: get, path: d, wieght: 1}]", "workload[0].weight", "workload[0].wieght"),
        (
            f"prepare: {{ensure_objects: [{{cuont: 5}}]}}\nworkload: [{GET}]",
            "prepare.ensure_objects[0].count",
            "prepare.ensure_objects[0].cuont",
        ),
    ],
)
def test_ignore_unknown_keys_names_the_dropped_spelling_of_a_required_key(
    text: str, path: str, dropped: str
):
    with pytest.raises(ConfigError) as info:
        load(f"target: file:///t/\n{text}", lenient=True)
    err = info.value
    assert err.msg == f"{path}: missing required key ('{dropped}' was dropped as unknown)"
    assert err.hint == f"rename '{dropped}' to '{path.rsplit('.', 1)[1]}'"


def test_ignore_unknown_keys_also_drops_a_key_of_another_op():
    text = "target: file:///t/\nworkload: [{op: get, path: d, weight: 1, object_size: 4}]"
    err = error(text)
    assert err.msg == "workload[0].object_size: not valid here"
    assert err.hint is not None and err.hint.startswith("only put ops take 'object_size'; remove")
    assert "--ignore-unknown-keys" in err.hint
    (line,) = load(text, lenient=True).warnings
    assert line == (
        "'workload[0].object_size' is ignored: not valid here (--ignore-unknown-keys; only put "
        "ops take 'object_size')"
    )


# --- keys upstream carries and ignores: each with its reason -----------------------------------


@pytest.mark.parametrize(
    ("yaml", "warning"),
    [
        ("data_size: 4096", "'data_size' is ignored (upstream has no such key and ignores it too"),
        ("record_count: 9", "'record_count' is ignored (upstream has no such key"),
        ("force_overwrite: true", "'force_overwrite' is ignored: upstream reads prepare."),
        ("perf_log: {interval_seconds: 1}", "'perf_log.interval_seconds' is ignored (upstream"),
        ("enable_metadata_cache: false", "'enable_metadata_cache' is ignored (no KV metadata"),
        ("cache_checkpoint_interval_secs: 60", "'cache_checkpoint_interval_secs' is ignored (it"),
        ("autotune: {threads: [1, 2]}", "'autotune' is ignored (read only by upstream's autotune"),
        ("processing_mode: multi_process", "'processing_mode' is ignored (sai3bench always runs"),
        ("prepare: {enabled: true}", "'prepare.enabled' is ignored (upstream has no such key"),
        ("prepare: {strategy: tree}", "'prepare.strategy' is ignored (upstream has no such key"),
        ("prepare: {tree: {width: 2}}", "'prepare.tree' is ignored (upstream has no such key"),
        (
            "prepare: {file_size: {dist: uniform, min: 1, max: 2}}",
            "'prepare.file_size' is ignored (upstream no-op: object sizes come from ensure",
        ),
        (
            "prepare: {fill: random, directory_structure: {width: 2, depth: 1}}",
            "'prepare.fill' is ignored (upstream no-op: tree file sizes come from ensure_objects",
        ),
        (
            "prepare: {ensure_objects: [{base_uri: d/, count: 1, size: 1KiB}]}",
            "'prepare.ensure_objects[0].size' is ignored (upstream no-op: objects are 1 MiB",
        ),
    ],
)
def test_upstream_keys_warn_with_their_reason(yaml: str, warning: str):
    warnings = load(f"target: file:///t/\n{yaml}\nworkload: [{GET}]").warnings
    assert len(warnings) == 1 and warnings[0].startswith(warning), warnings


def test_fill_on_a_put_is_an_upstream_no_op():
    text = (
        "target: file:///t/\nworkload: [{op: put, path: p/, object_size: 1, weight: 1, fill: zero}]"
    )
    (line,) = load(text).warnings
    assert line.startswith("'workload[0].fill' is ignored (upstream no-op")


def test_put_without_path_goes_under_the_target():
    """Upstream's PUT ``path`` defaults to "" (features §2.3: with multi_endpoint, endpoints[0])."""
    loaded = load(f"{MULTI}\nworkload: [{{op: put, object_size: 1, weight: 1}}]")
    assert loaded.config.workload[0].path == "file:///tmp/e1/"


def test_s3dlio_range_downloads_name_the_range_engine_equivalent():
    (line,) = load(f"""
        target: s3://b/
        s3dlio_optimization:
          enable_range_downloads: true
          range_threshold_mb: 32
          range_concurrency: 8
          gcs_channel_count: 4
        workload: [{GET}]
        """).warnings
    assert line == (
        "'s3dlio_optimization' is ignored (it tunes upstream's s3dlio library): for ranged GETs "
        "use range_engine: {enabled: true, min_split_size: 32MiB, max_concurrent_ranges: 8}; "
        "gcs_channel_count have no equivalent here (s3dlio's gRPC GCS client)"
    )
    plain = load(f"target: s3://b/\ns3dlio_optimization: {{}}\nworkload: [{GET}]").warnings
    assert plain == ("'s3dlio_optimization' is ignored (it tunes upstream's s3dlio library)",)


# --- use_multi_endpoint ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("multi", "flag", "warning"),
    [
        (False, "true", "'workload[0].use_multi_endpoint' has no effect: no multi_endpoint block"),
        (
            True,
            "false",
            "'workload[0].use_multi_endpoint: false' has no effect: since v0.8.96 every op goes "
            "through multi_endpoint; false no longer opts out",
        ),
        (True, "true", None),
        (False, "false", None),
    ],
)
def test_use_multi_endpoint_keeps_heads_meaning(multi: bool, flag: str, warning: str | None):
    where = MULTI if multi else "target: file:///tmp/e1/"
    loaded = load(
        f"{where}\nworkload: [{{op: get, path: d, weight: 1, use_multi_endpoint: {flag}}}]"
    )
    assert loaded.warnings == ((warning,) if warning else ())


def test_use_multi_endpoint_in_ensure_objects():
    loaded = load(f"""
        {MULTI}
        prepare: {{ensure_objects: [{{use_multi_endpoint: false, count: 3}}]}}
        workload: [{GET}]
        """)
    assert loaded.warnings == (
        "'prepare.ensure_objects[0].use_multi_endpoint: false' has no effect: since v0.8.96 "
        "every op goes through multi_endpoint; false no longer opts out",
    )
    assert loaded.config.prepare is not None
    assert loaded.config.prepare.ensure_objects[0].base_uri == "file:///tmp/e1/"


def test_use_multi_endpoint_must_be_a_bool():
    err = error(
        "target: file:///t/\nworkload: [{op: get, path: d, weight: 1, use_multi_endpoint: 2}]"
    )
    assert err.msg == "workload[0].use_multi_endpoint: expected true or false, got 2"


# --- base_uri ----------------------------------------------------------------------------------


def test_base_uri_defaults_to_the_target():
    loaded = load(
        f"target: file:///t/\nprepare: {{ensure_objects: [{{count: 3}}]}}\nworkload: [{GET}]"
    )
    assert loaded.config.prepare is not None
    assert loaded.config.prepare.ensure_objects[0].base_uri == "file:///t/"


def test_base_uri_missing_without_a_target():
    err = error(
        "prepare: {ensure_objects: [{count: 3}]}\n"
        "workload: [{op: get, path: 'file:///t/', weight: 1}]"
    )
    assert (
        err.msg
        == "prepare.ensure_objects[0].base_uri: missing, and there is no target to default to"
    )


# --- duration 0 --------------------------------------------------------------------------------


def test_duration_zero_loads_and_drops_the_warmup():
    loaded = load(f"target: file:///t/\nduration: 0s\nwarmup_period: 5s\nworkload: [{GET}]")
    assert loaded.config.duration == 0
    assert loaded.config.warmup_period == 0
    assert loaded.warnings == ("'warmup_period' is ignored: duration 0s has no workload",)


def test_duration_zero_drops_the_io_rate_with_a_warning():
    loaded = load(f"target: file:///t/\nduration: 0\nio_rate: {{iops: 100}}\nworkload: [{GET}]")
    assert loaded.warnings == ("'io_rate' is ignored: duration 0s has no workload",)
    assert load(f"target: file:///t/\nio_rate: {{iops: 100}}\nworkload: [{GET}]").warnings == ()


PREPARE = "prepare: {ensure_objects: [{base_uri: d/, count: 5}]}"


@pytest.mark.parametrize(
    ("prepare", "flags", "why"),
    [
        ("", {}, "the config prepares nothing"),
        ("prepare: {cleanup: true}", {}, "the config prepares nothing"),
        (PREPARE, {"skip_prepare": True}, "--skip-prepare skips the prepare stage"),
        (PREPARE, {}, None),
        (PREPARE, {"prepare_only": True}, None),
        ("", {"cleanup_only": True}, None),
        (PREPARE, {"skip_prepare": True, "verify": True}, None),
    ],
)
def test_duration_zero_with_nothing_to_run_is_refused(
    prepare: str, flags: dict[str, bool], why: str | None
):
    config = load(f"target: file:///t/\nduration: 0s\n{prepare}\nworkload: [{GET}]").config
    problem = idle_run_problem(config, msgspec.convert(flags, RunOptions))
    if why is None:
        assert problem is None
    else:
        assert problem is not None and why in problem.msg and "nothing to run" in problem.msg
        assert "--duration 30s" in (problem.hint or "")
    long = load(f"target: file:///t/\nduration: 5s\n{prepare}\nworkload: [{GET}]").config
    assert idle_run_problem(long, msgspec.convert(flags, RunOptions)) is None


def test_duration_override_zero_is_accepted():
    check_overrides(Overrides(duration="0"))
    check_overrides(Overrides(duration="0s"))


# --- storage only per agent, and too many endpoints ---------------------------------------------


@pytest.mark.parametrize(
    ("agent", "where", "uri"),
    [
        (
            "target_override: file:///mnt/a1/",
            "distributed.agents[0].target_override",
            "file:///mnt/a1/",
        ),
        (
            "multi_endpoint: {endpoints: [s3://h:9000/b/]}",
            "distributed.agents[0].multi_endpoint",
            "s3://h:9000/b/",
        ),
    ],
)
def test_storage_only_per_agent_says_how_to_run_it(agent: str, where: str, uri: str):
    text = f"distributed: {{agents: [{{address: 'h1:7167', {agent}}}]}}\nworkload: [{GET}]"
    err = error(text)
    assert err.msg == (
        f"this config sets its storage per agent ({where}); per-agent targets are not supported"
    )
    assert f"--target {uri}" in (err.hint or "")
    # ... and with a top-level target (what --target writes) it loads, the override dropped
    loaded = load("target: file:///t/\n" + text)
    assert loaded.config.workload[0].path == "file:///t/d/*"
    assert any(where.split(".")[-1] in w for w in loaded.warnings)


def test_more_than_32_endpoints_says_upstream_refuses_them_too():
    uris = ", ".join(f"s3://h{i}:9000/b/" for i in range(64))
    err = error(f"multi_endpoint: {{endpoints: [{uris}]}}\nworkload: [{GET}]")
    assert err.msg == (
        "multi_endpoint.endpoints: has 64 entries, more than 32 (upstream's `sai3-bench run` "
        "refuses them too)"
    )
