"""The op-log file (metrics/oplog_file.py, oplog_sort.py) and the hot-path sink that writes it
(engine/oplog.py): format, times, bad input, the external sort."""

from __future__ import annotations

import random
from array import array
from pathlib import Path

import pytest
import zstandard

from sai3bench.backends.file import FileBackend
from sai3bench.engine import oplog
from sai3bench.engine.batch import LATE, BatchResults
from sai3bench.engine.oplog import OpLogSink, endpoint_and_prefix, worker_path
from sai3bench.engine.ops import PlannedOp
from sai3bench.metrics.collector import OpKind
from sai3bench.metrics.oplog_file import (
    HEADER_LINE,
    FrameWriter,
    IsoFormatter,
    OpLogError,
    count_rows,
    next_idx,
    open_rows,
    parse_iso_ns,
    read_entries,
)
from sai3bench.metrics.oplog_sort import sort_oplogs
from sai3bench.outcome import Outcome


def test_iso_round_trip_is_exact_to_the_nanosecond() -> None:
    fmt = IsoFormatter()
    for ns in (0, 1, 1_764_944_934_123_456_789, 1_764_944_934_999_999_999, 1_764_944_935 * 10**9):
        text = fmt(ns)
        assert text.endswith("Z") and len(text) == 30
        assert parse_iso_ns(text) == ns
    assert fmt(1_764_944_934_000_000_001) == "2025-12-05T14:28:54.000000001Z"
    assert parse_iso_ns("2025-12-05T14:28:54.5+00:00") == 1_764_944_934_500_000_000
    assert parse_iso_ns("2025-12-05T14:28:54Z") == 1_764_944_934_000_000_000


@pytest.mark.parametrize("bad", ["yesterday", "2025-12-05 14:28:54Z", "2025-12-05T14:28:54.x1Z"])
def test_iso_parse_refuses_other_text(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_iso_ns(bad)


def _row(idx: int, start_ns: int, op: str = "GET", key: str = "k") -> str:
    fmt = IsoFormatter()
    t = fmt(start_ns)
    return f"{idx}\t0\t{op}\tstandalone\t1\t10\ts3://\tb/{key}\t\t{t}\t{t}\t{t}\t0"


def _write(path: Path, rows: list[str], frames: int = 3) -> None:
    writer = FrameWriter(path, fresh=True)
    step = max(1, len(rows) // frames)
    for k in range(0, len(rows), step):
        writer.write("".join(r + "\n" for r in rows[k : k + step]))
    writer.close()


def test_frames_append_and_read_across(tmp_path: Path) -> None:
    path = tmp_path / "a.tsv.zst"
    _write(path, [_row(i, 10**18 + i) for i in range(10)])
    FrameWriter(path, fresh=False).close()  # an appending writer adds no second header
    w = FrameWriter(path, fresh=False)
    w.write(_row(10, 10**18 + 10) + "\n")
    w.close()
    assert count_rows(path) == 11
    assert [e.idx for e in read_entries(path)] == list(range(11))
    with path.open("rb") as f:
        text = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()
    assert text.decode().count(HEADER_LINE) == 1


def test_bad_inputs_are_oplog_errors(tmp_path: Path) -> None:
    with pytest.raises(OpLogError, match="cannot read"):
        open_rows(tmp_path / "missing.tsv.zst")
    plain = tmp_path / "plain.tsv"
    plain.write_text(HEADER_LINE)
    with pytest.raises(OpLogError, match="not zstd"):
        open_rows(plain)
    wrong = tmp_path / "wrong.tsv.zst"
    wrong.write_bytes(zstandard.ZstdCompressor().compress(b"a\tb\tc\n1\t2\t3\n"))
    with pytest.raises(OpLogError, match="not an op-log header"):
        open_rows(wrong)
    short = tmp_path / "short.tsv.zst"
    _write(short, ["1\t2\t3"])
    with pytest.raises(OpLogError, match="row 1: 3 columns"):
        list(read_entries(short))
    corrupt = tmp_path / "corrupt.tsv.zst"
    corrupt.write_bytes(zstandard.ZstdCompressor().compress(HEADER_LINE.encode())[:-6])
    with pytest.raises(OpLogError):
        list(open_rows(corrupt))


@pytest.mark.parametrize("chunk_rows", [1_000_000, 7])  # in memory; spilled runs, k-way merged
def test_sort_orders_by_start_and_keeps_every_row(tmp_path: Path, chunk_rows: int) -> None:
    rng = random.Random(1)
    starts = [10**18 + rng.randrange(10**9) for _ in range(100)]
    a, b = tmp_path / "a.tsv.zst", tmp_path / "b.tsv.zst"
    _write(a, [_row(i, s, key=f"a{i}") for i, s in enumerate(starts[:60])])
    _write(b, [_row(i, s, key=f"b{i}") for i, s in enumerate(starts[60:])])
    out = tmp_path / "m.tsv.zst"
    assert sort_oplogs([a, b], out, renumber=True, chunk_rows=chunk_rows) == 100
    got = list(read_entries(out))
    assert [e.start_ns for e in got] == sorted(starts)
    assert [e.idx for e in got] == list(range(100))
    assert sorted(e.file for e in got) == sorted(
        [f"b/a{i}" for i in range(60)] + [f"b/b{i}" for i in range(40)]
    )
    assert not list(tmp_path.glob(".oplog-sort-*"))  # spill files removed
    assert sort_oplogs([a], a, chunk_rows=chunk_rows) == 60  # in place
    assert [e.start_ns for e in read_entries(a)] == sorted(starts[:60])


def test_worker_path_and_columns() -> None:
    assert worker_path("/x/run.tsv.zst", 0, 1) == Path("/x/run.tsv.zst")
    assert worker_path("/x/run.tsv.zst", 3, 4) == Path("/x/run-worker-3.tsv.zst")
    assert worker_path("/x/run.log", 1, 2) == Path("/x/run.log-worker-1")
    assert endpoint_and_prefix("s3://bench/") == ("s3://", "bench/")
    assert endpoint_and_prefix("s3://127.0.0.1:9000/bench/") == ("s3://127.0.0.1:9000/", "bench/")
    assert endpoint_and_prefix("file://") == ("file://", "")
    assert endpoint_and_prefix("az://acct/cont/") == ("az://", "acct/cont/")


def _results(starts: list[int], lat: list[int], ttfb: list[int], codes: list[int]) -> BatchResults:
    out = BatchResults(len(starts))
    out.start_ns[:] = array("q", starts)
    out.latency_ns[:] = array("q", lat)
    out.ttfb_ns[:] = array("q", ttfb)
    out.nbytes[:] = array("q", [100 * (k + 1) for k in range(len(starts))])
    out.outcome[:] = array("B", codes)
    return out


@pytest.mark.parametrize("flush_rows", [16_384, 2])  # kept in memory; spooled to disk
def test_sink_rows_have_every_column_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flush_rows: int
) -> None:
    monkeypatch.setattr(oplog, "FLUSH_ROWS", flush_rows)
    path = tmp_path / "s.tsv.zst"
    sink = OpLogSink(FrameWriter(path, fresh=True), first_idx=0, thread_base=0)
    ops = [
        PlannedOp(index=0, kind=OpKind.GET, backend=FileBackend(), label="get"),
        PlannedOp(index=1, kind=OpKind.PUT, backend=FileBackend(), label="put"),
    ]
    seen: list[int] = []
    record = sink.chain(lambda tasks, ran, out: seen.append(ran), ops)
    tasks = [(0, "/d/a", 0, 0), (1, "/d/b", 100, 1), (0, "/d/c", 0, 0)]
    out = _results(
        [1000, 2000, 3000], [500, 700, 900], [200, 0, 0], [0, int(Outcome.NOT_FOUND), LATE]
    )
    record(tasks, 3, out)
    out.start_ns[0] = 99  # the worker reuses its arrays: the sink kept a copy
    record(tasks[:1], 0, out)  # a batch that ran nothing adds nothing
    assert sink.close() is None
    assert seen == [3, 0]
    assert [p.name for p in tmp_path.iterdir()] == ["s.tsv.zst"]  # the spool is gone
    rows = list(read_entries(path))
    assert [(r.idx, r.op, r.file, r.nbytes, r.error) for r in rows] == [
        (0, "GET", "/d/a", 100, ""),
        (1, "PUT", "/d/b", 200, "NOT_FOUND"),
        (2, "GET", "/d/c", 300, ""),  # late: it ran and succeeded after the deadline
    ]
    offset = rows[0].start_ns - 1000
    for r, (s, lat, tt) in zip(
        rows, [(1000, 500, 200), (2000, 700, 0), (3000, 900, 0)], strict=True
    ):
        assert r.endpoint == "file://" and r.client_id == "standalone" and r.thread == "0"
        assert (r.start_ns - offset, r.duration_ns, r.end_ns - r.start_ns) == (s, lat, lat)
        assert r.first_byte_ns == (r.start_ns + tt if tt else r.end_ns)


def test_a_later_stage_continues_idx_from_the_trailer_or_by_counting(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv.zst"
    ops = [PlannedOp(index=0, kind=OpKind.GET, backend=FileBackend(), label="get")]
    tasks = [(0, "/d/a", 0, 0), (0, "/d/b", 0, 0)]
    for stage in range(2):  # a stage ends in order: its trailer says where idx goes on
        sink = OpLogSink.open(path, since_ns=0, thread_base=0)
        sink.chain(lambda tasks, ran, out: None, ops)(
            tasks, 2, _results([1, 2], [1, 1], [0, 0], [0, 0])
        )
        assert sink.close() is None
        assert next_idx(path) == 2 * (stage + 1)
        assert path.read_bytes()[-16:-8] == bytes.fromhex("5e2a4d18 08000000")  # skippable
    _write(tmp_path / "killed.tsv.zst", [_row(i, 10**18) for i in range(5)])  # no trailer
    assert next_idx(tmp_path / "killed.tsv.zst") == 5
    assert [r.idx for r in read_entries(path)] == [0, 1, 2, 3]  # readers skip the trailers
    with path.open("rb") as f:
        text = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()
    assert text.decode().count("\n") == 5  # header + 4 rows, nothing from the trailers
