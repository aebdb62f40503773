"""Load a sai3-bench YAML config into a frozen ``Config``, with one-line errors and warnings.

Owns: the three steps from YAML text to ``Config``.
1. ``yaml`` parses the text (the C loader when present; a key given twice is an error).
2. A walk over the raw mappings checks every key at every level against the schema's fields,
   drops the keys upstream knows but this program does not act on (an explicit allow-list, each
   with a warning saying why), refuses everything else with a did-you-mean hint (unless
   ``ignore_unknown_keys``: then a warning, as upstream ignores them), and normalises values:
   sizes, durations, counts, URIs (joined to ``target``) and size specs.
3. ``msgspec.convert`` checks types and bounds; its errors are re-worded with the YAML path.
What the target or this machine cannot do (object sizes, free disk, plan memory, workers) is
``plan.limits.check_limits``'s job, called by ``run`` after loading: it needs the plan's sizes.
Never: loosens the schema to accept an unknown key, prints, or touches storage.

Rule: every ``ConfigError`` is one line starting with the YAML path (``workload[2].weight: ...``),
names the bad value, and carries a hint that says how to fix it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import msgspec
import yaml

from sai3bench.config.node import error_at, path_at, suggest, unknown_keys_warn
from sai3bench.config.schema import CHOICES, Config
from sai3bench.config.strictyaml import StrictLoader, check_nesting
from sai3bench.config.text import decode_config, read_config_bytes
from sai3bench.config.units import show
from sai3bench.config.walk import IGNORED, Walker
from sai3bench.errors import ConfigError

__all__ = ["IGNORED", "LoadedConfig", "load_config", "load_config_file"]


class LoadedConfig(msgspec.Struct, frozen=True):
    """A loaded config and the warnings about keys that were dropped.

    ``warnings`` are plain sentences in document order, without a ``warning:`` prefix: the CLI,
    the only layer that prints, adds it.
    """

    config: Config
    warnings: tuple[str, ...]
    text: str = ""
    """The decoded YAML text: what the run saves as config.yaml (always UTF-8 on disk)."""


def load_config_file(
    path: str | os.PathLike[str], *, ignore_unknown_keys: bool = False
) -> LoadedConfig:
    """Read, decode and load a config file. See ``load_config``.

    Raises:
        ConfigError: the file is missing, a directory, unreadable, too large or not UTF-8 (or
            BOM-marked UTF-16) text, or its content is not a valid config.
    """
    text = decode_config(read_config_bytes(path))
    return load_config(text, ignore_unknown_keys=ignore_unknown_keys)


def load_config(text: str | bytes, *, ignore_unknown_keys: bool = False) -> LoadedConfig:
    """Parse YAML text into a ``Config``. Bytes are decoded as ``text.decode_config`` does.

    ``ignore_unknown_keys`` (``run --ignore-unknown-keys``): a key neither valid nor in the
    ``IGNORED`` allow-list is dropped with a warning, as upstream drops it silently.
    Pure: no limits that depend on the machine are checked here (``plan.limits`` does).

    Raises:
        ConfigError: one line, starting with the YAML path where there is one, with a hint.
    """
    if isinstance(text, bytes):
        text = decode_config(text)
    raw = _parse_yaml(text)
    warnings: list[str] = []
    with unknown_keys_warn(ignore_unknown_keys):
        normalised = Walker(warnings).top(raw)
    try:
        config = msgspec.convert(normalised, Config)
    except msgspec.ValidationError as exc:
        raise _dropped_spelling(_from_validation(str(exc), normalised), warnings) from None
    return LoadedConfig(config=config, warnings=tuple(warnings), text=text)


def _parse_yaml(text: str) -> dict[Any, Any]:
    check_nesting(text)
    try:
        raw = yaml.load(text, Loader=StrictLoader)  # safe: plain data, no Python objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem += f" ({exc.context})"
        raise ConfigError(
            f"YAML syntax error at {where}: {problem}",
            hint="fix the YAML there: check indentation, colons, quotes and brackets",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"YAML error: {' '.join(str(exc).split())}", hint="save the config as UTF-8 YAML text"
        ) from None
    if not isinstance(raw, dict):
        got = "an empty document" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(
            f"the config must be a mapping of keys, got {got}",
            hint="start with top-level keys such as target:, duration: and workload:",
        )
    return raw


_MISSING_HINTS = {
    "path": "add path: 'data/' (joined to target) or an absolute URI such as s3://bucket/data/",
    "weight": "add weight: 100 (weights are relative: 70 and 30 give a 70/30 mix)",
    "base_uri": "add base_uri: 'data/' (joined to target) or an absolute URI such as file:///d/",
    "count": "add count: 1000 (the number of objects to prepare)",
}
_AT_RE = re.compile(r"^(.*?)(?: - at `\$(.*)`)?$", re.DOTALL)
_TOKEN_RE = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def _from_validation(message: str, data: Any) -> ConfigError:
    """Turn msgspec's "Expected `int` >= 0 - at `$.workload[2].weight`" into a ConfigError."""
    m = _AT_RE.match(message)
    text, jpath = (m.group(1), m.group(2) or "") if m else (message, "")
    path = jpath.lstrip(".")
    missing = re.match(r"Object missing required field `(\w+)`", text)
    if missing:
        key = missing.group(1)
        hint = _MISSING_HINTS.get(key, f"add {key}: to {path or 'the top level'}")
        return error_at(path_at(path, key), "missing required key", hint)
    found, value = _lookup(data, jpath)
    key = path.rsplit(".", 1)[-1].split("[")[0]
    text = text[:1].lower() + text[1:]
    if found and text.startswith("expected"):
        text += f": {show(value)}" if ", got `" in text else f" (got {show(value)})"
    if key in CHOICES:
        return error_at(path, text, suggest(str(value), CHOICES[key], "values"))
    return error_at(path, text, _type_hint(text))


def _dropped_spelling(err: ConfigError, warnings: list[str]) -> ConfigError:
    """A required key reported missing after ``--ignore-unknown-keys`` dropped a misspelling of
    it (``wieght``): the error names the dropped key, not only the one to add."""
    if not err.msg.endswith(": missing required key"):
        return err
    path = err.msg.removesuffix(": missing required key")
    parent, _, key = path.rpartition(".")
    for line in warnings:
        if line.startswith(f"'{parent}.") and f"did you mean '{key}'?" in line:
            dropped = line[1:].split("'", 1)[0]
            return error_at(
                path,
                f"missing required key ('{dropped}' was dropped as unknown)",
                f"rename '{dropped}' to '{key}'",
            )
    return err


def _type_hint(text: str) -> str:
    """The hint for what msgspec expected; never for what it got (``expected `int | null`, got
    `str``` hinted "use a string")."""
    bound = re.search(r"([<>]=?) (\S+)", text)
    limit = f" {bound.group(1)} {bound.group(2)}" if bound else ""
    expected = re.match(r"expected `([^`]*)`", text)
    kinds = {k.strip() for k in expected.group(1).split("|")} if expected else set()
    for kind, hint in (
        ("int", f"use a whole number{limit}"),
        ("float", f"use a number{limit}"),
        ("bool", "use true or false"),
        ("str", "use a string"),
        ("object", "write a mapping (key: value lines)"),
        ("array", "write a list ('- item' lines)"),
    ):
        if kind in kinds:
            return hint
    return "fix this value; see the sai3-bench config reference"


def _lookup(data: Any, jpath: str) -> tuple[bool, Any]:
    for attr, index in _TOKEN_RE.findall(jpath):
        try:
            data = data[int(index)] if index else data[attr]
        except (KeyError, IndexError, TypeError):
            return False, None
    return bool(jpath), data
