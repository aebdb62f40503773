"""Per-endpoint counters of one stage: made where multi_endpoint routes ops, printed by report/.

Its own bottom module so that report/ need not import the backend that fills it in.
"""

from __future__ import annotations

import msgspec


class EndpointStat(msgspec.Struct, frozen=True):
    """One endpoint's counters over a stage (a difference of two snapshots)."""

    index: int
    uri: str
    requests: int
    bytes_read: int
    bytes_written: int
    errors: int
    active: int
