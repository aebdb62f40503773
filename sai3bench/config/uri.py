"""Storage URIs: split them, check them, and join relative workload paths to the target.

Owns: the five schemes (file, direct, s3, gs, az), their aliases (gcs, azure) and the rule for
joining a relative path to the top-level ``target``.
Never: resolves globs, touches the network or the file system, or reads credentials. ``*`` and
a trailing ``/`` are kept verbatim; the planner gives them meaning.
"""

from __future__ import annotations

import msgspec

from sai3bench.config.units import show

__all__ = [
    "ALIASES",
    "SCHEMES",
    "URI_HINT",
    "ParsedUri",
    "join_target",
    "normalize_uri",
    "parse_uri",
]

SCHEMES: tuple[str, ...] = ("file", "direct", "s3", "gs", "az")
"""Canonical scheme names, in the order error messages list them."""

ALIASES: dict[str, str] = {"gcs": "gs", "azure": "az"}
"""Accepted spellings that upstream also takes; they are rewritten to the canonical name."""

URI_HINT = "write an absolute URI such as file:///data/, s3://bucket/prefix/ or az://acct/cont/"
"""The hint under every bad-URI error, in a config or on the command line."""

_LOCAL = frozenset({"file", "direct"})


class ParsedUri(msgspec.Struct, frozen=True):
    """One URI split into parts.

    Attributes:
        scheme: canonical scheme (aliases already resolved).
        authority: bucket (s3, gs; may carry ``host:port`` for multi-endpoint S3) or account
            (az); ``""`` for file and direct.
        path: for file/direct the absolute path (starts with ``/``); otherwise the key or prefix
            after the authority, without its leading ``/`` (for az it starts with the container).
    """

    scheme: str
    authority: str
    path: str


def _split_scheme(uri: str) -> tuple[str, str]:
    """Return (canonical scheme, rest after '://'), or raise ValueError."""
    head, sep, rest = uri.partition("://")
    if not sep or not head:
        raise ValueError(
            f"no scheme in {show(uri, 300)}: expected <scheme>://..., scheme one of {_names()}"
        )
    scheme = head.lower()
    scheme = ALIASES.get(scheme, scheme)
    if scheme not in SCHEMES:
        raise ValueError(
            f"unknown scheme {show(head)} in {show(uri, 300)}: supported are {_names()}"
        )
    return scheme, rest


def _names() -> str:
    return (
        ", ".join(SCHEMES) + " (aliases: " + ", ".join(f"{a}={c}" for a, c in ALIASES.items()) + ")"
    )


def parse_uri(uri: str) -> ParsedUri:
    """Split and check a storage URI.

    ``file:///abs/path`` and ``direct:///abs/path`` must be absolute (three slashes);
    ``s3://bucket/prefix``, ``gs://bucket/prefix`` need a bucket; ``az://account/container/path``
    needs an account and a container.

    Raises:
        ValueError: with the reason: no scheme, unknown scheme (naming the supported ones),
            a relative file/direct path, a missing bucket, account or container, a NUL
            character, or (cloud schemes) any other control character.
    """
    if not uri:
        raise ValueError(f"empty URI: expected <scheme>://..., scheme one of {_names()}")
    if "\0" in uri:  # no file system, URL or object key takes it; open() would raise
        raise ValueError(
            f"{show(uri, 300)} contains a NUL character (at position {uri.index(chr(0))})"
        )
    scheme, rest = _split_scheme(uri)
    bad = next((c for c in rest if c < " " or c == "\x7f"), None)
    if bad is not None and scheme not in _LOCAL:  # would break a request line or list XML
        raise ValueError(f"{show(uri, 300)} contains the control character {bad!r}")
    if scheme in _LOCAL:
        if not rest.startswith("/"):
            cut = rest if len(rest) <= 60 else rest[:57] + "..."
            raise ValueError(
                f"{scheme}:// path must be absolute: {show(uri, 300)} "
                f"(write {scheme}:///{cut} for /{cut})"
            )
        return ParsedUri(scheme=scheme, authority="", path=rest)
    authority, _, path = rest.partition("/")
    if not authority:
        what = "account" if scheme == "az" else "bucket"
        raise ValueError(f"{show(uri, 300)} has no {what}: expected {scheme}://{_shape(scheme)}")
    if scheme == "az" and not path.partition("/")[0]:
        raise ValueError(f"{show(uri, 300)} has no container: expected az://{_shape('az')}")
    return ParsedUri(scheme=scheme, authority=authority, path=path)


def _shape(scheme: str) -> str:
    return "ACCOUNT/CONTAINER/path" if scheme == "az" else "BUCKET/prefix"


def normalize_uri(uri: str) -> str:
    """Rewrite an alias scheme (``gcs://``, ``azure://``, any case) to its canonical name.

    The rest of the URI is kept byte for byte. A string without ``://`` is returned unchanged.
    Does not validate; call ``parse_uri`` for that.
    """
    head, sep, rest = uri.partition("://")
    if not sep:
        return uri
    low = head.lower()
    canon = ALIASES.get(low, low)
    return f"{canon}://{rest}" if canon in SCHEMES else uri


def join_target(target: str | None, path: str) -> str:
    """Resolve a workload or prepare path against the top-level ``target``.

    A path containing ``://`` is absolute and returned (alias-normalised). Otherwise the path is
    appended to the target with exactly one ``/`` between them: ``"file:///t"`` and
    ``"file:///t/"`` joined with ``"data"`` or ``"/data"`` all give ``"file:///t/data"``, and
    ``"/"`` gives ``"file:///t/"``. (Upstream concatenates a leading ``/`` verbatim, which makes
    ``//``; that is not kept.) An empty path returns the target itself, as upstream does for
    ``path: ""``.

    Raises:
        ValueError: for a relative path with no target.
    """
    if "://" in path:
        return normalize_uri(path)
    if target is None:
        raise ValueError("relative path needs a top-level target")
    target = normalize_uri(target)
    if not path:
        return target
    base = target if target.endswith("/") else target + "/"
    return base + path.lstrip("/")
