"""Storage-side tuning keys upstream has at the top level: ``range_engine``, ``page_cache_mode``.

Owns: their shape and defaults (upstream's). ``range_engine`` splits a large GET into concurrent
byte ranges (upstream wires it for GCS only; here s3://, gs:// and az://). ``page_cache_mode`` is
the ``posix_fadvise`` hint file:// and direct:// give each file they read or write.
Never: does I/O (backends do).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from msgspec import Meta

from sai3bench.config.base import Base
from sai3bench.config.node import as_mapping, check_keys, fail, parse_at, path_at, suggest
from sai3bench.config.units import parse_size, show

__all__ = [
    "PAGE_CACHE_MODES",
    "PageCacheMode",
    "RangeEngine",
    "walk_page_cache_mode",
    "walk_range_engine",
]

PageCacheMode = Literal["auto", "sequential", "random", "dontneed", "normal"]
PAGE_CACHE_MODES: tuple[str, ...] = get_args(PageCacheMode)

MiB = 1024 * 1024
_PATH = "range_engine"
_EXAMPLE = "e.g. range_engine: {enabled: true, chunk_size: 64MiB, max_concurrent_ranges: 16}"


class RangeEngine(Base, kw_only=True, frozen=True):
    """Concurrent ranged GETs of objects of at least ``min_split_size`` bytes: ``chunk_size``
    bytes each, at most ``max_concurrent_ranges`` in flight per object; each range bounded by
    ``range_timeout_secs``. Off by default, as upstream (a HEAD-free split still costs
    requests)."""

    enabled: bool = False
    chunk_size: Annotated[int, Meta(ge=1)] = 64 * MiB
    max_concurrent_ranges: Annotated[int, Meta(ge=1, le=1024)] = 16
    min_split_size: Annotated[int, Meta(ge=1)] = 16 * MiB
    range_timeout_secs: Annotated[int, Meta(ge=1)] = 30


def walk_range_engine(value: Any, warnings: list[str]) -> dict[str, Any]:
    keys = (
        "enabled",
        "chunk_size",
        "max_concurrent_ranges",
        "min_split_size",
        "range_timeout_secs",
    )
    node = check_keys(as_mapping(_PATH, value, _EXAMPLE), _PATH, keys, {}, warnings)
    hint = "write bytes as an integer or a size such as 64MiB"
    for key in ("chunk_size", "min_split_size"):
        if key in node:
            node[key] = parse_at(path_at(_PATH, key), node[key], parse_size, hint)
            if node[key] < 1:
                fail(path_at(_PATH, key), f"must be at least 1 byte (got {node[key]})", hint)
    return node


def walk_page_cache_mode(value: Any) -> str:
    if isinstance(value, str) and value.lower() in PAGE_CACHE_MODES:
        return value.lower()
    fail(
        "page_cache_mode",
        f"unknown mode {show(value)}",
        suggest(str(value), PAGE_CACHE_MODES, "modes"),
    )
