"""The scale-out keys of a config: ``processes``, ``processing_mode`` and ``distributed``.

Owns: what upstream's forms of these keys mean here. ``processes: 1|single|auto|N`` becomes an
int or ``"auto"`` (``plan.cores.resolve_processes`` turns ``auto`` into a count later).
``distributed`` keeps only the agent addresses, normalised to ``host:port``: sai3bench runs on
many hosts through Dask (``--cluster tcp://scheduler:8786``), not through upstream's gRPC
agents, so every other ``distributed`` key is dropped with one warning line each.
Never: reads the machine (how many cores ``auto`` is, is ``plan.cores``'s job) or prints.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from sai3bench.config.node import (
    as_list,
    as_mapping,
    check_keys,
    fail,
    parse_at,
    path_at,
    suggest,
)
from sai3bench.config.schema import MAX_PROCESSES
from sai3bench.config.units import parse_count, show

__all__ = [
    "AGENT_PORT",
    "IGNORED_AGENT",
    "IGNORED_DISTRIBUTED",
    "PROCESSES_HINT",
    "PROCESSING_MODES",
    "check_processing_mode",
    "parse_agent_address",
    "parse_processes",
    "walk_distributed",
]

PROCESSES_HINT = (
    f"write processes: auto (one per usable core), single (1) or a whole number from 1 to "
    f"{MAX_PROCESSES}"
)
PROCESSING_MODES = ("multi_runtime", "multi_process")

_DASK = "is ignored (sai3bench runs distributed on Dask: --cluster tcp://scheduler:8786)"
IGNORED_DISTRIBUTED: dict[str, str] = dict.fromkeys(
    """stages barrier_sync shared_filesystem tree_creation_mode path_selection partition_overlap
    start_delay path_template grpc_keepalive_interval grpc_keepalive_timeout agent_ready_timeout
    kv_cache_dir ssh deployment""".split(),  # noqa: SIM905 - a word list reads best
    _DASK,
)
"""Upstream's ``distributed`` keys besides ``agents``: accepted, each dropped with a warning."""

IGNORED_AGENT: dict[str, str] = dict.fromkeys(
    """id target_override concurrency_override env volumes path_template multi_endpoint
    kv_cache_dir""".split(),  # noqa: SIM905
    _DASK[:-1] + "; every host runs the same config)",
)
"""Upstream's per-agent keys besides ``address`` and ``listen_port``: dropped with a warning."""

AGENT_PORT = 7167
"""Upstream's agent port (``sai3bench-agent --listen``), for an address without one."""

_AGENT_EXAMPLE = "e.g. agents: [{address: 'node1:7167'}, {address: '10.0.1.50:7167'}]"
_ADDRESS_HINT = (
    "write the agent as host:port, e.g. 'node1.example.com:7167', '10.0.1.50:7167' or "
    "'[fd00::5]:7167'"
)
_LABEL_RE = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_HOST_PORT_RE = re.compile(r"(?:\[([^\]]*)\]|([^:\[\]]*))(?::([^:]*))?")
_PORT_RE = re.compile(r"[0-9]{1,5}")


def parse_processes(value: object) -> int | Literal["auto"]:
    """Parse upstream's ``processes`` forms: ``auto``, ``single`` (1), or a count of 1 to
    ``MAX_PROCESSES`` as an int or a string (``"4"``, ``"1,024"``; any case for the words, as
    upstream). The CLI's ``--processes`` takes the same forms.

    Raises:
        ValueError: with a short reason naming the value.
    """
    if isinstance(value, str) and value.strip().lower() in ("auto", "single"):
        return "auto" if value.strip().lower() == "auto" else 1
    wrong = ValueError(f"expected auto, single or a whole number, got {show(value)}")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise wrong
    try:
        count = value if isinstance(value, int) else parse_count(value)
    except ValueError:
        raise wrong from None
    if count < 1:
        raise ValueError(f"must be at least 1 (got {show(value)})")
    if count > MAX_PROCESSES:
        raise ValueError(f"{show(value)} is more than {MAX_PROCESSES} processes")
    return count


def check_processing_mode(raw: dict[Any, Any]) -> None:
    """Refuse a ``processing_mode`` upstream would refuse; either valid value is then dropped
    with a warning (the ``IGNORED`` allow-list): one engine process per ``processes`` always."""
    if "processing_mode" not in raw:
        return
    mode = raw["processing_mode"]
    if not (isinstance(mode, str) and mode in PROCESSING_MODES):
        fail(
            "processing_mode",
            f"unknown mode {show(mode)}",
            suggest(str(mode), PROCESSING_MODES, "values"),
        )


def walk_distributed(value: Any, warnings: list[str]) -> dict[str, Any]:
    """Check upstream's ``distributed`` block and keep only ``agents``, as ``host:port``
    strings. ``agents`` may be absent or empty: ``--cluster`` alone names the hosts.

    A per-agent key that is ignored gets one warning line however many agents set it (32
    agents with 3 overrides each would give 96 lines); it names the first agent that sets it.
    """
    path = "distributed"
    node = check_keys(
        as_mapping(path, value, _AGENT_EXAMPLE), path, {"agents"}, IGNORED_DISTRIBUTED, warnings
    )
    if node.get("agents") is None:
        return {"agents": ()}
    items = as_list(path_at(path, "agents"), node["agents"], _AGENT_EXAMPLE)
    addresses: list[str] = []
    ignored: dict[str, list[str]] = {}  # key -> the path of every agent that sets it
    for i, item in enumerate(items):
        where = path_at(path_at(path, "agents"), i)
        address = _agent(where, item)
        if address in addresses:
            first = path_at("agents", addresses.index(address))
            fail(
                path_at(where, "address"),
                f"{address} is listed twice (also {first})",
                "list each agent once",
            )
        addresses.append(address)
        for key in item if isinstance(item, dict) else ():
            if str(key) in IGNORED_AGENT:
                ignored.setdefault(str(key), []).append(path_at(where, str(key)))
    for key, paths in ignored.items():
        more = len(paths) - 1
        also = f" (and {more} more agent{'s' if more > 1 else ''})" if more else ""
        warnings.append(f"'{paths[0]}'{also} {IGNORED_AGENT[key]}")
    return {"agents": tuple(addresses)}


def _agent(path: str, item: Any) -> str:
    if isinstance(item, str):  # upstream's --agents form; upstream's YAML wants a mapping
        return parse_at(path, item, parse_agent_address, _ADDRESS_HINT)
    node = check_keys(
        as_mapping(path, item, "e.g. - {address: 'node1:7167'}"),
        path,
        {"address", "listen_port"},
        IGNORED_AGENT,
        [],  # walk_distributed warns once per key, not once per agent
    )
    if "address" not in node:
        fail(path_at(path, "address"), "missing", "add address: 'host:port' to every agent")
    port = AGENT_PORT
    if "listen_port" in node:
        hint = "write listen_port: 7167 (a whole number from 1 to 65535)"
        port = parse_at(path_at(path, "listen_port"), node["listen_port"], _parse_port, hint)
    return parse_at(
        path_at(path, "address"),
        node["address"],
        lambda text: parse_agent_address(text, default_port=port),
        _ADDRESS_HINT,
    )


def parse_agent_address(text: object, default_port: int = AGENT_PORT) -> str:
    """Normalise an agent address to ``host:port`` (``[v6]:port`` for IPv6): host lowercased,
    ``tcp://`` (Dask's form) dropped, ``default_port`` added where no port is given.

    Raises:
        ValueError: for a non-string, an empty or malformed host, or a port outside 1-65535.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected 'host:port', got {show(text)}")
    body = text.strip().lower().removeprefix("tcp://").rstrip("/")
    m = _HOST_PORT_RE.fullmatch(body)
    if not body or m is None:
        raise ValueError(f"not a host:port address: {show(text)}")
    v6, host, port_text = m.groups()
    port = default_port if port_text is None else _parse_port(port_text)
    if v6 is not None:
        try:
            return f"[{ipaddress.IPv6Address(v6)}]:{port}"
        except ValueError:
            raise ValueError(f"not an IPv6 address: {show(v6)} in {show(text)}") from None
    if not _is_hostname(host):
        raise ValueError(f"not a host name or IPv4 address: {show(host)} in {show(text)}")
    return f"{host}:{port}"


def _is_hostname(host: str) -> bool:
    labels = host.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):  # 10.0.1.50, and not 999.1.1.1
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return 0 < len(host) <= 253 and all(_LABEL_RE.fullmatch(label) for label in labels)


def _parse_port(value: object) -> int:
    text = "" if isinstance(value, bool) else str(value).strip()
    if not _PORT_RE.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise ValueError(f"port {show(value)} is not a whole number from 1 to 65535")
    return int(text)
