"""The key walk of config loading: every key at every level checked, values normalised.

Owns: which keys are valid at each level, which upstream keys are dropped with a warning (the
``IGNORED`` allow-list), did-you-mean hints, and turning sizes, durations, counts, URIs and size
specs into the plain values the schema expects. Pure: no I/O, no printing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import msgspec

from sai3bench.config.node import (
    as_list,
    as_mapping,
    check_keys,
    fail,
    parse_at,
    path_at,
    suggest,
)
from sai3bench.config.rate import walk_io_rate
from sai3bench.config.scale import (
    PROCESSES_HINT,
    check_processing_mode,
    parse_processes,
    walk_distributed,
)
from sai3bench.config.schema import (
    DEFAULT_ENSURE_SIZE,
    OPS,
    Config,
    EnsureObjects,
    ErrorHandling,
    MultiEndpoint,
    PerfLog,
    Prepare,
)
from sai3bench.config.sizes_walk import size_at, spec_key_of, walk_size_spec
from sai3bench.config.sizespec import FixedSize, SizeSpec, UniformSize
from sai3bench.config.storage_opts import walk_page_cache_mode, walk_range_engine
from sai3bench.config.tree import walk_directory_structure
from sai3bench.config.units import (
    parse_count,
    parse_duration,
    parse_seconds,
    show,
)
from sai3bench.config.upstream_keys import (
    IGNORED,
    Reason,
    agent_storage,
    fail_per_agent_storage,
    prepare_ignored,
    use_multi_endpoint_warning,
)
from sai3bench.config.uri import URI_HINT, join_target, normalize_uri, parse_uri

__all__ = ["IGNORED", "Walker"]


def _field_names(cls: type[msgspec.Struct]) -> frozenset[str]:
    return frozenset(f.name for f in msgspec.structs.fields(cls))


_TOP_KEYS = _field_names(Config)
_PREPARE_KEYS = _field_names(Prepare)
_MULTI_FLAG = "use_multi_endpoint"  # upstream v0.8.2x-v0.8.95; see use_multi_endpoint_warning
_ENSURE_KEYS = _field_names(EnsureObjects) | {"size_distribution", _MULTI_FLAG}
_ERROR_KEYS = _field_names(ErrorHandling)
_MULTI_KEYS = _field_names(MultiEndpoint)
_PERF_LOG_KEYS = _field_names(PerfLog)
_OP_KEYS = {
    name: _field_names(cls)
    | {"op", _MULTI_FLAG}
    | ({"size_distribution"} if name == "put" else set())
    for name, cls in OPS.items()
}
_OP_EXAMPLE = "e.g. - {op: get, path: 'data/*', weight: 100}"


class Walker:
    """One pass over the raw YAML mappings: check keys, drop ignored ones, normalise values."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.target: str | None = None
        self.multi = False
        #: (YAML path, URI) of a storage given only per agent (upstream_keys.agent_storage).
        self.per_agent: tuple[str, str] | None = None

    def keys(
        self,
        node: Mapping[Any, Any],
        path: str,
        valid: Collection[str],
        ignored: Mapping[str, Reason],
        others: Mapping[str, Collection[str]] | None = None,
    ) -> dict[str, Any]:
        """``node.check_keys`` with this walk's warnings list."""
        return check_keys(node, path, valid, ignored, self.warnings, others)

    def top(self, raw: dict[Any, Any]) -> dict[str, Any]:
        check_processing_mode(raw)
        self.per_agent = agent_storage(raw)
        top = self.keys(raw, "", _TOP_KEYS, IGNORED[""])
        if "workload" not in top:
            fail("workload", "missing", f"add a workload: list of ops, {_OP_EXAMPLE}")
        if top.get("target") is not None:
            self.target = top["target"] = self.uri("target", top["target"], relative_ok=False)
        if top.get("multi_endpoint") is not None:
            top["multi_endpoint"] = self.multi_endpoint(top["multi_endpoint"])
            self.multi = True
            if self.target is None:  # upstream: endpoints[0] stands in for a missing target
                self.target = top["target"] = top["multi_endpoint"]["endpoints"][0]
        if "duration" in top:
            top["duration"] = self.duration("duration", top["duration"])  # 0: no workload stage
        top["workload"] = self.workload(top["workload"])
        if top.get("prepare") is not None:
            top["prepare"] = self.prepare(top["prepare"])
        if top.get("error_handling") is not None:
            top["error_handling"] = self.error_handling(top["error_handling"])
        if top.get("processes") is not None:
            top["processes"] = parse_at(
                "processes", top["processes"], parse_processes, PROCESSES_HINT
            )
        if top.get("distributed") is not None:
            top["distributed"] = walk_distributed(top["distributed"], self.warnings)
        if "warmup_period" in top:
            top["warmup_period"] = self.warmup(top["warmup_period"], top.get("duration", 60.0))
        if top.get("io_rate") is not None:
            top["io_rate"] = walk_io_rate(top["io_rate"], self.warnings)
            if top.get("duration") == 0:  # it paces the workload only
                self.warnings.append("'io_rate' is ignored: duration 0s has no workload")
        if "perf_log" in top:  # null too: it would reach msgspec as a bare type error
            top["perf_log"] = self.perf_log(top["perf_log"])
        if top.get("range_engine") is not None:
            top["range_engine"] = walk_range_engine(top["range_engine"], self.warnings)
        if top.get("page_cache_mode") is not None:
            top["page_cache_mode"] = walk_page_cache_mode(top["page_cache_mode"])
        return top

    def warmup(self, value: Any, duration: Any) -> float:
        secs = self.duration("warmup_period", value)
        if duration == 0:
            if secs:
                self.warnings.append("'warmup_period' is ignored: duration 0s has no workload")
            return 0.0
        if isinstance(duration, float) and secs >= duration:
            fail(
                "warmup_period",
                f"{secs:g}s is not shorter than duration ({duration:g}s)",
                "shorten warmup_period or lengthen duration: the results cover the time after it",
            )
        return secs

    def perf_log(self, value: Any) -> dict[str, Any]:
        node = self.keys(
            as_mapping("perf_log", value, "e.g. perf_log: {interval: 1s}"),
            "perf_log",
            _PERF_LOG_KEYS,
            IGNORED["perf_log"],
        )
        if "interval" in node:
            secs = self.duration("perf_log.interval", node["interval"], positive=True)
            if secs < 0.1:
                fail(
                    "perf_log.interval",
                    f"{secs:g}s is shorter than 100ms",
                    "use 100ms or more: each interval costs every engine process a few ms",
                )
            node["interval"] = secs
        return node

    def multi_endpoint(self, value: Any) -> dict[str, Any]:
        example = "e.g. multi_endpoint: {strategy: round_robin, endpoints: [s3://h1:9000/b/]}"
        node = self.keys(
            as_mapping("multi_endpoint", value, example), "multi_endpoint", _MULTI_KEYS, {}
        )
        if "endpoints" not in node:
            fail("multi_endpoint.endpoints", "missing", example)
        items = as_list("multi_endpoint.endpoints", node["endpoints"], example)
        if not items:
            fail("multi_endpoint.endpoints", "has 0 entries", "give 1 to 32 URIs")
        if len(items) > 32:
            fail(
                "multi_endpoint.endpoints",
                f"has {len(items)} entries, more than 32 (upstream's `sai3-bench run` refuses "
                "them too)",
                "give at most 32 URIs that serve one namespace (upstream's controller gives each "
                "agent its own distributed.agents[].multi_endpoint instead; not supported here)",
            )
        uris = [
            self.uri(path_at("multi_endpoint.endpoints", i), v, relative_ok=False)
            for i, v in enumerate(items)
        ]
        uris = [u if u.endswith("/") else u + "/" for u in uris]
        schemes = sorted({parse_uri(u).scheme for u in uris})
        if len(schemes) > 1:
            fail(
                "multi_endpoint.endpoints",
                f"mixes schemes ({', '.join(schemes)})",
                "all endpoints must serve the same namespace with the same scheme",
            )
        node["endpoints"] = uris
        return node

    def uri(self, path: str, value: Any, *, relative_ok: bool = True) -> str:
        if not isinstance(value, str):
            fail(path, f"expected a URI string, got {show(value)}", URI_HINT)
        try:
            uri = join_target(self.target, value) if relative_ok else normalize_uri(value)
            parse_uri(uri)
        except ValueError as exc:
            if "://" not in value:
                if relative_ok and self.per_agent is not None:
                    fail_per_agent_storage(*self.per_agent)
                hint = (
                    "add a top-level target: URI or run with --target URI (upstream stops on "
                    "it too: 'No target configuration specified'), or " + URI_HINT
                )
                fail(path, f"{exc} (got {show(value)})", hint if relative_ok else URI_HINT)
            fail(path, str(exc), URI_HINT)
        return uri

    def duration(self, path: str, value: Any, *, positive: bool = False) -> float:
        hint = "write a duration such as 30s, 5m, 1h30m or 500ms (a plain number is seconds)"
        secs = parse_at(path, value, parse_duration, hint)
        if positive and secs <= 0:
            fail(path, f"must be longer than 0 (got {show(value)})", hint)
        return secs

    def workload(self, value: Any) -> list[dict[str, Any]]:
        items = as_list("workload", value, _OP_EXAMPLE)
        if not items:
            fail("workload", "is empty", f"add at least one op, {_OP_EXAMPLE}")
        ops = [self.op(path_at("workload", i), item) for i, item in enumerate(items)]
        weights = [op.get("weight") for op in ops]
        # Only when every weight is a valid int: otherwise msgspec names the bad one.
        if all(type(w) is int and w >= 0 for w in weights) and not any(weights):
            fail(
                "workload",
                "the total weight is 0",
                "give at least one op a weight > 0 (weights are relative, e.g. 70 and 30)",
            )
        return ops

    def op(self, path: str, item: Any) -> dict[str, Any]:
        item = as_mapping(path, item, _OP_EXAMPLE)
        name = _op_name(path, item)
        others = {f"{k} ops": keys for k, keys in _OP_KEYS.items() if k != name}
        node = self.keys(item, path, _OP_KEYS[name], IGNORED["op"], others)
        self.multi_flag(path, node)
        if name == "put" and "path" not in node and self.target is not None:
            node["path"] = ""  # upstream's default: the PUT goes under the target
        if "path" in node:
            node["path"] = self.uri(path_at(path, "path"), node["path"])
        if name == "put":
            node["size_spec"] = self.put_size(path, node, item)
        return node

    def put_size(self, path: str, node: dict[str, Any], item: Mapping[Any, Any]) -> SizeSpec:
        spec_key = spec_key_of(path, node)
        spec = (
            walk_size_spec(path_at(path, spec_key), node.pop(spec_key), self.warnings)
            if spec_key
            else None
        )
        if node.get("object_size") is not None:
            node["object_size"] = size_at(path_at(path, "object_size"), node["object_size"])
            if spec_key:
                why = "object_size takes precedence (as upstream)"
                self.warnings.append(f"'{path_at(path, spec_key)}' is ignored: {why}")
            return FixedSize(size=node["object_size"])
        if spec is not None:
            return spec
        legacy = [k for k in ("size", "file_size") if k in item]
        hint = (
            f"rename '{legacy[0]}' to 'object_size' (sai3-bench ignores '{legacy[0]}')"
            if legacy
            else "add object_size: 1MiB, or size_spec: {type: uniform, min: 4KiB, max: 1MiB}"
        )
        fail(path, "put needs object_size or size_spec", hint)

    def prepare(self, value: Any) -> dict[str, Any]:
        node = self.keys(
            as_mapping("prepare", value, "e.g. ensure_objects: [...]"),
            "prepare",
            _PREPARE_KEYS,
            prepare_ignored(tree=isinstance(value, dict) and "directory_structure" in value),
        )
        if node.get("ensure_objects") is not None:
            path = "prepare.ensure_objects"
            items = as_list(path, node["ensure_objects"], "e.g. - {base_uri: 'data/', count: 100}")
            node["ensure_objects"] = [
                self.ensure(path_at(path, i), item) for i, item in enumerate(items)
            ]
        if node.get("directory_structure") is not None:
            node["directory_structure"] = walk_directory_structure(
                node["directory_structure"], self.warnings
            )
        if "key_prefix_shards" in node:
            node["key_prefix_shards"] = parse_at(
                "prepare.key_prefix_shards",
                node["key_prefix_shards"],
                parse_count,
                "write a whole number of shards, e.g. 256 (0: none)",
            )
        if "post_prepare_delay" in node:
            hint = "write whole seconds: 5, '30s', '2m', '1h' or '1d'"
            node["post_prepare_delay"] = parse_at(
                "prepare.post_prepare_delay", node["post_prepare_delay"], parse_seconds, hint
            )
        return node

    def ensure(self, path: str, item: Any) -> dict[str, Any]:
        node = self.keys(
            as_mapping(path, item, "e.g. {base_uri: 'data/', count: 100}"),
            path,
            _ENSURE_KEYS,
            IGNORED["ensure"],
        )
        self.multi_flag(path, node)
        node["base_uri"] = self.base_uri(path, node.get("base_uri"))
        if "count" in node:
            node["count"] = parse_at(
                path_at(path, "count"),
                node["count"],
                parse_count,
                "write a whole number such as 1000 or '1,000,000'",
            )
        for key in ("min_size", "max_size"):
            if node.get(key) is not None:
                node[key] = size_at(path_at(path, key), node[key])
        spec_key = spec_key_of(path, node)
        if spec_key:
            node["size_spec"] = walk_size_spec(
                path_at(path, spec_key), node.pop(spec_key), self.warnings
            )
            for key in ("min_size", "max_size"):
                if node.get(key) is not None:
                    self.warnings.append(
                        f"'{path_at(path, key)}' is ignored: "
                        f"{spec_key} takes precedence (as upstream)"
                    )
            return node
        lo = node.get("min_size") or DEFAULT_ENSURE_SIZE
        hi = node.get("max_size") or DEFAULT_ENSURE_SIZE
        if lo > hi:
            msg = f"min_size ({lo}) is larger than max_size ({hi})"
            fail(
                path_at(path, "min_size"),
                msg,
                "make min_size <= max_size (both default to 1048576)",
            )
        node["size_spec"] = FixedSize(size=lo) if lo == hi else UniformSize(min=lo, max=hi)
        return node

    def multi_flag(self, path: str, node: dict[str, Any]) -> None:
        """Drop ``use_multi_endpoint`` from ``node``, warning where it does not do what it
        says (upstream_keys.use_multi_endpoint_warning)."""
        if _MULTI_FLAG in node:
            line = use_multi_endpoint_warning(path, node.pop(_MULTI_FLAG), self.multi)
            if line is not None:
                self.warnings.append(line)

    def base_uri(self, path: str, value: Any) -> str:
        """An ensure_objects entry's base_uri; absent, the target (``multi_endpoint``'s
        endpoints[0] when it stands in for the target, as upstream)."""
        if value is not None:
            return self.uri(path_at(path, "base_uri"), value)
        if self.target is not None:
            return self.target
        if self.per_agent is not None:
            fail_per_agent_storage(*self.per_agent)
        fail(
            path_at(path, "base_uri"),
            "missing, and there is no target to default to",
            "add base_uri: 'file:///data/' or a top-level target: URI (or a multi_endpoint "
            "block: its endpoints[0] is the default, as upstream)",
        )

    def error_handling(self, value: Any) -> dict[str, Any]:
        path = "error_handling"
        node = self.keys(
            as_mapping(path, value, "e.g. max_total_errors: 100"), path, _ERROR_KEYS, {}
        )
        for key in ("backoff_duration", "error_rate_window"):
            if key in node:
                node[key] = self.duration(path_at(path, key), node[key])
        return node


def _op_name(path: str, item: Mapping[Any, Any]) -> str:
    ops = ", ".join(OPS)
    if "op" not in item:
        fail(path, "missing 'op'", f"add op: one of {ops}")
    name = item["op"]
    if isinstance(name, str) and name in OPS:
        return name
    fail(path_at(path, "op"), f"unknown op {show(name)}", suggest(str(name), OPS, "ops"))
