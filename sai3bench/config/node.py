"""Checking one YAML node at its path: the helpers every part of the key walk shares.

Owns: the one-line ``ConfigError`` with a YAML path and a hint, did-you-mean suggestions, the
mapping/list shape checks and the key check that warns about ignored keys. Pure: the caller's
``warnings`` list is the only thing written.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Collection, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NoReturn, TypeVar

from sai3bench.config.units import show
from sai3bench.errors import ConfigError

_T = TypeVar("_T")

IGNORE_UNKNOWN_HINT = (
    "or run with --ignore-unknown-keys to drop unknown keys with a warning, as upstream does"
)

_unknown_keys_warn: ContextVar[bool] = ContextVar("unknown_keys_warn", default=False)


@contextlib.contextmanager
def unknown_keys_warn(enabled: bool = True) -> Iterator[None]:
    """Within it, ``check_keys`` drops an unknown key with a warning instead of refusing it
    (``run --ignore-unknown-keys``): upstream ignores every key it does not know, so a config
    full of keys from other tools runs, while by default a typo is not silently a default."""
    token = _unknown_keys_warn.set(enabled)
    try:
        yield
    finally:
        _unknown_keys_warn.reset(token)


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
    close = closest(key, valid, also)
    listed = f"valid {what} here: {', '.join(sorted(valid))}"
    return f"did you mean '{close}'? ({listed})" if close else listed


def closest(key: str, valid: Collection[str], also: Collection[str] = ()) -> str | None:
    """The valid (or ignored) name ``key`` most likely misspells, if any is close."""
    close = difflib.get_close_matches(key.lower(), [*valid, *also], n=1)
    return close[0] if close else None


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
    ignored: Mapping[str, str | Callable[[Any], str]],
    warnings: list[str],
    others: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """Return the valid items; warn for ignored keys; fail on any other key (warn under
    ``unknown_keys_warn``).

    ``others`` maps sibling kinds (other ops, other size types) to their keys, so that a key
    valid elsewhere gets a precise "only X takes it" hint instead of a spelling guess. An
    ``ignored`` reason may be a function of the value (the warning then depends on it).
    """
    out: dict[str, Any] = {}
    for raw_key, value in node.items():
        key = str(raw_key)
        if key in valid:
            out[key] = value
        elif key in ignored:
            reason = ignored[key]
            warnings.append(
                f"'{path_at(path, key)}' {reason if isinstance(reason, str) else reason(value)}"
            )
        else:
            _unknown(path_at(path, key), key, valid, ignored, warnings, others or {})
    return out


def _unknown(
    at: str,
    key: str,
    valid: Collection[str],
    ignored: Collection[str],
    warnings: list[str],
    others: Mapping[str, Collection[str]],
) -> None:
    """Refuse an unknown key, or warn under ``unknown_keys_warn`` (upstream ignores it)."""
    owners = [kind for kind, keys in others.items() if key in keys]
    if owners:
        msg, hint = "not valid here", f"only {' and '.join(owners)} take '{key}'"
    else:
        msg, hint = "unknown key", suggest(key, valid, also=ignored)
    if _unknown_keys_warn.get():  # the short form: a guess at most, not the list of keys
        guess = closest(key, valid, ignored) if not owners else None
        why = hint if owners else f"did you mean '{guess}'?" if guess else "upstream ignores it too"
        warnings.append(f"'{at}' is ignored: {msg} (--ignore-unknown-keys; {why})")
        return
    fail(at, msg, f"{hint}; {'remove it, ' if owners else ''}{IGNORE_UNKNOWN_HINT}")
