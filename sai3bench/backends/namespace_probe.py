"""multi_endpoint over local directories: do the endpoints really serve one namespace?

Upstream (and sai3bench) route every op to any endpoint, which is right only when each endpoint
shows the same objects: NFS mounts of one export, a parallel file system mounted twice, several
NICs of one S3 store. Several upstream configs point file:// endpoints at separate directories
of one disk instead. There an object PUT through one endpoint is NOT_FOUND through the others, a
third or more of the GETs fail, and cleanup cannot find what it made. This module notices that
before any stage, for file:// and direct:// endpoints only (a probe file costs nothing there;
on an object store it would be a write to someone's bucket). It warns rather than refuses:
upstream runs such configs, and the warning says what the numbers will mean.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Final

from sai3bench.config.schema import Config
from sai3bench.config.uri import parse_uri

__all__ = ["namespace_warning"]

_LOCAL: Final = frozenset({"file", "direct"})
_PROBE: Final = ".sai3-namespace-probe-"


def namespace_warning(config: Config) -> str | None:
    """A warning when the local multi_endpoint endpoints are separate directories; else None."""
    me = config.multi_endpoint
    if me is None or len(me.endpoints) < 2:
        return None
    uris = list(me.endpoints)
    if not all(parse_uri(u).scheme in _LOCAL for u in uris):
        return None
    dirs = [parse_uri(u).path for u in uris]
    apart = _apart(dirs)
    if apart is None:
        return None
    return (
        f"multi_endpoint: {uris[apart]} does not show what {uris[0]} holds (separate "
        "directories, not one namespace): ops are spread over every endpoint, so objects made "
        "through one are NOT_FOUND through the others and cleanup cannot reach them all; point "
        "every endpoint at one shared file system (e.g. NFS mounts of one export)"
    )


def _apart(dirs: list[str]) -> int | None:
    """The index of the first directory that does not see the first one's files, or None."""
    first = dirs[0]
    if not all(os.path.isdir(d) for d in dirs):
        # Not made yet (prepare makes them): only the same path can be the same namespace.
        real = os.path.realpath(first)
        return next((i for i, d in enumerate(dirs) if os.path.realpath(d) != real), None)
    name = f"{_PROBE}{uuid.uuid4().hex}"
    probe = os.path.join(first, name)
    try:
        with open(probe, "xb"):
            pass
    except OSError:  # read-only or not ours to write: no probe, no claim
        return None
    try:
        return next(
            (i for i, d in enumerate(dirs[1:], 1) if not os.path.exists(os.path.join(d, name))),
            None,
        )
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)
