"""Cleanup that fails is a failed run (issue 8 item 5), and transient delete failures are retried.

- Under 5 % injected faults (503s, truncated replies) cleanup still removes every prepared
  object and exits 0: failed DeleteObjects batches and failed per-key entries are retried.
- A server that refuses every delete: exit 1, one line naming how many objects were left and
  under which base URI, and a summary that does not call them deleted.
- file:// in a directory that refuses unlinks: the same, with the count.

The faulty S3 server is the bundled mock, in a subprocess (``_start``) or, for a dialect that
refuses only deletes, in a thread of this process; the CLI always runs as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sai3bench.cli.run import RunFlags, run_command
from sai3bench.engine import cleanup
from sai3bench.mock.app import Headers, Response
from sai3bench.mock.s3app import S3App, error
from sai3bench.mock.server import start_server

from .conftest import immutable_dir, run_cli, write_config
from .test_s3_mock import MockServer, _start, stages


def _config(target: str, count: int, **prepare: Any) -> dict[str, Any]:
    return {
        "duration": "1s",
        "concurrency": 8,
        "target": target,
        "prepare": {
            "ensure_objects": [{"base_uri": "data/", "count": count, "size_spec": 1024}],
            "cleanup": True,
            **prepare,
        },
        "workload": [{"op": "get", "path": "data/*", "weight": 1}],
    }


def _left_in(store: Path, prefix: str) -> list[str]:
    data = store / "bench" / prefix / "data"
    return sorted(p.name for p in data.iterdir()) if data.exists() else []


@pytest.mark.parametrize(
    ("fault", "seed"), [("--error-rate", 1), ("--error-rate", 2), ("--truncate-rate", 3)]
)
def test_cleanup_under_5_percent_faults_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, seed: int
) -> None:
    """600 objects in DeleteObjects batches of 2 (300 requests: at 5 %, about 15 fail), in
    process so the batch size can be lowered; before the fix a failed batch left its keys.

    Which requests the mock faults depends on how many the timed workload made first, so the
    cleanup's share is not fixed by the seed: with batches of 10 (60 requests) none failed in
    about 1 run of 20 (0.95**60 = 4.6 %) and ``retries > 0`` flaked; 0.95**300 is 2e-7."""
    monkeypatch.setattr(cleanup, "BATCH_KEYS", 2)
    store = tmp_path / "store"
    cfg = write_config(tmp_path, _config("s3://bench/c/", 600))
    for mock in _start(
        "--bucket", "bench", "--dir", str(store), fault, "0.05", "--seed", str(seed)
    ):
        for name, value in mock.env().items():
            monkeypatch.setenv(name, value)
        run_command(cfg, RunFlags(results_dir=tmp_path / "r", seed=seed))
    assert _left_in(store, "c") == []
    st: dict[str, Any] = stages(tmp_path / "r")["cleanup"]
    assert st["objects_deleted"] == 600 and st["objects_left"] == 0
    if fault == "--error-rate":
        assert st["retries"] > 0


class _RefusingDeletes(S3App):
    """The mock's S3 dialect, except that every delete is refused with ``code``: a DELETE gets
    403 AccessDenied, a DeleteObjects request 200 with one <Error> per key (as S3 words a
    per-key refusal), or, with ``whole_batch``, a 503 SlowDown for the whole request."""

    def __init__(self, code: str, *, whole_batch: bool = False) -> None:
        super().__init__()
        self.code = code
        self.whole_batch = whole_batch
        self.batches = 0

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes | bytearray, size: int
    ) -> Response:
        query = target.partition("?")[2]
        if method == "DELETE":
            return error(403, "AccessDenied", "deletes refused")
        if method == "POST" and query.startswith("delete"):
            self.batches += 1
            if self.whole_batch:
                return error(503, "SlowDown", "reduce your request rate")
            keys = [k.split("</Key>")[0] for k in bytes(body).decode().split("<Key>")[1:]]
            errors = "".join(
                f"<Error><Key>{k}</Key><Code>{self.code}</Code><Message>no</Message></Error>"
                for k in keys
            )
            xml = f'<?xml version="1.0"?><DeleteResult xmlns="{_NS}">{errors}</DeleteResult>'
            data = xml.encode()
            return Response(200, [("Content-Type", "application/xml")], data, len(data))
        return super().handle(method, target, headers, body, size)


_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@contextlib.contextmanager
def _serve_in_thread(app: S3App) -> Iterator[MockServer]:
    """The mock serving ``app`` on 127.0.0.1 from a thread of this process (its own loop)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(start_server(app))
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield MockServer(None, f"http://127.0.0.1:{port[0]}")  # type: ignore[arg-type]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _run(tmp_path: Path, cfg: Path, mock: MockServer, *extra: str) -> Any:
    return run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path / "r"), *extra],
        tmp_path,
        env=mock.env(),
        timeout=120,
    )


@pytest.mark.parametrize("mode", ["tolerant", "strict"])
def test_refused_deletes_exit_1_naming_count_and_place(tmp_path: Path, mode: str) -> None:
    app = _RefusingDeletes("AccessDenied")
    app.store.create_bucket("bench")
    cfg = write_config(tmp_path, _config("s3://bench/run/", 150, cleanup_mode=mode))
    with _serve_in_thread(app) as mock:
        proc = _run(tmp_path, cfg, mock)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    line = "left 150 of 150 prepared objects behind (150 under s3://bench/run/data/prepared-*)"
    assert f"error: cleanup ({mode}): {line}" in proc.stderr
    assert "last: PERMISSION" in proc.stderr and "--cleanup-only" in proc.stderr
    assert "Cleanup incomplete: deleted 0 of 150 objects (150 left behind)" in proc.stdout
    assert "deleted 150" not in proc.stdout
    assert app.batches == 1  # AccessDenied is permanent: not retried
    st: dict[str, Any] = stages(tmp_path / "r")["cleanup"]
    assert st["objects_deleted"] == 0 and st["objects_left"] == 150
    assert st["left_under"] == {"s3://bench/run/data/prepared-*": 150}
    assert len(app.store.keys("bench")) == 150


def test_best_effort_warns_and_exits_0(tmp_path: Path) -> None:
    app = _RefusingDeletes("AccessDenied")
    app.store.create_bucket("bench")
    cfg = write_config(tmp_path, _config("s3://bench/be/", 40, cleanup_mode="best_effort"))
    with _serve_in_thread(app) as mock:
        proc = _run(tmp_path, cfg, mock)
    assert proc.returncode == 0, proc.stderr
    assert "cleanup (best_effort): left 40 of 40 prepared objects behind" in proc.stderr


@pytest.mark.parametrize(("code", "whole_batch"), [("InternalError", False), ("", True)])
def test_transient_delete_failures_are_retried_then_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, whole_batch: bool
) -> None:
    """Per-key InternalError (or a 503 for the whole DeleteObjects request) on every try: each
    batch is retried STAGE_RETRY's rounds, then the run fails naming the objects left."""
    from sai3bench.engine.transient import RetryPolicy
    from sai3bench.errors import RunFailed

    monkeypatch.setattr(cleanup, "STAGE_RETRY", RetryPolicy(max_retries=2, first_s=0.01))
    app = _RefusingDeletes(code, whole_batch=whole_batch)
    app.store.create_bucket("bench")
    cfg = write_config(tmp_path, _config("s3://bench/t/", 30))
    with _serve_in_thread(app) as mock:
        for name, value in mock.env().items():
            monkeypatch.setenv(name, value)
        with pytest.raises(RunFailed) as info:
            run_command(cfg, RunFlags(results_dir=tmp_path / "r", seed=1))
    assert app.batches == 3  # the first try and 2 retries
    outcome = "SERVER_ERROR" if code else "THROTTLED"
    assert info.value.msg.startswith("cleanup (tolerant): left 30 of 30 prepared objects")
    assert f"last: {outcome}" in info.value.msg
    st: dict[str, Any] = stages(tmp_path / "r")["cleanup"]
    assert st["retries"] == 2 and st["objects_left"] == 30


@pytest.mark.parametrize("mode", ["tolerant", "best_effort"])
def test_file_cleanup_in_a_read_only_directory(tmp_path: Path, mode: str) -> None:
    data = tmp_path / "data"
    cfg = write_config(tmp_path, _config(f"file://{data}/", 25, cleanup_mode=mode))
    prep = run_cli(
        ["run", "-c", str(cfg), "--prepare-only", "--results-dir", str(tmp_path / "p")], tmp_path
    )
    assert prep.returncode == 0, prep.stderr
    with immutable_dir(data / "data"):
        proc = run_cli(
            ["run", "-c", str(cfg), "--cleanup-only", "--results-dir", str(tmp_path / "r")],
            tmp_path,
        )
    assert "Traceback" not in proc.stderr
    where = f"25 under file://{data}/data/prepared-*"
    assert f"left 25 of 25 prepared objects behind ({where})" in proc.stderr
    assert len(list((data / "data").iterdir())) == 25
    if mode == "tolerant":
        assert proc.returncode == 1, proc.stderr
        assert "last: PERMISSION" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
