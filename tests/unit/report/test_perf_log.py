"""perf_log.tsv: upstream's header and row format (golden), per-interval percentiles, warmup
intervals kept out of the summary, and the coordinator's merge of intervals across shares."""

from __future__ import annotations

from pathlib import Path

from sai3bench.engine.cpustat import cpu_shares
from sai3bench.engine.intervals import IntervalMerger, IntervalPart, MergedInterval
from sai3bench.metrics.collector import Collector, OpClass, OpKind
from sai3bench.metrics.intervals import Intervals
from sai3bench.outcome import Outcome
from sai3bench.report.perf_log import PERF_LOG_HEADER, PerfLogWriter, format_row

S = 1_000_000_000
#: Upstream's header at HEAD, verbatim (reference §3.7).
UPSTREAM_HEADER = (
    "agent_id\ttimestamp_epoch_ms\telapsed_s\tstage\tget_ops\tget_bytes\tget_iops\tget_mbps\t"
    "get_mean_us\tget_p50_us\tget_p90_us\tget_p99_us\tput_ops\tput_bytes\tput_iops\tput_mbps\t"
    "put_mean_us\tput_p50_us\tput_p90_us\tput_p99_us\tmeta_ops\tmeta_iops\tmeta_mean_us\t"
    "meta_p50_us\tmeta_p90_us\tmeta_p99_us\tcpu_user_pct\tcpu_system_pct\tcpu_iowait_pct\terrors"
)


def _merged(
    collector: Collector, *, stage: str = "workload", warmup: bool = False
) -> MergedInterval:
    return MergedInterval(
        stage=stage,
        index=3,
        start_s=1.5,
        end_s=2.0,
        warmup=warmup,
        wall_ms=1733836800123,
        cpu=(25.55, 10.21, 5.0),
        collector=collector,
        shares=1,
    )


def test_header_is_upstreams_30_columns() -> None:
    assert PERF_LOG_HEADER == UPSTREAM_HEADER
    assert len(PERF_LOG_HEADER.split("\t")) == 30


def test_row_golden() -> None:
    """Counts and bytes as integers, rates over the interval (0.5 s): iops %.1f, MiB/s %.2f,
    latencies in whole µs, CPU %.1f, the interval's failed ops."""
    c = Collector()
    for us in (100, 200, 300, 400):
        c.record(OpKind.GET, 1048576, us * 1000)
    c.record(OpKind.PUT, 4096, 2_000_000)
    c.record(OpKind.STAT, 0, 50_000)
    c.record(OpKind.DELETE, 0, 70_000)
    c.record_error(OpKind.GET, Outcome.THROTTLED)
    row = format_row(_merged(c))
    assert row == (
        "standalone\t1733836800123\t2.000\tWorkload"
        "\t4\t4194304\t8.0\t8.00\t250\t200\t400\t400"
        "\t1\t4096\t2.0\t0.01\t2000\t2000\t2000\t2000"
        "\t2\t4.0\t60\t50\t70\t70"
        "\t25.6\t10.2\t5.0\t1\n"
    )
    assert len(row.rstrip("\n").split("\t")) == 30


def test_empty_interval_and_stage_names() -> None:
    fields = format_row(_merged(Collector(), stage="prepare")).rstrip("\n").split("\t")
    assert fields[3] == "Prepare"
    assert fields[4:26] == ["0", "0", "0.0", "0.00", "0", "0", "0", "0"] * 2 + [
        "0",
        "0.0",
        "0",
        "0",
        "0",
        "0",
    ]
    assert format_row(_merged(Collector(), stage="cleanup")).split("\t")[3] == "Cleanup"
    assert format_row(_merged(Collector(), warmup=True)).split("\t")[3] == "Warmup"


def test_percentiles_are_per_interval_not_cumulative() -> None:
    """A fast interval then a slow one: the second row's p50 is the slow ops' alone; upstream's
    cumulative p50 over both would be the fast ones'."""
    iv = Intervals(0, 1.0)
    for _ in range(90):
        iv.current.record(OpKind.GET, 10, 100_000)  # 100 µs
    (first,) = iv.roll(1 * S)
    for _ in range(10):
        iv.current.record(OpKind.GET, 10, 50_000_000)  # 50 ms
    (second,) = iv.close(2 * S)
    rows = [format_row(_merged(c.collector)).split("\t") for c in (first, second)]
    assert rows[0][9] == "100" and rows[1][9] == "50000"  # get_p50_us
    cumulative = Collector()
    cumulative.merge(first.collector)
    cumulative.merge(second.collector)
    assert cumulative.merged(OpClass.GET).value_at_quantile(0.5) // 1000 == 100
    assert iv.summary.ops() == 100


def test_warmup_intervals_stay_out_of_the_summary() -> None:
    """Boundaries every second plus the warmup's end (1.5 s): ops before it are in the closed
    warmup intervals, not in the summary; the rest are."""
    iv = Intervals(10 * S, 1.0, warmup_s=1.5, end_ns=10 * S + 3 * S)
    spans = []
    for now_s, ops in ((1.0, 5), (1.5, 7), (2.0, 11), (3.2, 13)):
        for _ in range(ops):
            iv.current.record(OpKind.PUT, 100, 1000)
        closed = iv.roll(10 * S + int(now_s * S)) if now_s < 3 else iv.close(10 * S + 4 * S)
        spans += [(c.start_ns / S, c.end_ns / S, c.warmup, c.collector.ops()) for c in closed]
    assert spans == [
        (0.0, 1.0, True, 5),
        (1.0, 1.5, True, 7),
        (1.5, 2.0, False, 11),
        (2.0, 3.0, False, 13),  # closed at the end (3 s), not at 4 s
    ]
    assert iv.summary.ops() == 24


def _part(share: int, index: int, *, last: bool = False) -> IntervalPart:
    return IntervalPart(
        stage="workload",
        share=share,
        index=index,
        start_s=index,
        end_s=index + 1.0,
        warmup=False,
        wall_ms=1000 * index + share,
        cpu=(10.0 * (share + 1), 0.0, 0.0),
        last=last,
    )


def _one_get(ms: int) -> Collector:
    c = Collector()
    c.record(OpKind.GET, 1, ms * 1_000_000)
    return c


def test_merger_waits_for_every_share_then_merges_exactly() -> None:
    rows: list[MergedInterval] = []
    m = IntervalMerger(rows.append)
    m.begin("workload", 2)
    m.interval(_part(0, 0), _one_get(1))
    m.interval(_part(0, 1), _one_get(1))
    assert rows == []  # share 1 has sent nothing yet
    m.interval(_part(1, 0), _one_get(9))
    assert [r.index for r in rows] == [0]
    assert rows[0].collector.ops() == 2 and rows[0].shares == 2
    assert rows[0].collector.merged(OpClass.GET).max_ns == 9_000_000
    assert rows[0].cpu == (15.0, 0.0, 0.0)  # averaged over the shares
    assert rows[0].wall_ms == 1
    m.interval(_part(1, 1, last=True), _one_get(2))
    m.interval(_part(0, 2, last=True), _one_get(3))  # share 1 ended at 1: 2 is complete
    assert [r.index for r in rows] == [0, 1, 2]
    m.end()
    assert [r.index for r in rows] == [0, 1, 2]


def test_merger_flushes_a_lost_shares_stage_at_the_end() -> None:
    rows: list[MergedInterval] = []
    m = IntervalMerger(rows.append)
    m.begin("workload", 2)
    m.interval(_part(0, 0), _one_get(1))
    m.interval(_part(0, 1, last=True), _one_get(1))
    assert rows == []
    m.begin("cleanup", 1)  # a new stage ends the last one: what waited is written
    assert [(r.stage, r.index, r.shares) for r in rows] == [("workload", 0, 1), ("workload", 1, 1)]
    m.interval(_part(0, 2), _one_get(1))  # a straggler of the workload: ignored
    m.end()
    assert len(rows) == 2


def test_writer_appends_complete_rows(tmp_path: Path) -> None:
    w = PerfLogWriter(tmp_path)
    w(_merged(_one_get(1)))
    w(_merged(_one_get(2)))
    w.close()
    lines = (tmp_path / "perf_log.tsv").read_text().splitlines()
    assert lines[0] == UPSTREAM_HEADER
    assert len(lines) == 3 and all(len(x.split("\t")) == 30 for x in lines)
    assert w.rows == 2 and w.failure is None


def test_writer_remembers_a_failed_write(tmp_path: Path) -> None:
    w = PerfLogWriter(tmp_path / "missing-dir")
    w(_merged(_one_get(1)))
    assert w.rows == 0 and isinstance(w.failure, OSError)


def test_cpu_shares_from_proc_stat_deltas() -> None:
    before = (100, 0, 50, 800, 50, 0, 0, 0)
    after = (150, 10, 80, 880, 70, 5, 5, 0)  # +60 user, +40 system, +80 idle, +20 iowait
    assert cpu_shares(before, after) == (30.0, 20.0, 10.0)
    assert cpu_shares((), after) == (0.0, 0.0, 0.0)


def test_merger_takes_a_part_sent_twice_once() -> None:
    """A Dask host streams its intervals and sends them again with its result."""
    rows: list[MergedInterval] = []
    m = IntervalMerger(rows.append)
    m.begin("workload", 2)
    m.interval(_part(0, 0), _one_get(1))
    m.interval(_part(0, 0), _one_get(1))  # again, before share 1 sent it
    m.interval(_part(1, 0, last=True), _one_get(1))
    m.interval(_part(1, 0, last=True), _one_get(1))  # again, after it was written
    m.interval(_part(0, 1, last=True), _one_get(1))
    m.end()
    assert [(r.index, r.collector.ops(), r.shares) for r in rows] == [(0, 2, 2), (1, 1, 1)]
