"""Sort op-logs by start time, in bounded memory: ``sai3bench sort`` and the merged file of a
multi-process run.

Rows are written in the order ops finished (a batch at a time), so no input is sorted. The sort
is external: runs of ``chunk_rows`` rows are sorted in memory and, when there is more than one,
spilled to temporary zstd files beside the output, then k-way merged (``heapq.merge``). Memory
is about ``chunk_rows`` keyed rows whatever the input size: sorting 347k and 1.39M rows of ~173
bytes peaked at 175 and 197 MB RSS (``/usr/bin/time -v``; 46 MB for 2,000 rows), i.e. ~0.7 KB per
row held, not the row's text alone.
"""

from __future__ import annotations

import heapq
import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final

from sai3bench.metrics.oplog_file import FrameWriter, open_rows, start_of

#: Rows sorted in memory at once; also the spill run length.
CHUNK_ROWS: Final = 200_000
#: Rows per zstd frame written.
FRAME_ROWS: Final = 16_384

Keyed = tuple[int, int, str]
"""(start ns, input order, row): the input order keeps equal starts stable."""


def sort_oplogs(
    inputs: Sequence[Path], output: Path, *, renumber: bool = False, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Every row of ``inputs`` into ``output``, by start time; returns the rows written.

    ``renumber`` rewrites ``idx`` as the row's position in the output (a merge of several
    processes' files, whose idx values repeat). The output is written to a temporary name and
    renamed, so it may be one of the inputs (sort in place).
    """
    rows = _keyed(itertools.chain.from_iterable(open_rows(p) for p in inputs))
    tmp_dir = output.parent if str(output.parent) else Path(".")
    with tempfile.TemporaryDirectory(prefix=".oplog-sort-", dir=tmp_dir) as spill:
        runs = _sorted_runs(rows, Path(spill), chunk_rows)
        merged = runs[0] if len(runs) == 1 else heapq.merge(*runs)
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        try:
            n = _write(tmp, (r[2] for r in merged), renumber)
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
    return n


def _keyed(lines: Iterable[str]) -> Iterator[Keyed]:
    for n, line in enumerate(lines):
        yield start_of(line), n, line


def _sorted_runs(rows: Iterator[Keyed], spill: Path, chunk_rows: int) -> list[Iterator[Keyed]]:
    """The input as sorted runs: in memory when it fits one chunk, else spilled files."""
    chunk = sorted(itertools.islice(rows, chunk_rows))
    if len(chunk) < chunk_rows:
        return [iter(chunk)]
    paths: list[Path] = []
    while chunk:
        path = spill / f"run-{len(paths)}.tsv.zst"
        _write(path, (r[2] for r in chunk), renumber=False)
        paths.append(path)
        chunk = sorted(itertools.islice(rows, chunk_rows))
    return [_keyed_from(p, k) for k, p in enumerate(paths)]


def _keyed_from(path: Path, run: int) -> Iterator[Keyed]:
    """A spilled run's rows, keyed again; ``run`` orders runs' equal starts as the input did."""
    for line in open_rows(path):
        yield start_of(line), run, line


def _write(path: Path, lines: Iterable[str], renumber: bool) -> int:
    writer = FrameWriter(path, fresh=True)
    n = 0
    try:
        while frame := list(itertools.islice(lines, FRAME_ROWS)):
            if renumber:
                frame = [f"{n + k}\t{line.partition(chr(9))[2]}" for k, line in enumerate(frame)]
            writer.write("\n".join(frame) + "\n")
            n += len(frame)
    finally:
        writer.close()
    return n
