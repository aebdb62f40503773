"""``replay --remap YAML``: rewrite each logged URI before it is replayed (upstream §2.9).

``rules:`` is an ordered list; the first rule that matches a URI rewrites it, and a URI no rule
matches is replayed as logged. Rule forms:

- ``{match: {host?, bucket?, prefix?}, map_to: {bucket, prefix?}}``
- ``{match_any: [MATCH, ...], map_to: {bucket, prefix?}}``
- ``{match: MATCH, map_to_many: {targets: [{bucket, prefix?}, ...], strategy}}`` with strategy
  ``round_robin`` (default), ``random`` or ``sticky_key`` (one key, one target)
- ``{regex: "^s3://prod-([^/]+)/(.*)$", replace: "s3://staging-$1/$2"}`` on the whole URI

A URI is ``scheme://[host:port/]bucket/path``; for ``file:///a/b/c`` (and direct://) the
bucket is ``a``.
``match.prefix`` tests the path below the bucket. ``map_to`` sets the bucket; an empty
``map_to.prefix`` keeps the path, a non-empty one replaces the part ``match.prefix`` matched
(prepended when the rule matched no prefix). Upstream replaces the whole directory part
instead, dropping subdirectories below the matched prefix; here nothing but the matched part
changes.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

import yaml

from sai3bench.config.strictyaml import StrictLoader, check_nesting
from sai3bench.config.text import decode_config, read_config_bytes
from sai3bench.errors import ConfigError, one_line

_HINT: Final = "see README 'Replay': rules: [{match: {bucket: b}, map_to: {bucket: c}}, ...]"
_STRATEGIES: Final = ("round_robin", "random", "sticky_key")
#: Schemes whose URIs are absolute paths (``file:///a/b``: the bucket is ``a``).
_LOCAL: Final = ("file", "direct")


class UriParts(NamedTuple):
    """``scheme://[host/]bucket/path`` split; ``host`` is '' unless the URI names one."""

    scheme: str
    host: str
    bucket: str
    path: str

    @classmethod
    def of(cls, uri: str) -> UriParts:
        scheme, _, rest = uri.partition("://")
        rest = rest.removeprefix("/") if scheme in _LOCAL else rest
        first, _, tail = rest.partition("/")
        if ":" in first:  # an endpoint in the URI: s3://host:port/bucket/key
            bucket, _, path = tail.partition("/")
            return cls(scheme, first, bucket, path)
        return cls(scheme, "", first, tail)

    def uri(self) -> str:
        root = "/" if self.scheme in _LOCAL else ""
        host = f"{self.host}/" if self.host else ""
        return f"{self.scheme}://{root}{host}{self.bucket}/{self.path}"


class Match(NamedTuple):
    host: str | None = None
    bucket: str | None = None
    prefix: str | None = None

    def test(self, u: UriParts) -> bool:
        return (
            (self.host is None or u.host == self.host)
            and (self.bucket is None or u.bucket == self.bucket)
            and (self.prefix is None or u.path.startswith(self.prefix))
        )


class Target(NamedTuple):
    bucket: str
    prefix: str = ""

    def apply(self, u: UriParts, matched: Match) -> str:
        path = u.path
        if self.prefix:
            path = self.prefix + path[len(matched.prefix or "") :]
        return u._replace(bucket=self.bucket, path=path).uri()


class Rule:
    """One rule: which URIs it takes (``matches``), and where it sends them (``targets``)."""

    def __init__(
        self,
        matches: Sequence[Match],
        targets: Sequence[Target],
        strategy: str = "round_robin",
        regex: tuple[re.Pattern[str], str] | None = None,
    ) -> None:
        self.matches = matches
        self.targets = targets
        self.strategy = strategy
        self.regex = regex
        self._next = 0
        self._rng = random.Random(0)

    def __repr__(self) -> str:
        return f"<Rule {self.matches or self.regex} -> {self.targets} {self.strategy}>"

    def rewrite(self, uri: str) -> str | None:
        """The new URI, or None when this rule does not match."""
        if self.regex is not None:
            pattern, replace = self.regex
            return pattern.sub(replace, uri, count=1) if pattern.search(uri) else None
        u = UriParts.of(uri)
        matched = next((m for m in self.matches if m.test(u)), None)
        if matched is None:
            return None
        return self._pick(u.path).apply(u, matched)

    def _pick(self, key: str) -> Target:
        n = len(self.targets)
        if n == 1 or self.strategy == "sticky_key":
            return self.targets[zlib.crc32(key.encode()) % n]
        if self.strategy == "random":
            return self.targets[self._rng.randrange(n)]
        i = self._next
        self._next = (i + 1) % n
        return self.targets[i]


class Remap:
    """An ordered rule list: the first match wins."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = rules

    def __repr__(self) -> str:
        return f"<Remap {len(self.rules)} rules>"

    def __call__(self, uri: str) -> str:
        for rule in self.rules:
            new = rule.rewrite(uri)
            if new is not None:
                return new
        return uri


def parse_remap(doc: Any) -> Remap:
    """A remap document (parsed YAML) -> Remap; ConfigError naming the bad rule."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise ConfigError("remap: expected a mapping with a 'rules:' list", hint=_HINT)
    if set(doc) != {"rules"}:
        raise ConfigError(f"remap: unknown keys {sorted(set(doc) - {'rules'})}", hint=_HINT)
    return Remap([_rule(f"rules[{k}]", r) for k, r in enumerate(doc["rules"])])


def _rule(path: str, raw: Any) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"remap: {path}: expected a mapping, got {raw!r}", hint=_HINT)
    keys = set(raw)
    if keys == {"regex", "replace"}:
        return Rule([], [], regex=_regex(path, raw["regex"], raw["replace"]))
    if keys == {"match", "map_to"}:
        return Rule([_match(path, raw["match"])], [_target(f"{path}.map_to", raw["map_to"])])
    if keys == {"match_any", "map_to"} and isinstance(raw["match_any"], list) and raw["match_any"]:
        matches = [_match(f"{path}.match_any[{k}]", m) for k, m in enumerate(raw["match_any"])]
        return Rule(matches, [_target(f"{path}.map_to", raw["map_to"])])
    if keys == {"match", "map_to_many"}:
        return _many(path, _match(path, raw["match"]), raw["map_to_many"])
    raise ConfigError(
        f"remap: {path}: keys {sorted(keys)} are not a rule",
        hint="a rule is match + map_to, match_any + map_to, match + map_to_many, "
        "or regex + replace",
    )


def _many(path: str, match: Match, raw: Any) -> Rule:
    where = f"{path}.map_to_many"
    if (
        not isinstance(raw, Mapping)
        or not isinstance(raw.get("targets"), list)
        or not raw["targets"]
    ):
        raise ConfigError(f"remap: {where}: expected targets: [{{bucket: ...}}, ...]", hint=_HINT)
    strategy = raw.get("strategy", "round_robin")
    if strategy not in _STRATEGIES or set(raw) - {"targets", "strategy"}:
        raise ConfigError(
            f"remap: {where}: strategy {strategy!r} or keys {sorted(raw)} not understood",
            hint="strategy is one of " + ", ".join(_STRATEGIES),
        )
    targets = [_target(f"{where}.targets[{k}]", t) for k, t in enumerate(raw["targets"])]
    return Rule([match], targets, strategy)


def _match(path: str, raw: Any) -> Match:
    if not isinstance(raw, Mapping) or set(raw) - set(Match._fields):
        raise ConfigError(
            f"remap: {path}.match: expected a mapping of host, bucket, prefix", hint=_HINT
        )
    return Match(**{k: _text(f"{path}.{k}", v) for k, v in raw.items()})


def _target(path: str, raw: Any) -> Target:
    if not isinstance(raw, Mapping) or "bucket" not in raw or set(raw) - {"bucket", "prefix"}:
        raise ConfigError(f"remap: {path}: expected {{bucket: NAME, prefix: P}}", hint=_HINT)
    return Target(
        _text(f"{path}.bucket", raw["bucket"]), _text(f"{path}.prefix", raw.get("prefix", ""))
    )


def _text(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"remap: {path}: expected text, got {value!r}", hint=_HINT)
    return value


def _regex(path: str, pattern: Any, replace: Any) -> tuple[re.Pattern[str], str]:
    """Upstream's ``$1``/``${1}`` references become Python's ``\\g<1>``."""
    try:
        compiled = re.compile(_text(f"{path}.regex", pattern))
    except re.error as exc:
        raise ConfigError(
            f"remap: {path}.regex: {exc}", hint="a Python regular expression"
        ) from None
    template = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", _text(f"{path}.replace", replace))
    return compiled, template


def load_remap(path: Path) -> Remap:
    """``--remap FILE``: the YAML read as configs are (size cap, duplicate keys refused)."""
    text = decode_config(read_config_bytes(path))
    check_nesting(text)
    try:
        doc = yaml.load(text, Loader=StrictLoader)  # safe: plain data, no Python objects
    except yaml.YAMLError as exc:
        raise ConfigError(f"remap {path}: not YAML: {one_line(exc)}", hint=_HINT) from None
    return parse_remap(doc)
