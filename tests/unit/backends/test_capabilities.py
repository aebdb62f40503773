"""What each backend can do is declared by the Protocols in backends/base.py and found with
isinstance, never probed with getattr: these pin who offers which capability."""

from __future__ import annotations

from pathlib import Path

import pytest

from sai3bench.backends.azure import AzureBackend
from sai3bench.backends.base import (
    Backend,
    BatchDeleter,
    BlockingBackend,
    DirectoryOwner,
    RangedReader,
)
from sai3bench.backends.file import FileBackend
from sai3bench.backends.gcs import GcsBackend
from sai3bench.backends.s3 import S3Backend
from sai3bench.engine.context import executor_for


def test_file_backend_blocks_reads_ranges_and_owns_directories(tmp_path: Path) -> None:
    fb = FileBackend(threads=2)
    assert isinstance(fb, Backend) and isinstance(fb, BlockingBackend)
    assert isinstance(fb, RangedReader) and isinstance(fb, DirectoryOwner)
    assert not isinstance(fb, BatchDeleter)
    assert fb.child_keys(str(tmp_path / "d/")) == [str(tmp_path / "d/")]


@pytest.mark.parametrize("cls", [S3Backend, GcsBackend, AzureBackend])
def test_cloud_backends_read_ranges_and_only_s3_deletes_in_batches(cls: type) -> None:
    assert issubclass(cls, RangedReader)
    assert issubclass(cls, BatchDeleter) == (cls is S3Backend)
    assert not issubclass(cls, DirectoryOwner)
    assert not hasattr(cls, "get_sync")  # never run in worker threads


def test_executor_only_when_every_backend_blocks() -> None:
    fb = FileBackend(threads=1)

    class AsyncOnly:
        root_uri = "s3://b/"

    assert executor_for([fb], 6) is fb.executor
    assert executor_for([fb, AsyncOnly()], 6) is None  # type: ignore[list-item]
    assert executor_for([], 6) is None
