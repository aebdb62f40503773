"""util health's access step names a read-only file system rather than blaming the user."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path
from types import SimpleNamespace

import pytest

from sai3bench.cli import health


async def _await(step: Awaitable[str]) -> str:
    return await step


def _run(step: Awaitable[str]) -> str:
    return asyncio.run(_await(step))


def test_read_only_file_system_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_flag=os.ST_RDONLY))
    with pytest.raises(health._Failed) as failed:
        _run(health._access(str(tmp_path), read_only=False)())
    assert "read-only file system" in failed.value.detail
    assert failed.value.hint is not None and "--read-only" in failed.value.hint
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_flag=0))
    with pytest.raises(health._Failed) as failed:
        _run(health._access(str(tmp_path), read_only=False)())
    assert "this user may not read and write" in failed.value.detail
