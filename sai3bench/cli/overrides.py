"""``run --duration / --concurrency / --target``: the YAML's top-level values, overridden.

The override is made in the YAML text itself, and that text is loaded, checked and saved as the
results' config.yaml: every rule of the config applies to the effective values (a warmup_period
longer than the new duration is refused as usual), and the saved file reruns the same run. The
file's comments and layout are kept; only the overridden lines change (or are added).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import partial

import msgspec
import yaml

from sai3bench.config.strictyaml import StrictLoader
from sai3bench.config.units import parse_duration
from sai3bench.config.uri import URI_HINT, normalize_uri, parse_uri
from sai3bench.errors import ConfigError, UsageError

_DURATION_HINT = "write a duration such as 30s, 5m, 1h30m or 500ms (a plain number is seconds)"


class Overrides(msgspec.Struct, frozen=True, kw_only=True):
    """The top-level values given on the command line (None: the YAML's)."""

    duration: str | None = None
    concurrency: int | None = None
    target: str | None = None

    def given(self) -> dict[str, str | int]:
        """Key -> value of the overrides that were given, in YAML key order."""
        return {k: v for k in self.__struct_fields__ if (v := getattr(self, k)) is not None}


def check_overrides(o: Overrides) -> None:
    """Refuse a bad value in one line naming the flag (exit 2), before anything is loaded."""
    if o.duration is not None:
        try:  # 0 is allowed: upstream's "no workload stage" (prepare, then cleanup)
            parse_duration(o.duration)
        except ValueError as exc:
            raise UsageError(f"--duration: {exc}", hint=_DURATION_HINT) from None
    if o.concurrency is not None and o.concurrency < 1:
        raise UsageError(
            f"--concurrency must be at least 1, got {o.concurrency}",
            hint="give the number of operations in flight, e.g. --concurrency 32",
        )
    if o.target is not None:
        try:
            parse_uri(normalize_uri(o.target))
        except ValueError as exc:
            raise UsageError(f"--target: {exc}", hint=URI_HINT) from None


def apply_overrides(text: str, o: Overrides) -> str:
    """``text`` with each given top-level key set to its override (added when absent), and a
    comment at the top saying which values the command line set."""
    given = o.given()
    if not given:
        return text
    text = set_top_level(text, given)
    flags = " ".join(f"--{k} {_shown(v)}" for k, v in given.items())
    return f"# effective values: the command line set {flags}\n{text}"


def set_top_level(text: str, values: Mapping[str, str | int]) -> str:
    """``text`` with each top-level key's line set to ``key: value`` (a comment after the old
    value kept), or the line added at the end when the key is absent (also autotune's).

    Where that line edit does not give the document with just those values changed (the value
    on the next line, a quoted key, a flow mapping, an anchor), the whole document is written
    out again instead: valid YAML that means exactly that, without the comments."""
    edited = _edit_lines(text, values)
    try:
        want = yaml.load(text, Loader=StrictLoader)  # safe: plain data
    except (yaml.YAMLError, ConfigError):
        return edited  # the loader reports what is wrong with the file itself
    if not isinstance(want, dict):
        return edited
    want.update(values)
    try:
        if yaml.load(edited, Loader=StrictLoader) == want:
            return edited
    except (yaml.YAMLError, ConfigError):
        pass
    return yaml.safe_dump(want, sort_keys=False, allow_unicode=True)


def _edit_lines(text: str, values: Mapping[str, str | int]) -> str:
    for key, value in values.items():
        line = f"{key}: {json.dumps(value)}"  # JSON scalars are YAML scalars
        pattern = re.compile(rf"^{key}[ \t]*:[^\n#]*", re.M)
        text, n = pattern.subn(partial(_keep_comment, line=line), text, count=1)
        if not n:
            text = text.rstrip("\n") + f"\n{line}\n"
    return text


def _keep_comment(m: re.Match[str], *, line: str) -> str:
    """The new line; a space before a comment that followed the old value (YAML needs one)."""
    return line + " " if m.string.startswith("#", m.end()) else line


def _shown(value: str | int) -> str | int:
    """A flag's value for the one-line comment: quoted when a newline in it would end the
    comment and put the rest into the YAML as a key of its own."""
    return value if str(value).isprintable() else json.dumps(value)
