"""The stage and network flags of ``sai3bench run``: what the coordinator and every engine
process of a run share (it travels to child processes and Dask workers with each share)."""

from __future__ import annotations

import msgspec

from sai3bench.http.endpoint import DEFAULT_FIRST_BYTE_TIMEOUT


class RunOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The stage flags of ``sai3bench run`` (combinations are checked by the CLI)."""

    prepare_only: bool = False
    skip_prepare: bool = False
    no_cleanup: bool = False
    cleanup_only: bool = False
    verify: bool = False
    seed: int | None = None
    insecure: bool = False
    http2: bool = False
    sign_payload: bool = False
    #: Seconds from a request sent to its first response byte (--first-byte-timeout).
    first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT
    #: --op-log FILE (or the YAML's op_log_path): every op into upstream's op-log.
    op_log: str | None = None
    #: When the run started (wall ns): an op-log file older than this is replaced, a newer
    #: one (an earlier stage of this run) appended to.
    op_log_since_ns: int = 0
