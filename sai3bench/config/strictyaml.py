"""PyYAML's safe loader, except that a key given twice in one mapping is an error.

Why: plain YAML loading keeps the last of two equal keys, so a second ``duration:`` further down
a long config silently overrides the first and the run is not what the user read. The error names
both lines. Keys that come in through a merge (``<<: *defaults``) may be overridden, as YAML means.
Never: builds Python objects (a safe loader: plain data only).
"""

from __future__ import annotations

from typing import Any

import yaml

from sai3bench.config.units import show
from sai3bench.errors import ConfigError, one_line

__all__ = ["MAX_INT_DIGITS", "MAX_NESTING", "StrictLoader", "check_nesting"]

MAX_INT_DIGITS = 40
"""Longest integer read (2^128 has 39 digits): counts of 2^64 still reach their own check."""

MAX_NESTING = 64
"""Deepest nesting of lists and mappings read, in brackets or in block style. A real config
nests 3 or 4 deep; 50,000 made the C composer recurse until the process died with a
segmentation fault."""

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(_Base):  # type: ignore[misc]  # the C or Python safe loader, untyped
    """Safe loading (the C parser when present) with a duplicate-key check per mapping."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A value PyYAML cannot build (an integer of more than 4300 digits raised a bare
        ValueError from ``int()``) becomes a ConfigError naming its line."""
        try:
            return super().construct_object(node, deep=deep)
        except ConfigError:
            raise
        except (ValueError, OverflowError) as exc:
            raise ConfigError(
                f"YAML value on line {node.start_mark.line + 1} cannot be read: {one_line(exc)}",
                hint="write a plain number, string or list there",
            ) from None

    def construct_bounded_int(self, node: yaml.ScalarNode) -> int:
        """An integer of at most ``MAX_INT_DIGITS`` digits: a 4,000-digit hex number is valid
        YAML, but Python cannot print it (4300 digits), so every message naming it failed."""
        digits = str(node.value).replace("_", "").lstrip("+-")
        too_long = len(digits) > 2 * MAX_INT_DIGITS  # before int(): 5,000 digits raise there
        value: int = 0 if too_long else self.construct_yaml_int(node)
        if too_long or abs(value) >= 10**MAX_INT_DIGITS:
            raise ConfigError(
                f"the integer on line {node.start_mark.line + 1} has more than "
                f"{MAX_INT_DIGITS} digits",
                hint="no count, size or setting needs that many: check the number",
            )
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            self._check_duplicates(node)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping

    def _check_duplicates(self, node: yaml.MappingNode) -> None:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base constructor reports it
                continue
            if first is not key_node:
                a, b = first.start_mark.line + 1, key_node.start_mark.line + 1
                where = f"lines {a} and {b}" if a != b else f"line {a} (twice)"
                raise ConfigError(
                    f"duplicate key {show(key)} on {where}",
                    hint="keep one of them: YAML would silently use only the last one",
                )


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_bounded_int)

_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def check_nesting(text: str) -> None:
    """Refuse text whose lists and mappings nest deeper than ``MAX_NESTING``, before composing.

    Counted on the parser's events (libyaml's parser keeps its own stack; only the composer
    recurses), so block nesting is caught as well as brackets: ``- - - x`` nests a level every
    2 bytes, and 50,000 of them crashed the composer like 50,000 ``[``. The count stops at the
    first level too deep. A syntax error is left to the load, which names it.

    Raises:
        ConfigError: naming the line where the limit is passed.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Base):
            if isinstance(event, _CLOSE):
                depth -= 1
            elif isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_NESTING:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    raise ConfigError(
                        f"YAML nested more than {MAX_NESTING} levels deep (line {line})",
                        hint="a config nests a few levels: check the brackets and '- ' entries",
                    )
    except yaml.YAMLError:
        return
