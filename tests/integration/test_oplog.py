"""``run --op-log``, ``sort`` and ``replay`` end to end against the mock S3 server.

The round trip is checked against what the run itself counted (results.json's collectors and
metadata.json's late ops) and against the mock's own store; the replay against the mock's own
request counters (GET /_mock/stats, reset before it) and the objects it left.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from sai3bench.metrics.collector import Collector, OpKind
from sai3bench.metrics.oplog_file import HEADER_LINE, OpLogEntry, read_entries
from sai3bench.outcome import Outcome

from .conftest import run_cli, write_config
from .test_s3_mock import MockServer, _start

_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def mock() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench")


@pytest.fixture
def faulty() -> Iterator[MockServer]:
    yield from _start("--bucket", "bench", "--error-rate", "0.03", "--seed", "7")


def _config(prefix: str, *, count: int = 60, concurrency: int = 4) -> dict[str, Any]:
    return {
        "duration": "1s",
        "concurrency": concurrency,
        "target": f"s3://bench/{prefix}/",
        "prepare": {"ensure_objects": [{"base_uri": "data/", "count": count, "size_spec": "2KiB"}]},
        "workload": [
            {"op": "get", "path": "data/*", "weight": 50},
            {"op": "stat", "path": "data/*", "weight": 20},
            {"op": "put", "path": "new/", "object_size": 1000, "weight": 30},
        ],
    }


def _run(tmp_path: Path, mock: MockServer, cfg: dict[str, Any], *extra: str) -> Path:
    """A run with --no-cleanup (the store then holds every object it made); its results dir."""
    path = write_config(tmp_path, cfg)
    args = ["run", "-c", str(path), "--results-dir", str(tmp_path), "--no-cleanup", *extra]
    proc = run_cli(args, tmp_path, env=mock.env(), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (out,) = tmp_path.glob("sai3-*/")
    return out


def _listing(mock: MockServer, prefix: str) -> dict[str, int]:
    """key -> size under ``prefix`` in bucket bench (every page)."""
    out: dict[str, int] = {}
    token = ""
    while True:
        query = {"list-type": "2", "prefix": prefix}
        if token:
            query["continuation-token"] = token
        root = ET.fromstring(_get(f"{mock.url}/bench?{urllib.parse.urlencode(query)}"))
        for c in root.iter(f"{_S3_NS}Contents"):
            out[c.findtext(f"{_S3_NS}Key", "")] = int(c.findtext(f"{_S3_NS}Size", "0"))
        token = root.findtext(f"{_S3_NS}NextContinuationToken") or ""
        if not token:
            return out


def _get(url: str) -> bytes:
    """GET ``url``, again after an injected 503 (the faulty mock fails some of our requests)."""
    for _ in range(20):
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise
    raise AssertionError(f"{url}: 503 twenty times")


def _mock_stats(mock: MockServer, *, reset: bool = False) -> dict[str, Any]:
    req = urllib.request.Request(f"{mock.url}/_mock/stats", method="DELETE" if reset else "GET")
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if body and not reset else {}


def _collectors(out: Path) -> dict[str, Collector]:
    doc = json.loads((out / "results.json").read_text())
    return {k: Collector.decode(base64.b64decode(v)) for k, v in doc["stages"].items()}


def _check_rows(rows: list[OpLogEntry]) -> None:
    """Every row: times monotone and consistent with duration_ns; error empty or an outcome."""
    names = {o.name for o in Outcome}
    for r in rows:
        assert r.start_ns <= r.first_byte_ns <= r.end_ns, r
        assert r.end_ns - r.start_ns == r.duration_ns, r
        assert r.error == "" or r.error in names, r
        assert (r.endpoint, r.client_id, r.n_objects) == ("s3://", "standalone", 1), r


def test_round_trip_every_op_once_with_its_key_bytes_and_times(
    tmp_path: Path, faulty: MockServer
) -> None:
    log = tmp_path / "ops.tsv.zst"
    out = _run(tmp_path, faulty, _config("rt"), "--op-log", str(log))
    rows = list(read_entries(log))
    _check_rows(rows)
    assert [r.idx for r in rows] == list(range(len(rows)))
    # As many rows per op kind as the run counted (successes + failures); late ops apart.
    collectors = _collectors(out)
    late = json.loads((out / "metadata.json").read_text())["stages"]["workload"]["late"]
    counted = Counter[str]()
    for c in collectors.values():
        for kind in OpKind:
            counted[kind.name] += c.ops(kind)
        for (code, _), n in c.errors().items():
            counted[OpKind(code).name] += n
    logged = Counter(r.op for r in rows)
    assert sum(logged.values()) == sum(counted.values()) + late
    assert all(0 <= logged[k] - counted[k] <= late for k in counted), (logged, counted)
    failed = Counter(r.op for r in rows if r.error)
    errors = sum(c.error_count() for c in collectors.values())
    assert errors and errors <= sum(failed.values()) <= errors + late  # a late op may fail too
    # Keys and bytes: every successful PUT is an object of that size, every GET read one.
    store = {f"bench/{k}": v for k, v in _listing(faulty, "rt/").items()}
    puts = {r.file: r.nbytes for r in rows if r.op == "PUT" and not r.error}
    assert puts == store
    assert all(store[r.file] == r.nbytes for r in rows if r.op == "GET" and not r.error)
    assert {r.file for r in rows if r.op in ("GET", "STAT")} <= set(store)
    assert "Op-log written to:" in (out / "console_log.txt").read_text()


def test_yaml_op_log_path_is_honoured_and_the_flag_wins(tmp_path: Path, mock: MockServer) -> None:
    cfg = {
        **_config("yaml", count=10),
        "duration": "0.3s",
        "op_log_path": str(tmp_path / "y.tsv.zst"),
    }
    _run(tmp_path, mock, cfg)
    first = list(read_entries(tmp_path / "y.tsv.zst"))
    assert len(first) > 10
    for d in tmp_path.glob("sai3-*/"):
        (d / "metadata.json").rename(d / "old.json")  # one results dir per _run: hide it
        d.rename(tmp_path / "old-run")
    _run(tmp_path, mock, cfg, "--op-log", str(tmp_path / "flag.tsv.zst"))
    assert len(list(read_entries(tmp_path / "flag.tsv.zst"))) > 0
    assert list(read_entries(tmp_path / "y.tsv.zst")) == first  # the flag won: not written


def test_two_processes_write_one_file_each_and_a_merged_sorted_file(
    tmp_path: Path, mock: MockServer
) -> None:
    log = tmp_path / "mp.tsv.zst"
    out = _run(tmp_path, mock, _config("mp"), "--op-log", str(log), "--processes", "2")
    parts = [list(read_entries(tmp_path / f"mp-worker-{k}.tsv.zst")) for k in range(2)]
    merged = list(read_entries(log))
    assert all(parts) and len(merged) == len(parts[0]) + len(parts[1])
    _check_rows(merged)
    assert [r.start_ns for r in merged] == sorted(r.start_ns for r in merged)
    assert [r.idx for r in merged] == list(range(len(merged)))
    key = lambda r: (r.op, r.file, r.start_ns, r.duration_ns)  # noqa: E731
    assert sorted(map(key, merged)) == sorted(map(key, parts[0] + parts[1]))
    assert {int(r.thread) // 100_000 for r in parts[1]} == {1}  # threads apart per process
    assert {r.file for r in merged if r.op == "PUT"} == {
        f"bench/{k}" for k in _listing(mock, "mp/")
    }
    assert "2 process files merged by start time" in (out / "console_log.txt").read_text()


def test_sort_command_orders_by_start(tmp_path: Path, mock: MockServer) -> None:
    log = tmp_path / "s.tsv.zst"
    _run(tmp_path, mock, _config("sort", count=30), "--op-log", str(log))
    proc = run_cli(["sort", "--op-log", str(log)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    before, after = list(read_entries(log)), list(read_entries(tmp_path / "s.sorted.tsv.zst"))
    assert sorted(before) == sorted(after)  # same rows, idx kept
    assert [r.start_ns for r in after] == sorted(r.start_ns for r in before)
    assert [r.start_ns for r in before] != [r.start_ns for r in after]  # it was not sorted


@pytest.mark.parametrize("speed", [1.0, 2.0])
def test_replay_reproduces_the_ops_against_the_mock(
    tmp_path: Path, mock: MockServer, speed: float
) -> None:
    log = tmp_path / "r.tsv.zst"
    cfg = {**_config("orig", count=40, concurrency=2), "duration": "0.5s"}
    _run(tmp_path, mock, cfg, "--op-log", str(log))
    assert run_cli(["sort", "--op-log", str(log), "-o", str(log)], tmp_path).returncode == 0
    rows = list(read_entries(log))
    _mock_stats(mock, reset=True)
    target = f"s3://bench/replay{int(speed)}/"
    args = ["replay", "--op-log", str(log), "--target", target, "--speed", str(speed)]
    proc = run_cli(args, tmp_path, env=mock.env(), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    want = Counter(r.op for r in rows)
    stats = _mock_stats(mock)
    assert stats["requests"] == {"PUT": want["PUT"], "GET": want["GET"], "HEAD": want["STAT"]}
    assert f"Replayed {len(rows):,} ops" in proc.stdout and f"speed {speed:g}x" in proc.stdout
    assert "Behind schedule: p50 " in proc.stdout and " max " in proc.stdout
    # The logged file lands under the target (upstream's --target: bucket/key below it), with
    # the logged size.
    store = _listing(mock, f"replay{int(speed)}/")
    assert store == {f"replay{int(speed)}/{r.file}": r.nbytes for r in rows if r.op == "PUT"}
    span = (rows[-1].start_ns - rows[0].start_ns) / 1e9 / speed
    shown = float(proc.stdout.split("(schedule ")[1].split("s ")[0])
    assert abs(shown - span) < 0.002, (shown, span)


def test_replay_dry_run_prints_what_would_be_sent(tmp_path: Path, mock: MockServer) -> None:
    log = tmp_path / "d.tsv.zst"
    _run(tmp_path, mock, {**_config("dry", count=10), "duration": "0.3s"}, "--op-log", str(log))
    remap = write_config(
        tmp_path,
        "rules:\n- match: {bucket: bench, prefix: dry/}\n  map_to: {bucket: other, prefix: x/}\n",
        "r.yaml",
    )
    _mock_stats(mock, reset=True)
    proc = run_cli(["replay", "--op-log", str(log), "--remap", str(remap), "--dry-run"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "PUT s3://other/x/data/prepared-" in proc.stdout
    assert f"Would replay {len(list(read_entries(log))):,} ops" in proc.stdout
    assert _mock_stats(mock)["requests"] == {}  # nothing sent


def _zst(path: Path, text: str) -> Path:
    path.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    return path


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing", "cannot read op-log"),
        ("plain", "is not zstd-compressed"),
        ("header", "not an op-log header"),
        ("row", "op-log row 1"),
        ("remap", "remap: rules[0]"),
        ("remap-yaml", "not YAML"),
        ("target", "--target"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str, words: str) -> None:
    good = _zst(tmp_path / "good.tsv.zst", HEADER_LINE)
    files = {
        "missing": tmp_path / "missing.tsv.zst",
        "plain": write_config(tmp_path, HEADER_LINE, "plain.tsv"),
        "header": _zst(tmp_path / "h.tsv.zst", "a\tb\n"),
        "row": _zst(tmp_path / "row.tsv.zst", HEADER_LINE + "x\ty\n"),
    }
    args = ["replay", "--op-log", str(files.get(case, good)), "--dry-run"]
    if case == "remap":
        args += ["--remap", str(write_config(tmp_path, "rules: [{match: {}}]", "r.yaml"))]
    if case == "remap-yaml":
        args += ["--remap", str(write_config(tmp_path, "rules: [", "r.yaml"))]
    if case == "target":
        args += ["--target", "ftp://x/"]
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and words in proc.stderr.splitlines()[0], proc.stderr
    assert "Traceback" not in proc.stderr
    if case in ("missing", "plain", "header"):
        sort = run_cli(["sort", "--op-log", str(files[case])], tmp_path)
        assert sort.returncode == 2 and words in sort.stderr, sort.stderr
