"""Checking one YAML node at its path: the helpers every part of the key walk shares.

Owns: the one-line ``ConfigError`` with a YAML path and a hint, did-you-mean suggestions, the
mapping/list shape checks and the key check that warns about ignored keys. Pure: the caller's
``warnings`` list is the only thing written.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping
from typing import Any, NoReturn, TypeVar

from sai3bench.config.units import show
from sai3bench.errors import ConfigError

_T = TypeVar("_T")


def error_at(path: str, msg: str, hint: str) -> ConfigError:
    text = f"{path}: {msg}" if path else msg
    return ConfigError(" ".join(text.split()), hint=" ".join(hint.split()))


def fail(path: str, msg: str, hint: str) -> NoReturn:
    raise error_at(path, msg, hint)


def path_at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def suggest(
    key: str, valid: Collection[str], what: str = "keys", also: Collection[str] = ()
) -> str:
    """A did-you-mean hint. ``also`` are names a guess may name but the list leaves out: the
    upstream keys this program ignores (``stagez`` means ``stages``, ignored or not)."""
    close = difflib.get_close_matches(key.lower(), [*valid, *also], n=1)
    listed = f"valid {what} here: {', '.join(sorted(valid))}"
    return f"did you mean '{close[0]}'? ({listed})" if close else listed


def parse_at(path: str, value: Any, parse: Callable[[Any], _T], hint: str) -> _T:
    """``parse(value)``, with its ValueError turned into a ConfigError at ``path``."""
    try:
        return parse(value)
    except ValueError as exc:
        fail(path, str(exc), hint)


def as_mapping(path: str, value: Any, example: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        fail(
            path,
            f"expected a mapping, got {show(value)}",
            f"write it as key: value lines, {example}",
        )
    return value


def as_list(path: str, value: Any, example: str) -> list[Any]:
    if not isinstance(value, list):
        fail(path, f"expected a list, got {show(value)}", f"write it as '- item' lines, {example}")
    return value


def check_keys(
    node: Mapping[Any, Any],
    path: str,
    valid: Collection[str],
    ignored: Mapping[str, str],
    warnings: list[str],
    others: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """Return the valid items; warn for ignored keys; fail on any other key.

    ``others`` maps sibling kinds (other ops, other size types) to their keys, so that a key
    valid elsewhere gets a precise "only X takes it" hint instead of a spelling guess.
    """
    out: dict[str, Any] = {}
    for raw_key, value in node.items():
        key = str(raw_key)
        if key in valid:
            out[key] = value
        elif key in ignored:
            warnings.append(f"'{path_at(path, key)}' {ignored[key]}")
        else:
            owners = [kind for kind, keys in (others or {}).items() if key in keys]
            if owners:
                hint = f"only {' and '.join(owners)} take '{key}'; remove it"
                fail(path_at(path, key), "not valid here", hint)
            fail(path_at(path, key), "unknown key", suggest(key, valid, also=ignored))
    return out
