"""The bad-input corpus (issue 8, "Done when"): every line of cases.tsv runs as a real
``python -m sai3bench`` subprocess and must end with the expected exit code, name the expected
text, show no traceback (and no secret the case names), and finish within ``TIMEOUT_S``.

The cases run four at a time in a thread pool (start-up dominates: ~0.4 s each) once per
session; each case is then its own test, so a failure names its case. Everything is local:
configs fail at load or use --dry-run where they can, network cases point at closed or junk
127.0.0.1 ports, and the environment is cleared of cloud credentials (HOME is a temp dir).
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.integration.conftest import immutable_dir

CASES_FILE = Path(__file__).with_name("cases.tsv")
TIMEOUT_S = 30.0
PARALLEL = 4  # start-up is CPU, but the network cases mostly wait
_CLOUD_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCLOUD", "CLOUDSDK_", "GCE_", "STORAGE_EMULATOR")


class Case(NamedTuple):
    name: str
    exit_code: int
    expect: str
    args: str
    config: str
    env: str
    must_not: str


class Outcome(NamedTuple):
    cwd: Path
    argv: list[str]
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), text)


def load_cases() -> list[Case]:
    cases = []
    for line in CASES_FILE.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, code, expect, args, config, env, must_not = line.split("\t")
        cases.append(
            Case(name, int(code), _unescape(expect), _unescape(args), config, env, must_not)
        )
    return cases


CASES = load_cases()

_VALID = "target: file://{tmp}/t/\nduration: 0.2s\nworkload: [{op: put, path: 'p/', object_size: 1KiB, weight: 1}]\n"  # noqa: E501
_LAUGHS = (
    b"objects:\n  - &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + b"".join(b"  - &l%d [%s]\n" % (i, b", ".join([b"*l%d" % (i - 1)] * 9)) for i in range(1, 9))
    + b"concurrency: *l8\n"
)  # 9**9 items by reference: a repr of them filled memory
FIXTURES: dict[str, Callable[[str], bytes]] = {
    "empty": lambda text: b"",
    "big": lambda text: b"#" * (16 * 1024 * 1024 + 1),
    "utf16": lambda text: text.encode("utf-16-le"),
    "utf16bom": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf32bom": lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"),
    "utf8bom": lambda text: codecs.BOM_UTF8 + text.encode(),
    "latin1": lambda text: text.replace("t/", "café/").encode("latin-1"),
    "binary": lambda text: bytes(range(256)) * 4,
    "png": lambda text: b"\x89PNG\r\n\x1a\n" + bytes(range(1, 200)),
    "deep": lambda text: text.encode() + b"objects: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    "deepblock": lambda text: text.encode() + b"objects:\n  - " + b"- " * 50_000 + b"x\n",
    "laughs": lambda text: text.encode() + _LAUGHS,
}


class Places(NamedTuple):
    """The shared endpoints and directories the placeholders stand for."""

    closed: int
    busy: int
    junk: int
    ro: Path

    def fill(self, text: str, tmp: Path, cfg: Path) -> str:
        for key, value in (
            ("{tmp}", tmp),
            ("{cfg}", cfg),
            ("{closed}", self.closed),
            ("{busy}", self.busy),
            ("{junk}", self.junk),
            ("{ro}", self.ro),
        ):
            text = text.replace(key, str(value))
        return text


def _environment(tmp: Path, places: Places, extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLOUD_PREFIXES)}
    env.pop("PYTHONWARNINGS", None)
    closed = f"127.0.0.1:{places.closed}"
    env.update(
        HOME=str(tmp),
        COLUMNS="200",
        AWS_EC2_METADATA_DISABLED="true",
        GCE_METADATA_HOST=closed,  # google-auth would ask the metadata server otherwise
        GCE_METADATA_IP=closed,
    )
    if extra != "-":
        for item in places.fill(extra, tmp, tmp / "case.yaml").split(","):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def run_case(case: Case, root: Path, places: Places) -> Outcome:
    tmp = root / case.name
    tmp.mkdir()
    cfg = tmp / "case.yaml"
    if case.config == "@fifo":  # a named pipe nobody writes to
        os.mkfifo(cfg)
    elif case.config.startswith("@"):
        cfg.write_bytes(FIXTURES[case.config[1:]](places.fill(_VALID, tmp, cfg)))
    elif case.config != "-":
        cfg.write_text(places.fill(_unescape(case.config), tmp, cfg), "utf-8")
    argv = [sys.executable, "-m", "sai3bench", *shlex.split(places.fill(case.args, tmp, cfg))]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=tmp,
            env=_environment(tmp, places, case.env),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return Outcome(tmp, argv, None, out, err, time.monotonic() - t0)
    return Outcome(tmp, argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:
    ro = tmp_path_factory.mktemp("readonly")
    with (
        socket.socket() as busy,
        _junk_server() as junk,
        immutable_dir(ro),
    ):
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield Places(_closed_port(), busy.getsockname()[1], junk, ro)


@pytest.fixture(scope="module")
def outcomes(places: Places, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("badinput")
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {c.name: pool.submit(run_case, c, root, places) for c in CASES}
        return {name: f.result() for name, f in futures.items()}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Junk:
    """A TCP server on 127.0.0.1 that answers every connection with bytes that are not HTTP."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(65536)
                    conn.sendall(b"\x00\x01junk\rjunk\n\x7f\xff not http at all\r\n\r\n")
                except OSError:
                    pass


class _junk_server:  # a context manager, named like one
    def __enter__(self) -> int:
        self.junk = _Junk()
        self.junk.thread.start()
        return int(self.junk.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.junk.stop.set()
        self.junk.thread.join(timeout=5)
        self.junk.sock.close()


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, outcomes: dict[str, Outcome], places: Places) -> None:
    got = outcomes[case.name]
    both = got.stdout + got.stderr
    where = (
        f"{shlex.join(got.argv[3:])} ({got.seconds:.1f} s)\n--- stdout\n{got.stdout[-3000:]}"
        f"\n--- stderr\n{got.stderr[-3000:]}"
    )
    assert got.returncode is not None, f"still running after {TIMEOUT_S:g} s: {where}"
    assert "Traceback" not in both, where
    assert got.returncode == case.exit_code, where
    expect = places.fill(case.expect, got.cwd, got.cwd / "case.yaml")
    assert expect.lower() in both.lower(), f"expected {expect!r}: {where}"
    if case.must_not != "-":
        assert case.must_not not in both, f"shows {case.must_not!r}: {where}"
    if case.exit_code:
        assert any(line.startswith("error: ") for line in got.stderr.splitlines()), where


def test_a_utf16_config_is_saved_as_the_same_text_in_utf8(
    outcomes: dict[str, Outcome], places: Places
) -> None:
    """Issue 8 item 9: a UTF-16 config parsed, then the run died with UnicodeDecodeError
    saving config.yaml. The text that was parsed is the text that is saved, as UTF-8."""
    got = outcomes["config-utf16-bom-runs"]
    saved = [p / "config.yaml" for p in got.cwd.iterdir() if p.name.startswith("sai3-")]
    assert len(saved) == 1, got.stdout + got.stderr
    assert saved[0].read_text("utf-8") == places.fill(_VALID, got.cwd, got.cwd / "case.yaml")
