"""Size specs in the key walk: fixed sizes, ``size_spec``/``size_distribution`` mappings.

Owns: turning a YAML size or size spec into a concrete ``SizeSpec`` (sizes and size strings
parsed, required keys checked, min <= max) and which of ``size_spec``/``size_distribution``
an entry uses. Pure: the caller's ``warnings`` list is the only thing written.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sai3bench.config.node import check_keys, fail, parse_at, path_at, suggest
from sai3bench.config.sizespec import FixedSize, LognormalSize, SizeSpec, UniformSize
from sai3bench.config.units import parse_size, show

__all__ = ["size_at", "spec_key_of", "walk_size_spec"]

_SIZE_HINT = "write bytes as an integer (4096) or a size string such as 64KiB, 8MB or 1.5GiB"
_SPEC_CLASSES = {str(c.__struct_config__.tag): c for c in (FixedSize, UniformSize, LognormalSize)}
_SPEC_FIELDS = {
    k: tuple(f.name for f in msgspec.structs.fields(c)) for k, c in _SPEC_CLASSES.items()
}
_SPEC_REQUIRED = {
    k: tuple(f.name for f in msgspec.structs.fields(c) if f.required)
    for k, c in _SPEC_CLASSES.items()
}


def size_at(path: str, value: Any, *, zero_ok: bool = False) -> int:
    n = parse_at(path, value, parse_size, _SIZE_HINT)
    if n == 0 and not zero_ok:
        fail(path, f"a size of 0 is not allowed (got {show(value)})", "use at least 1 byte")
    return n


def walk_size_spec(path: str, value: Any, warnings: list[str]) -> SizeSpec:
    """A size spec: an int or size string (fixed), or a mapping with ``type``, checked."""
    if not isinstance(value, dict):
        return FixedSize(size=size_at(path, value))
    kind = value.get("type")
    if kind is None:
        hint = "write size_spec: 32KiB for a fixed size, or {type: uniform, min: 4KiB, max: 1MiB}"
        fail(path, f"missing 'type' in {show(value)}", hint)
    if not isinstance(kind, str) or kind not in _SPEC_FIELDS:
        fail(
            path_at(path, "type"),
            f"unknown size type {show(kind)}",
            suggest(str(kind), _SPEC_FIELDS, "types"),
        )
    fields = _SPEC_FIELDS[kind]
    others = {f"{k} size specs": keys for k, keys in _SPEC_FIELDS.items() if k != kind}
    node = check_keys(value, path, {"type", *fields}, {}, warnings, others)
    kw = {
        k: size_at(path_at(path, k), node[k], zero_ok=k == "std_dev") for k in fields if k in node
    }
    required = _SPEC_REQUIRED[kind]
    for key in required:
        if key not in kw:
            fail(
                path_at(path, key),
                "missing required key",
                f"a {kind} size_spec needs {', '.join(required)}",
            )
    spec = _SPEC_CLASSES[kind](**kw)
    if not isinstance(spec, FixedSize) and spec.min > spec.max:
        defaults = "uniform defaults: min 1024, max 1048576" if kind == "uniform" else "set both"
        fail(
            path_at(path, "min"),
            f"min ({spec.min}) is larger than max ({spec.max})",
            f"make min <= max ({defaults})",
        )
    return spec


def spec_key_of(path: str, node: dict[str, Any]) -> str | None:
    """Which of size_spec / size_distribution holds the spec (None if neither); never both."""
    present = [k for k in ("size_spec", "size_distribution") if node.get(k) is not None]
    for key in ("size_spec", "size_distribution"):
        if key in node and node[key] is None:
            del node[key]
    if len(present) == 2:
        fail(
            path_at(path, "size_distribution"),
            "given together with size_spec",
            "remove one: size_distribution is an alias of size_spec",
        )
    return present[0] if present else None
