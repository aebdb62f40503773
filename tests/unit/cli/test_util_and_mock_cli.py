"""``util`` and ``mock-server`` arguments (issue 8 items 9 and 12): size strings for
``util put --object-size``, ``--insecure`` on util, checked URIs, and a mock-server port that is
already taken, each one line and the right exit code."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sai3bench.cli.util import _hint, _object_size, _uri, parse_byte_range
from sai3bench.config.uri import URI_HINT
from sai3bench.errors import UsageError
from sai3bench.outcome import Outcome
from tests.integration.conftest import run_cli


def test_util_put_takes_size_strings(tmp_path: Path) -> None:
    proc = run_cli(
        ["util", "put", f"file://{tmp_path}/d/", "--objects", "2", "--object-size", "8KiB"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.stat().st_size for p in (tmp_path / "d").iterdir()) == [8192, 8192]


@pytest.mark.parametrize("text,size", [("8KiB", 8192), ("1.5MB", 1_500_000), ("0", 0), ("7", 7)])
def test_object_size_values(text: str, size: int) -> None:
    assert _object_size(text) == size


@pytest.mark.parametrize("text", ["8XB", "-1", "", "lots"])
def test_bad_object_sizes(text: str) -> None:
    with pytest.raises(UsageError, match="bad --object-size"):
        _object_size(text)


@pytest.mark.parametrize(
    "uri,message",
    [
        ("file:///tmp/a\0b", "NUL character"),
        ("s3://bucket/a\nb", "control character"),
        ("ftp://host/x", "unknown scheme"),
        ("s3://", "no bucket"),
    ],
)
def test_util_uris_are_checked(uri: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        _uri(uri)
    # The config's hint, naming every scheme (it said "e.g. file:///data/bench/" for s3:// too).
    assert err.value.hint == URI_HINT and "s3://bucket/prefix/" in URI_HINT


def test_util_insecure_warns_and_works(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"abc")
    proc = run_cli(["util", "stat", f"file://{tmp_path}/x", "--insecure"], tmp_path)
    assert proc.returncode == 0 and "Size : 3 bytes" in proc.stdout
    assert "warning: --insecure" in proc.stderr


def test_mock_server_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli(["mock-server", "--port", str(port)], tmp_path, timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: the port is already")


@pytest.mark.parametrize("args", [["--port", "99999"], ["--port", "65535", "--listeners", "2"]])
def test_mock_server_port_range(tmp_path: Path, args: list[str]) -> None:
    # uvloop took 99999 modulo 65536 and listened on 34463.
    proc = run_cli(["mock-server", *args], tmp_path, timeout=30)
    assert proc.returncode == 2 and "65535" in proc.stderr and "listening" not in proc.stdout


@pytest.mark.parametrize(
    "outcome,names",
    [
        (Outcome.CONNECTION, "AWS_ENDPOINT_URL"),
        (Outcome.TIMEOUT, "endpoint is up"),
        (Outcome.PROTOCOL, "https://"),
        (Outcome.PERMISSION, "permissions"),
        (Outcome.NOT_FOUND, "check the URI"),
    ],
)
def test_util_hints_follow_the_outcome(outcome: Outcome, names: str) -> None:
    """A refused connection was told "check the URI"; it is the endpoint that needs checking."""
    assert names in _hint(outcome, "the URI")


def test_mock_server_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    """It was a NotADirectoryError traceback from the disk store's first listing."""
    afile = tmp_path / "f"
    afile.write_text("x")
    proc = run_cli(["mock-server", "--port", "0", "--dir", str(afile)], tmp_path, timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: --dir {afile}: not a directory")


def test_a_range_with_5000_digits_is_a_usage_error() -> None:
    """int() of 5,000 digits raised a ValueError traceback."""
    with pytest.raises(UsageError, match=r"bad --range '0-9+\.\.\.$"):
        parse_byte_range("0-" + "9" * 5000)
    assert parse_byte_range("10-19") == (10, 10)


@pytest.mark.parametrize("text", ["x" * 5000, "9" * 5000 + "d"])
def test_a_long_first_byte_timeout_is_quoted_cut_short(text: str) -> None:
    """The flag's value was echoed whole (a 5,000-character argument, a 5,000-character line)."""
    from sai3bench.cli.netopts import first_byte_seconds

    with pytest.raises(UsageError) as err:
        first_byte_seconds(text)
    assert len(err.value.msg) < 300 and "..." in err.value.msg
