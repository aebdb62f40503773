"""The coordinator's merge of per-process stage results (sai3bench/engine/share_merge.py).

Hand-made ShareDone/PrepareDone/WorkloadDone/CleanupDone values, as they come back over the
wire: counters must add, histograms must merge to exactly what one collector fed every sample
holds, and the books must balance (a lost prepare share's indices count as created, so cleanup
deletes them; the workload's deleted keys are the union of every share's).
"""

from __future__ import annotations

import random
from typing import Any, cast

import msgspec
import pytest

from sai3bench.config.load import load_config
from sai3bench.engine.coordinator import raise_first
from sai3bench.engine.prepare import PreparedSet
from sai3bench.engine.share_jobs import (
    CleanupDone,
    Failure,
    PrepareDone,
    ShareDone,
    WorkloadDone,
)
from sai3bench.engine.share_merge import (
    merge_cleanup,
    merge_endpoint_stats,
    merge_prepare,
    merge_workload,
    share_stats,
)
from sai3bench.errors import CredentialError, RunFailed
from sai3bench.metrics.collector import Collector, OpClass, OpKind
from sai3bench.metrics.endpoint_stat import EndpointStat
from sai3bench.outcome import Outcome
from sai3bench.plan.tasks import is_mixed, prepare_sets

QUANTILES = (0.0, 0.5, 0.9, 0.99, 0.999, 1.0)


def _fed(rng: random.Random, n: int, kinds: tuple[OpKind, ...]) -> list[tuple[int, int, int]]:
    """``n`` (kind, bytes, latency ns) samples over several size buckets and latency decades."""
    return [
        (int(rng.choice(kinds)), rng.choice((0, 1, 4096, 70_000, 3 << 20)), rng.randrange(10**9))
        for _ in range(n)
    ]


def _collectors(
    samples: list[tuple[int, int, int]], parts: int, rng: random.Random
) -> tuple[Collector, list[Collector]]:
    """One collector fed every sample (and error/retry/ttfb), and ``parts`` collectors that
    got a random share of each."""
    whole, shares = Collector(), [Collector() for _ in range(parts)]
    for kind, nbytes, lat in samples:
        part = rng.choice(shares)
        for c in (whole, part):
            c.record(kind, nbytes, lat)
            c.record_ttfb(kind, lat // 2)
            if lat % 7 == 0:
                c.record_error(kind, Outcome.SERVER_ERROR)
            if lat % 11 == 0:
                c.record_retry(kind, Outcome.TIMEOUT)
    return whole, shares


def _assert_same(merged: Collector, whole: Collector) -> None:
    assert merged.encode() == whole.encode()  # every counter and every histogram bucket
    for cls in OpClass:
        assert merged.merged(cls).percentiles(QUANTILES) == whole.merged(cls).percentiles(QUANTILES)
        assert merged.ttfb(cls) == whole.ttfb(cls)
    assert merged.errors() == whole.errors() and merged.retry_outcomes() == whole.retry_outcomes()


def _ep(
    index: int, requests: int, read: int = 0, written: int = 0, errors: int = 0
) -> EndpointStat:
    return EndpointStat(index, f"http://10.0.0.{index}/", requests, read, written, errors, 0)


def _sets(count: int = 10) -> list[PreparedSet]:
    """The two prepare sets (prepared-, deletable-) of a get+delete config, no backend."""
    config = load_config(
        f"""
target: file:///tmp/never/
workload: [{{op: get, path: d/*, weight: 1}}, {{op: delete, path: d/*, weight: 1}}]
prepare: {{ensure_objects: [{{base_uri: d/, count: {count}, size_spec: 1KiB}}]}}
"""
    ).config
    psets = prepare_sets(config.prepare, mixed=is_mixed(config))
    return [PreparedSet(p, cast(Any, None), "d/") for p in psets]


def _prepare_done(
    collector: Collector, created: list[list[int]], wall: float, retries: int = 0
) -> PrepareDone:
    return PrepareDone(collector=collector.encode(), wall_s=wall, retries=retries, created=created)


# -- prepare ----------------------------------------------------------------------------------


def test_merge_prepare_adds_counts_and_merges_histograms_exactly() -> None:
    rng = random.Random(9)
    whole, parts = _collectors(_fed(rng, 3000, (OpKind.PUT,)), 3, rng)
    assigned = [[[0, 3, 6, 9], [1]], [[1, 4, 7], [0]], [[2, 5, 8], []]]
    dones = [
        ShareDone(
            index=k,
            process=k,
            result=_prepare_done(c, assigned[k], wall=1.0 + k, retries=k),
        )
        for k, c in enumerate(parts)
    ]
    sets = _sets()
    sets[0].existed = 5
    result = merge_prepare(sets, dones, assigned)
    _assert_same(result.collector, whole)
    assert list(sets[0].created) == list(range(10)) and list(sets[1].created) == [0, 1]
    assert result.created == 12 and result.existed == 5  # planned existed counts stay
    assert result.wall_s == 3.0 and result.retries == 0 + 1 + 2
    assert result.endpoint_stats is None


def test_merge_prepare_counts_a_lost_shares_assigned_indices_as_created() -> None:
    """It may have made any of them before it died: cleanup must try every one."""
    assigned = [[[0, 2, 4], [1]], [[1, 3], [0, 2]]]
    dones = [
        ShareDone(index=0, result=_prepare_done(Collector(), [[0, 2, 4], [1]], wall=0.5)),
        ShareDone(index=1, lost="local process 1 (pid 4242) died (killed by SIGKILL)"),
    ]
    sets = _sets(5)
    merge_prepare(sets, dones, assigned)
    assert list(sets[0].created) == [0, 1, 2, 3, 4]
    assert list(sets[1].created) == [0, 1, 2]


def test_merge_prepare_counts_a_failed_share_without_a_result_as_lost() -> None:
    """A share that raised (say a CredentialError after some PUTs) sent no created list: its
    assigned indices count as created, or cleanup would leave what it made."""
    assigned = [[[0, 2, 4], [1]], [[1, 3], [0, 2]]]
    dones = [
        ShareDone(index=0, result=_prepare_done(Collector(), [[0, 2, 4], [1]], wall=0.5)),
        ShareDone(index=1, failure=Failure("CredentialError", "credentials expired")),
    ]
    sets = _sets(5)
    merge_prepare(sets, dones, assigned)
    assert list(sets[0].created) == [0, 1, 2, 3, 4]
    assert list(sets[1].created) == [0, 1, 2]


def test_a_share_failure_is_raised_again_as_its_own_class() -> None:
    with pytest.raises(CredentialError) as err:
        raise_first([None, Failure("CredentialError", "no key", "set AWS_ACCESS_KEY_ID")])
    assert err.value.msg == "no key" and err.value.hint == "set AWS_ACCESS_KEY_ID"
    with pytest.raises(RunFailed, match="odd"):  # an unknown kind is never dropped
        raise_first([Failure("SomethingNew", "odd")])
    raise_first([None, None])  # no failure: nothing raised


def test_merge_prepare_keeps_what_a_failed_share_reports_it_created() -> None:
    """A PrepareFailed share returns its partial result: exactly those count, not its share."""
    assigned = [[[0, 2, 4], []], [[1, 3], []]]
    dones = [
        ShareDone(index=0, result=_prepare_done(Collector(), [[0, 2, 4], []], wall=0.5)),
        ShareDone(
            index=1,
            result=_prepare_done(Collector(), [[3], []], wall=0.2),
            failure=Failure("PrepareFailed", "1 of 2 objects failed", failed=1),
        ),
    ]
    sets = _sets(5)
    merge_prepare(sets, dones, assigned)
    assert list(sets[0].created) == [0, 2, 3, 4] and list(sets[1].created) == []


def test_merge_prepare_sums_endpoint_stats() -> None:
    a = _prepare_done(Collector(), [[], []], wall=0.1)
    dones = [
        ShareDone(index=0, result=msgspec.structs.replace(a, endpoint_stats=[_ep(0, 3, 0, 30)])),
        ShareDone(index=1, result=msgspec.structs.replace(a, endpoint_stats=[_ep(0, 4, 0, 40, 1)])),
    ]
    result = merge_prepare(_sets(), dones, [[[], []], [[], []]])
    assert result.endpoint_stats == [_ep(0, 7, 0, 70, 1)]


# -- workload ---------------------------------------------------------------------------------


def _workload_done(collector: Collector, **kw: Any) -> WorkloadDone:
    fields: dict[str, Any] = {
        "collector": collector.encode(),
        "wall_s": 2.0,
        "workers": 1,
        "late": 0,
        "retries": 0,
        "aborted": None,
        "exhausted": [],
        "deleted_keys": [],
        "first_error": None,
        "refused": None,
        "endpoint_stats": None,
        "started_mono_ns": 0,
        "started_wall_ns": 0,
    }
    fields.update(kw)
    return WorkloadDone(**fields)


@pytest.mark.parametrize("parts", [1, 2, 5])
def test_merge_workload_is_one_collector_fed_everything(parts: int) -> None:
    rng = random.Random(parts)
    whole, cols = _collectors(_fed(rng, 5000, tuple(OpKind)), parts, rng)
    dones = [
        _workload_done(
            c,
            wall_s=2.0 + k / 100,
            workers=k + 1,
            late=k,
            retries=2 * k,
            deleted_keys=[f"d/deletable-{k:08}.dat", f"d/deletable-{k + 10:08}.dat"],
            exhausted=["delete d/*"] if k else [],
            endpoint_stats=[_ep(0, 10 * k, 5 * k), _ep(1, k, 0, k)],
        )
        for k, c in enumerate(cols)
    ]
    merged = merge_workload(dones)
    _assert_same(merged.collector, whole)
    assert merged.wall_s == 2.0 + (parts - 1) / 100  # the longest share
    assert merged.workers == sum(range(1, parts + 1))
    assert merged.late == sum(range(parts)) and merged.retries == 2 * sum(range(parts))
    assert merged.deleted_keys == {
        f"d/deletable-{i:08}.dat" for k in range(parts) for i in (k, k + 10)
    }
    assert merged.exhausted == (["delete d/*"] if parts > 1 else [])
    assert merged.endpoint_stats == [
        _ep(0, 10 * sum(range(parts)), 5 * sum(range(parts))),
        _ep(1, sum(range(parts)), 0, sum(range(parts))),
    ]
    assert merged.aborted is None and merged.first_error is None and merged.refused is None


def test_merge_workload_keeps_the_first_abort_error_and_refusal() -> None:
    dones = [
        _workload_done(Collector()),
        _workload_done(
            Collector(),
            aborted="max_total_errors (10) reached",
            first_error=("d/x", "503 Slow Down"),
            refused=("get d/*", "d/x", "403 Forbidden", int(Outcome.PERMISSION)),
            exhausted=["delete d/*"],
        ),
        _workload_done(Collector(), aborted="later", exhausted=["delete d/*", "delete e/*"]),
    ]
    merged = merge_workload(dones)
    assert merged.aborted == "max_total_errors (10) reached"
    assert merged.first_error == ("d/x", "503 Slow Down")
    assert merged.refused == ("get d/*", "d/x", "403 Forbidden", Outcome.PERMISSION)
    assert isinstance(merged.refused[3], Outcome)
    assert merged.exhausted == ["delete d/*", "delete e/*"]  # once each


# -- cleanup ----------------------------------------------------------------------------------


def test_merge_cleanup_adds_every_counter_and_the_left_behind_by_place() -> None:
    rng = random.Random(3)
    whole, cols = _collectors(_fed(rng, 400, (OpKind.DELETE,)), 2, rng)
    a = CleanupDone(
        collector=cols[0].encode(),
        wall_s=0.3,
        deleted=10,
        already_gone=1,
        errors=2,
        retries=3,
        left={"s3://b/d/prepared-*": 2},
        last_failure=None,
    )
    b = CleanupDone(
        collector=cols[1].encode(),
        wall_s=0.7,
        deleted=20,
        already_gone=0,
        errors=5,
        retries=1,
        left={"s3://b/d/prepared-*": 1, "s3://b/d/deletable-*": 4},
        last_failure=("s3://b/d/deletable-00000003.dat", int(Outcome.SERVER_ERROR), "503"),
    )
    merged = merge_cleanup([a, b])
    _assert_same(merged.collector, whole)
    assert (merged.deleted, merged.already_gone, merged.errors, merged.retries) == (30, 1, 7, 4)
    assert dict(merged.left) == {"s3://b/d/prepared-*": 3, "s3://b/d/deletable-*": 4}
    assert merged.wall_s == 0.7
    assert merged.last_failure == (
        "s3://b/d/deletable-00000003.dat",
        Outcome.SERVER_ERROR,
        "503",
    )


def test_merge_cleanup_of_nothing_is_empty() -> None:
    merged = merge_cleanup([])
    assert (merged.deleted, merged.errors, merged.wall_s, merged.collector.ops()) == (0, 0, 0.0, 0)


# -- endpoint stats and per-share figures -------------------------------------------------------


def test_merge_endpoint_stats_sums_per_endpoint_and_skips_shares_without() -> None:
    assert merge_endpoint_stats([None, None]) is None
    assert merge_endpoint_stats([]) is None
    merged = merge_endpoint_stats(
        [
            [_ep(0, 1, 2, 3, 4), _ep(1, 5, 6, 7, 8)],
            None,
            [_ep(0, 10, 20, 30, 40), _ep(1, 1, 1, 1, 1)],
        ]
    )
    assert merged == [_ep(0, 11, 22, 33, 44), _ep(1, 6, 7, 8, 9)]


def test_merge_endpoint_stats_refuses_shares_with_different_endpoints() -> None:
    with pytest.raises(ValueError):
        merge_endpoint_stats([[_ep(0, 1)], [_ep(0, 1), _ep(1, 1)]])


def test_share_stats_measure_first_ops_from_the_earliest_and_skip_lost_shares() -> None:
    c = Collector()
    c.record(OpKind.GET, 100, 1000)
    dones = [
        ShareDone(index=0, process=0, result=_workload_done(c, started_wall_ns=5_000_000)),
        ShareDone(index=1, process=1, lost="local process 1 (pid 1) hung"),
        ShareDone(index=2, process=2, result=_workload_done(c, started_wall_ns=2_000_000)),
    ]
    stats = share_stats(dones)
    assert [(s.process, s.ops, s.first_op_ms) for s in stats] == [(0, 1, 3.0), (2, 1, 0.0)]
