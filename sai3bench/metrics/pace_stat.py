"""What open-loop rate control (io_rate) offered and achieved: one share's figures, travelling
in its WorkloadDone, and the run's, merged by the coordinator. Pure data; engine/paced.py
fills it."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

#: Slots still waiting at the end, as a share of those started, above which the run says
#: plainly that it fell behind (at least one). Not "achieved < offered": a schedule's count over
#: a window shorter than one of its blocks (a slow rate) is not exactly the rate x the window,
#: and every slot that was not started by the end is in this backlog.
BEHIND_SHARE = 0.01


class PaceResult(msgspec.Struct, frozen=True, kw_only=True):
    """What rate control offered and achieved in one share, or in the whole run once merged.

    ``started`` counts ops started in the window (the achieved rate's numerator, whatever their
    outcome); ``max_backlog`` is the most slots that were past due and not yet started (summed
    over shares when merged: an upper bound of the run's, as the shares peak apart).
    """

    distribution: str
    offered_iops: float
    started: int
    window_s: float
    max_backlog: int
    backlog_end: int

    @property
    def achieved_iops(self) -> float:
        return self.started / self.window_s if self.window_s > 0 else 0.0

    @property
    def kept(self) -> bool:
        """Every slot due by the end started, give or take 1 % (at least one)."""
        return self.backlog_end <= max(1, int(self.started * BEHIND_SHARE))


def merge_pacing(parts: Sequence[PaceResult | None]) -> PaceResult | None:
    """The run's pacing from its shares' (None when the run was not paced)."""
    done = [p for p in parts if p is not None]
    if not done:
        return None
    return PaceResult(
        distribution=done[0].distribution,
        offered_iops=sum(p.offered_iops for p in done),
        started=sum(p.started for p in done),
        window_s=max(p.window_s for p in done),
        max_backlog=sum(p.max_backlog for p in done),
        backlog_end=sum(p.backlog_end for p in done),
    )
