"""config.scale through config.load: ``processes``, ``processing_mode`` and ``distributed``.

Before issue 9 all three were dropped with "is not supported yet and is ignored"; now
``processes`` and ``distributed.agents`` reach the Config, and the rest of ``distributed`` is
dropped with one warning line per key that says where distributed runs live (Dask).
"""

from __future__ import annotations

import textwrap

import msgspec
import pytest

from sai3bench.config.load import LoadedConfig, load_config
from sai3bench.config.scale import (
    AGENT_PORT,
    IGNORED_AGENT,
    IGNORED_DISTRIBUTED,
    parse_agent_address,
    parse_processes,
)
from sai3bench.config.schema import MAX_PROCESSES, Config, Distributed
from sai3bench.errors import ConfigError

BASE = "target: file:///t/\nworkload: [{op: get, path: 'd/*', weight: 1}]\n"
DASK = "is ignored (sai3bench runs distributed on Dask: --cluster tcp://scheduler:8786)"
PER_AGENT = (
    "is ignored (sai3bench runs distributed on Dask: --cluster tcp://scheduler:8786; "
    "every host runs the same config)"
)


def load(extra: str) -> LoadedConfig:
    return load_config(BASE + textwrap.dedent(extra))


def load_error(extra: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(extra)
    err = info.value
    assert "\n" not in err.msg
    assert err.hint
    assert "\n" not in err.hint
    return err


# --- processes -------------------------------------------------------------------------------


def test_processes_absent_is_none():
    loaded = load("")
    assert loaded.config.processes is None
    assert loaded.config.distributed is None
    assert loaded.warnings == ()


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("1", 1),
        ("single", 1),
        ("Single", 1),
        ("SINGLE", 1),
        ("auto", "auto"),
        ("Auto", "auto"),
        ("AUTO", "auto"),
        ("4", 4),
        ("'4'", 4),
        ("' 16 '", 16),
        ("'1,024'", 1024),
        ("1_000", 1000),
        (str(MAX_PROCESSES), MAX_PROCESSES),
        ("~", None),
    ],
)
def test_processes_forms(yaml, expected):
    loaded = load(f"processes: {yaml}\n")
    assert loaded.config.processes == expected
    assert loaded.warnings == ()  # no "not supported yet" any more


@pytest.mark.parametrize(
    ("yaml", "msg"),
    [
        ("0", "processes: must be at least 1 (got 0)"),
        ("-1", "processes: must be at least 1 (got -1)"),
        ("'0'", "processes: must be at least 1 (got '0')"),
        ("many", "processes: expected auto, single or a whole number, got 'many'"),
        ("1.5", "processes: expected auto, single or a whole number, got 1.5"),
        ("true", "processes: expected auto, single or a whole number, got True"),
        ("''", "processes: expected auto, single or a whole number, got ''"),
        ("[2]", "processes: expected auto, single or a whole number, got [2]"),
        ("{n: 2}", "processes: expected auto, single or a whole number, got {'n': 2}"),
        (str(MAX_PROCESSES + 1), f"processes: {MAX_PROCESSES + 1} is more than 1024 processes"),
        ("'2,000'", "processes: '2,000' is more than 1024 processes"),
    ],
)
def test_processes_errors_name_the_key_and_the_forms(yaml, msg):
    err = load_error(f"processes: {yaml}\n")
    assert err.msg == msg
    assert err.hint == (
        "write processes: auto (one per usable core), single (1) or a whole number from 1 to 1024"
    )


def test_parse_processes_is_the_cli_parser_too():
    """--processes takes the same forms: strings from argv."""
    assert parse_processes("auto") == "auto"
    assert parse_processes("3") == 3
    with pytest.raises(ValueError, match="at least 1"):
        parse_processes("0")


def test_processes_bound_holds_for_a_config_built_by_convert():
    """The schema's Meta bound refuses what the walk would, for configs not loaded from YAML."""
    raw = {"workload": [{"op": "get", "path": "file:///t/d", "weight": 1}]}
    assert msgspec.convert({**raw, "processes": "auto"}, Config).processes == "auto"
    for bad in (0, MAX_PROCESSES + 1, "many"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({**raw, "processes": bad}, Config)


# --- processing_mode -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["multi_runtime", "multi_process"])
def test_processing_mode_is_accepted_and_ignored(mode):
    loaded = load(f"processes: 4\nprocessing_mode: {mode}\n")
    assert loaded.config.processes == 4
    assert loaded.warnings == (
        "'processing_mode' is ignored (sai3bench always runs one engine process per 'processes')",
    )


def test_processing_mode_unknown_value_is_an_error():
    err = load_error("processing_mode: multi_thread\n")
    assert err.msg == "processing_mode: unknown mode 'multi_thread'"
    assert (err.hint or "").startswith("did you mean 'multi_runtime'?")


# --- distributed -----------------------------------------------------------------------------

# upstream's tests/configs/local_test_2agents.yaml, the distributed block
TWO_AGENTS = """
distributed:
  shared_filesystem: true
  tree_creation_mode: coordinator
  path_selection: random
  agents:
    - address: "127.0.0.1:7761"
      id: "test-agent-1"
    - address: "127.0.0.1:7762"
      id: "test-agent-2"
"""


def test_upstream_two_agents_example():
    loaded = load(TWO_AGENTS)
    assert loaded.config.distributed == Distributed(agents=("127.0.0.1:7761", "127.0.0.1:7762"))
    assert loaded.warnings == (
        f"'distributed.shared_filesystem' {DASK}",
        f"'distributed.tree_creation_mode' {DASK}",
        f"'distributed.path_selection' {DASK}",
        f"'distributed.agents[0].id' (and 1 more agent) {PER_AGENT}",
    )


def test_every_upstream_distributed_key_is_one_warning_line():
    """All of upstream's DistributedConfig keys (sai3-bench src/config.rs), values as upstream
    writes them; none of their values is checked, as for every ignored key."""
    loaded = load("""
        distributed:
          stages:
            - {name: prepare, order: 1, type: prepare, completion: tasks_done}
            - {name: execute, order: 2, type: execute, completion: duration, duration: 1m}
          barrier_sync: {enabled: true, prepare: {type: all_or_nothing, heartbeat_interval: 120}}
          shared_filesystem: false
          tree_creation_mode: isolated
          path_selection: weighted
          partition_overlap: 0.3
          start_delay: 5s
          path_template: "agent-{id}/"
          grpc_keepalive_interval: 30
          grpc_keepalive_timeout: 10
          agent_ready_timeout: 5m
          kv_cache_dir: /mnt/ssd/kv
          ssh: {enabled: true, user: bench, key_path: ~/.ssh/id_ed25519, timeout: 10}
          deployment: {deploy_type: docker, image: "sai3bench:latest", network_mode: host}
          agents: [{address: "h1:7167"}]
        """)
    assert loaded.warnings == tuple(f"'distributed.{key}' {DASK}" for key in IGNORED_DISTRIBUTED)
    assert all("\n" not in w for w in loaded.warnings)


def test_per_agent_overrides_warn_once_per_key():
    """32 agents with three overrides each: three lines, not 96."""
    agents = "\n".join(
        f"    - {{address: 'h{i}:7167', id: a{i}, concurrency_override: 16,"
        f" multi_endpoint: {{endpoints: ['file:///m{i}/']}}}}"
        for i in range(32)
    )
    loaded = load(f"distributed:\n  agents:\n{agents}\n")
    assert loaded.config.distributed is not None
    assert len(loaded.config.distributed.agents) == 32
    assert loaded.warnings == (
        f"'distributed.agents[0].id' (and 31 more agents) {PER_AGENT}",
        f"'distributed.agents[0].concurrency_override' (and 31 more agents) {PER_AGENT}",
        f"'distributed.agents[0].multi_endpoint' (and 31 more agents) {PER_AGENT}",
    )


def test_a_key_set_by_one_later_agent_names_that_agent():
    loaded = load("""
        distributed:
          agents:
            - address: h1:1
            - {address: h2:1, target_override: "s3://b2/", env: {AWS_PROFILE: x}}
        """)
    assert loaded.warnings == (
        f"'distributed.agents[1].target_override' {PER_AGENT}",
        f"'distributed.agents[1].env' {PER_AGENT}",
    )


def test_every_upstream_agent_key_is_known():
    loaded = load(
        "distributed:\n  agents:\n    - {address: 'h:1', "
        + ", ".join(f"{key}: x" for key in IGNORED_AGENT)
        + "}\n"
    )
    assert loaded.warnings == tuple(
        f"'distributed.agents[0].{key}' {PER_AGENT}" for key in IGNORED_AGENT
    )


@pytest.mark.parametrize(
    ("yaml", "agents"),
    [
        ("{}", ()),
        ("{agents: []}", ()),
        ("{agents: ~}", ()),
        ("{agents: [{address: 'Node1.Example.com:7761'}]}", ("node1.example.com:7761",)),
        ("{agents: [{address: ' node1 '}]}", (f"node1:{AGENT_PORT}",)),
        ("{agents: [{address: node1, listen_port: 7761}]}", ("node1:7761",)),
        ("{agents: [{address: 'node1:9', listen_port: 7761}]}", ("node1:9",)),
        ("{agents: ['10.0.1.50:7167', 'tcp://w2:8786']}", ("10.0.1.50:7167", "w2:8786")),
        ("{agents: [{address: '[FD00::5]:7167'}]}", ("[fd00::5]:7167",)),
        ("{agents: [{address: '[::1]'}]}", (f"[::1]:{AGENT_PORT}",)),
        ("{agents: [{address: 'h_1.lan.:1'}]}", ("h_1.lan.:1",)),
    ],
)
def test_agent_addresses_are_normalised(yaml, agents):
    loaded = load(f"distributed: {yaml}\n")
    assert loaded.config.distributed == Distributed(agents=agents)
    assert loaded.warnings == ()


def test_distributed_null_is_absent():
    assert load("distributed: ~\n").config.distributed is None


@pytest.mark.parametrize(
    ("yaml", "msg", "hint_has"),
    [
        ("3", "distributed: expected a mapping, got 3", "agents: [{address:"),
        ("{agents: 3}", "distributed.agents: expected a list, got 3", "'- item' lines"),
        ("{agent: []}", "distributed.agent: unknown key", "did you mean 'agents'?"),
        ("{stagez: []}", "distributed.stagez: unknown key", "did you mean 'stages'?"),
        ("{agents: [{addr: 'h:1'}]}", "distributed.agents[0].addr: unknown key", "'address'"),
        ("{agents: [{id: a}]}", "distributed.agents[0].address: missing", "add address:"),
        ("{agents: [7]}", "distributed.agents[0]: expected a mapping, got 7", "address:"),
        (
            "{agents: [{address: 'h:99999'}]}",
            "distributed.agents[0].address: port '99999' is not a whole number from 1 to 65535",
            "host:port",
        ),
        (
            "{agents: [{address: 'h:x'}]}",
            "distributed.agents[0].address: port 'x' is not a whole number from 1 to 65535",
            "host:port",
        ),
        (
            "{agents: [{address: 'h:'}]}",
            "distributed.agents[0].address: port '' is not a whole number from 1 to 65535",
            "host:port",
        ),
        (
            "{agents: [{address: '::1'}]}",
            "distributed.agents[0].address: not a host:port address: '::1'",
            "'[fd00::5]:7167'",
        ),
        (
            "{agents: [{address: '[zz]:1'}]}",
            "distributed.agents[0].address: not an IPv6 address: 'zz' in '[zz]:1'",
            "host:port",
        ),
        (
            "{agents: [{address: 'a b:1'}]}",
            "distributed.agents[0].address: not a host name or IPv4 address: 'a b' in 'a b:1'",
            "host:port",
        ),
        (
            "{agents: [{address: '999.1.1.1:1'}]}",
            "distributed.agents[0].address: not a host name or IPv4 address: '999.1.1.1'",
            "host:port",
        ),
        (
            "{agents: [{address: 'http://h:1'}]}",
            "distributed.agents[0].address: not a host:port address: 'http://h:1'",
            "host:port",
        ),
        ("{agents: [{address: ''}]}", "distributed.agents[0].address: not a host:port", "host"),
        ("{agents: [{address: 7}]}", "distributed.agents[0].address: expected 'host:port'", ":"),
        (
            "{agents: [{address: 'h:1', listen_port: 0}]}",
            "distributed.agents[0].listen_port: port 0 is not a whole number from 1 to 65535",
            "listen_port: 7167",
        ),
        (
            "{agents: [{address: 'h:1'}, {address: 'H:1'}]}",
            "distributed.agents[1].address: h:1 is listed twice (also agents[0])",
            "list each agent once",
        ),
        (
            "{agents: [{address: h}, {address: 'h:7167'}]}",
            "distributed.agents[1].address: h:7167 is listed twice (also agents[0])",
            "list each agent once",
        ),
    ],
)
def test_distributed_errors(yaml, msg, hint_has):
    err = load_error(f"distributed: {yaml}\n")
    assert err.msg.startswith(msg), err.msg
    assert hint_has in (err.hint or ""), err.hint


def test_address_parser_direct():
    assert parse_agent_address("H:1") == "h:1"
    assert parse_agent_address("h", default_port=9) == "h:9"
    assert parse_agent_address("tcp://[::1]:8786/") == "[::1]:8786"
    with pytest.raises(ValueError, match="not a host name"):
        parse_agent_address("-bad-:1")
    with pytest.raises(ValueError, match="expected 'host:port'"):
        parse_agent_address(None)


def test_other_upstream_keys_keep_their_old_warning():
    """Only processes, processing_mode and distributed changed here; page_cache_mode is now
    parsed (config/storage_opts.py), so it no longer warns."""
    assert load("page_cache_mode: auto\n").warnings == ()
