"""Merge what every engine process did in a stage into one stage result, exactly.

Counters add; histograms merge bucket by bucket (lossless, so merged percentiles equal those of
one histogram fed every sample); the workload's wall time is the longest share's (they start at
one instant and share one deadline). The merged result is what a one-process run returns, so the
console block, the TSVs and results.json need no second code path.
"""

from __future__ import annotations

from collections.abc import Sequence

from sai3bench.engine.cleanup import CleanupResult
from sai3bench.engine.prepare import PreparedSet, PrepareResult
from sai3bench.engine.share_jobs import CleanupDone, PrepareDone, ShareDone, WorkloadDone
from sai3bench.engine.vitals import merge_vitals
from sai3bench.engine.workload import WorkloadResult
from sai3bench.metrics.collector import Collector
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.metrics.pace_stat import merge_pacing
from sai3bench.metrics.share_stat import ShareStat, share_stat
from sai3bench.outcome import Outcome
from sai3bench.plan.share import IndicesPerSet


def merge_endpoint_stats(parts: Sequence[list[EndpointStat] | None]) -> list[EndpointStat] | None:
    """Per-endpoint counters summed over shares (same endpoints, same order in every share)."""
    lists = [p for p in parts if p]
    if not lists:
        return None
    merged = list(lists[0])
    for other in lists[1:]:
        merged = [
            EndpointStat(
                a.index,
                a.uri,
                a.requests + b.requests,
                a.bytes_read + b.bytes_read,
                a.bytes_written + b.bytes_written,
                a.errors + b.errors,
                a.active + b.active,
            )
            for a, b in zip(merged, other, strict=True)
        ]
    return merged


def _collector(parts: Sequence[bytes]) -> Collector:
    merged = Collector()
    for blob in parts:
        merged.merge(Collector.decode(blob))
    return merged


def merge_prepare(
    sets: list[PreparedSet], dones: Sequence[ShareDone], assigned: Sequence[IndicesPerSet]
) -> PrepareResult:
    """Fill ``sets`` (existed counts and directories already planned) with what the shares
    created. A lost or failed share without a result has all its assigned indices counted as
    created: it may have made any of them, and cleanup then deletes them (already gone is
    fine), so nothing is unaccounted for."""
    results = [d.result for d in dones if isinstance(d.result, PrepareDone)]
    for d in dones:
        created = d.result.created if isinstance(d.result, PrepareDone) else None
        if created is None and (d.lost is not None or d.failure is not None):
            created = assigned[d.index]
        for ps, indices in zip(sets, created or [], strict=False):
            ps.created.extend(indices)
    for ps in sets:
        ps.created = type(ps.created)("q", sorted(ps.created))
    merged = PrepareResult(
        sets,
        _collector([r.collector for r in results]),
        max((r.wall_s for r in results), default=0.0),
    )
    merged.retries = sum(r.retries for r in results)
    merged.endpoint_stats = merge_endpoint_stats([r.endpoint_stats for r in results])
    return merged


def merge_workload(dones: Sequence[WorkloadDone]) -> WorkloadResult:
    merged = WorkloadResult(
        _collector([d.collector for d in dones]),
        max((d.wall_s for d in dones), default=0.0),
        sum(d.workers for d in dones),
    )
    merged.late = sum(d.late for d in dones)
    merged.retries = sum(d.retries for d in dones)
    merged.aborted = next((d.aborted for d in dones if d.aborted), None)
    merged.exhausted = sorted({label for d in dones for label in d.exhausted})
    merged.deleted_keys = {k for d in dones for k in d.deleted_keys}
    merged.first_error = next((d.first_error for d in dones if d.first_error), None)
    refused = next((d.refused for d in dones if d.refused), None)
    if refused is not None:
        merged.refused = (refused[0], refused[1], refused[2], Outcome(refused[3]))
    merged.endpoint_stats = merge_endpoint_stats([d.endpoint_stats for d in dones])
    merged.pacing = merge_pacing([d.pacing for d in dones])
    merged.vitals = merge_vitals([d.vitals for d in dones])
    return merged


def merge_cleanup(dones: Sequence[CleanupDone]) -> CleanupResult:
    merged = CleanupResult(
        _collector([d.collector for d in dones]), max((d.wall_s for d in dones), default=0.0)
    )
    for d in dones:
        merged.deleted += d.deleted
        merged.already_gone += d.already_gone
        merged.errors += d.errors
        merged.retries += d.retries
        merged.left.update(d.left)
        if d.last_failure is not None:
            uri, outcome, detail = d.last_failure
            merged.last_failure = (uri, Outcome(outcome), detail)
    return merged


def share_stats(
    dones: Sequence[ShareDone], offsets_ms: dict[str, float] | None = None
) -> list[ShareStat]:
    """One ShareStat per share that returned a result; the first-op offsets are measured from
    the earliest start (wall clock corrected by each host's offset, so hosts compare)."""
    offsets_ms = offsets_ms or {}
    starts: dict[int, float] = {}
    for d in dones:
        if isinstance(d.result, WorkloadDone):
            starts[d.index] = d.result.started_wall_ns / 1e6 - offsets_ms.get(d.host, 0.0)
    first = min(starts.values(), default=0.0)
    stats = []
    for d in dones:
        r = d.result
        if r is None:
            continue
        offset = starts.get(d.index)
        stats.append(
            share_stat(
                d.host,
                d.process,
                Collector.decode(r.collector),
                r.wall_s,
                None if offset is None else offset - first,
                offsets_ms.get(d.host),
            )
        )
    return stats
