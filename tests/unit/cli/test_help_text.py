"""Every --help page renders its text as written (issue 8 item 12: rich turned the
``KEY:SECRET:`` of ``mock-server --help`` into "KEY㊙")."""

from __future__ import annotations

import unicodedata

import pytest
import typer
from typer.testing import CliRunner

import sai3bench.cli.mock
import sai3bench.cli.util  # noqa: F401  (they register their commands)
from sai3bench.cli.app import app


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    group = typer.main.get_command(app)

    def walk(cmd, prefix: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(group, [])
    return paths


def _symbols(text: str) -> list[str]:
    """Pictographs and other symbols, minus the box drawing rich frames help with."""
    return [c for c in text if unicodedata.category(c) == "So" and not 0x2500 <= ord(c) <= 0x257F]


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "top")
def test_help_pages_render_no_emoji(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert not _symbols(result.output), result.output


def test_mock_server_help_shows_key_and_secret() -> None:
    result = CliRunner().invoke(app, ["mock-server", "--help"], terminal_width=200)
    assert "KEY:SECRET" in result.output and "ACCOUNT:BASE64KEY" in result.output


def test_every_util_command_that_talks_to_storage_takes_insecure() -> None:
    for name in ("list", "stat", "get", "put", "delete"):
        result = CliRunner().invoke(app, ["util", name, "--help"], terminal_width=200)
        assert "--insecure" in result.output, name
