"""The upstream keys this program accepts but does not act on, each with the reason why.

Owns: the ``IGNORED`` allow-list (per level, the sentence a warning gives), the warnings whose
reason depends on the value or on the rest of the config (``use_multi_endpoint``,
``s3dlio_optimization``, the flat size keys of a tree prepare), and the one-line refusal of a
config that names its storage only per agent. Every reason was checked against upstream
v0.8.97's src/config.rs (serde ignores any key a struct lacks) and the code that reads the key.
Never: accepts a key upstream does not know, unless ``run --ignore-unknown-keys`` asks
(config/node.py); prints; touches storage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sai3bench.config.node import fail, path_at
from sai3bench.config.units import show

__all__ = [
    "IGNORED",
    "Reason",
    "agent_storage",
    "fail_per_agent_storage",
    "prepare_ignored",
    "s3dlio_reason",
    "use_multi_endpoint_warning",
]

_NOOP = "is ignored (upstream no-op)"
_NO_SUCH_KEY = "is ignored (upstream has no such key and ignores it too"
_NO_KV_CACHE = (
    "no KV metadata cache here: prepare lists the store on each run (upstream's cache writes "
    "sai3-kv-cache.tar.zst into the data prefix, where a GET glob then finds it)"
)
_TREE_SIZES = "is ignored (upstream no-op: tree file sizes come from ensure_objects[0])"
_FLAT_SIZES = "is ignored (upstream no-op: object sizes come from ensure_objects[])"

#: A reason, or a function of the key's value that returns one (node.check_keys).
Reason = str | Callable[[Any], str]

IGNORED: dict[str, dict[str, Reason]] = {
    "": {
        **dict.fromkeys(("version", "backend", "objects"), _NOOP),
        "cleanup": "is ignored (upstream no-op; prepare.cleanup is the one that counts)",
        "distributed_env": "is ignored (internal to upstream's distributed controller)",
        "autotune": (
            "is ignored (read only by upstream's autotune commands, which sweep sizes, threads "
            "and GCS channels; `sai3bench autotune --config X` sweeps this config's "
            "concurrency and processes instead)"
        ),
        "s3dlio_optimization": lambda value: s3dlio_reason(value),
        "processing_mode": "is ignored (sai3bench always runs one engine process per 'processes')",
        "enable_metadata_cache": f"is ignored ({_NO_KV_CACHE})",
        "cache_checkpoint_interval_secs": (
            "is ignored (it times upstream's KV metadata cache checkpoints; " + _NO_KV_CACHE + ")"
        ),
        "force_overwrite": "is ignored: upstream reads prepare.force_overwrite only",
        "data_size": f"{_NO_SUCH_KEY}; object sizes come from ensure_objects and object_size)",
        "record_count": f"{_NO_SUCH_KEY}; ensure_objects[].count sets the object count)",
    },
    "op": {
        **dict.fromkeys(("size", "file_size"), "is ignored (upstream no-op; object_size sets it)"),
        "fill": (
            "is ignored (upstream no-op, shown in its USAGE.md: PUT data is always random; "
            "ensure_objects[].fill sets prepare's)"
        ),
    },
    "ensure": {
        "size": (
            "is ignored (upstream no-op: objects are 1 MiB unless min_size/max_size or "
            "size_spec say otherwise)"
        ),
    },
    "perf_log": {
        "path": "is ignored (as upstream standalone: the perf-log is <results_dir>/perf_log.tsv)",
        "interval_seconds": f"{_NO_SUCH_KEY}; perf_log.interval sets it, default 1s)",
    },
    "prepare": {
        "cleanup_only": "is ignored (upstream uses it only in distributed agents)",
        "enabled": (
            f"{_NO_SUCH_KEY}; prepare runs whenever ensure_objects or directory_structure is set)"
        ),
        **dict.fromkeys(("file_size", "fill", "dedup_factor", "compress_factor"), _FLAT_SIZES),
        "strategy": f"{_NO_SUCH_KEY}; prepare_strategy: sequential|parallel is the one it reads)",
        "tree": (
            f"{_NO_SUCH_KEY}, though its DISTRIBUTED_TESTING_GUIDE.md shows it; a tree is "
            "prepare.directory_structure, anchored at ensure_objects[0].base_uri)"
        ),
    },
}
"""Keys sai3-bench knows (or its own configs carry) that this program drops with a warning,
per level ("" = top level, "op" = a workload op, "ensure" = an ensure_objects entry)."""


def prepare_ignored(tree: bool) -> dict[str, Reason]:
    """The ignored ``prepare`` keys; in a tree prepare the size keys say where tree file sizes
    come from (upstream's tree configs put ``file_size``/``fill`` beside
    ``directory_structure``, where upstream never reads them)."""
    if not tree:
        return IGNORED["prepare"]
    return {k: _TREE_SIZES if v == _FLAT_SIZES else v for k, v in IGNORED["prepare"].items()}


def use_multi_endpoint_warning(path: str, value: Any, multi: bool) -> str | None:
    """``use_multi_endpoint`` (ensure_objects[] and ops, v0.8.2x to v0.8.95): since v0.8.96
    upstream routes every op through ``multi_endpoint`` when the block exists, and the flag is
    gone. True with the block is what happens anyway: no warning."""
    at = path_at(path, "use_multi_endpoint")
    if not isinstance(value, bool):
        fail(at, f"expected true or false, got {show(value)}", "use true or false (or remove it)")
    if value and not multi:
        return f"'{at}' has no effect: no multi_endpoint block"
    if not value and multi:
        return (
            f"'{at}: false' has no effect: since v0.8.96 every op goes through multi_endpoint; "
            "false no longer opts out"
        )
    return None


_S3DLIO_RANGE = {
    "range_threshold_mb": "min_split_size",
    "chunk_size_mb": "chunk_size",
    "range_concurrency": "max_concurrent_ranges",
}


def s3dlio_reason(value: Any) -> str:
    """``s3dlio_optimization`` sets environment variables of upstream's s3dlio library; its
    range download keys map onto ``range_engine``, which the warning spells out."""
    head = "is ignored (it tunes upstream's s3dlio library)"
    node = value if isinstance(value, Mapping) else {}
    if node.get("enable_range_downloads") is not True:
        return head
    parts = ["enabled: true"]
    for key, ours in _S3DLIO_RANGE.items():
        if isinstance(node.get(key), int) and not isinstance(node.get(key), bool):
            mib = node[key]
            parts.append(f"{ours}: {mib if ours == 'max_concurrent_ranges' else f'{mib}MiB'}")
    if "range_threshold_mb" not in node:  # upstream's default threshold
        parts.append("min_split_size: 64MiB")
    gcs = sorted(k for k in node if str(k).startswith("gcs_"))
    tail = f"; {', '.join(gcs)} have no equivalent here (s3dlio's gRPC GCS client)" if gcs else ""
    return f"{head}: for ranged GETs use range_engine: {{{', '.join(parts)}}}{tail}"


def agent_storage(raw: Mapping[Any, Any]) -> tuple[str, str] | None:
    """(path, URI) of the first per-agent storage a config gives when it has no top-level
    ``target`` or ``multi_endpoint``: upstream's controller gives each agent its own
    ``target_override`` or ``multi_endpoint``; None when the config does not do that."""
    if raw.get("target") is not None or raw.get("multi_endpoint") is not None:
        return None
    dist = raw.get("distributed")
    agents = dist.get("agents") if isinstance(dist, Mapping) else None
    for i, agent in enumerate(agents if isinstance(agents, list) else ()):
        if not isinstance(agent, Mapping):
            continue
        where = path_at("distributed.agents", i)
        if isinstance(agent.get("target_override"), str):
            return path_at(where, "target_override"), agent["target_override"]
        multi = agent.get("multi_endpoint")
        uris = multi.get("endpoints") if isinstance(multi, Mapping) else None
        if isinstance(uris, list) and uris and isinstance(uris[0], str):
            return path_at(where, "multi_endpoint"), uris[0]
    return None


def fail_per_agent_storage(where: str, uri: str) -> None:
    """The one line for a config whose storage is set only per agent, and how to run it."""
    example = uri if uri.endswith("/") else uri + "/"
    fail(
        "",
        f"this config sets its storage per agent ({where}); per-agent targets are not supported",
        f"run it with --target URI (one namespace for every host), e.g. sai3bench run "
        f"--config CONFIG --target {example} [--cluster tcp://SCHEDULER:8786]",
    )
