"""Cost of all-or-nothing file:// PUTs: write to a temporary name + rename vs write in place.

    python tools/bench_put_atomic.py [--root DIR] [--files 2000] [--size 4096] [--reps 7]

Each repetition creates ``--files`` new files of ``--size`` bytes in one fresh directory with
each method, one thread, in a rotated order (create speed drifts after mass deletes on this VM,
see _benchutil.rotated), then deletes them outside the timing. Prints the median wall time per
PUT of each method, their min-max, and the median of per-repetition differences.

Owns: its scratch directory (under --root, removed at exit and on Ctrl-C).
Must never: write or delete anything outside that directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import Scratch, median, rotated, spread

from sai3bench.backends.file import FileBackend
from sai3bench.payload import Payload

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def put_in_place(key: str, body: Payload) -> int:
    """The PUT before this change: open the key itself, write, close (a short file on failure)."""
    assert isinstance(body, memoryview)
    fd = os.open(key, _FLAGS, 0o644)
    try:
        return os.write(fd, body)
    finally:
        os.close(fd)


def one_rep(put: Callable[[str, Payload], int], d: Path, files: int, size: int) -> float:
    """Seconds per PUT for ``files`` new files in an empty directory ``d``."""
    d.mkdir()
    body = memoryview(os.urandom(size))
    keys = [str(d / f"prepared-{i:08}.dat") for i in range(files)]
    t0 = time.perf_counter()
    for key in keys:
        put(key, body)
    elapsed = time.perf_counter() - t0
    for key in keys:
        os.unlink(key)
    d.rmdir()
    return elapsed / files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    methods: dict[str, Callable[[str, Payload], int]] = {
        "in place": put_in_place,
        "temp + rename": FileBackend(threads=1).put_sync,
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    with Scratch(args.root, "sai3-put-atomic-") as scratch:
        for rep in range(args.reps):
            for name in rotated(list(methods), rep):
                d = scratch.path / f"r{rep}-{name.replace(' ', '')}"
                times[name].append(one_rep(methods[name], d, args.files, args.size))
    print(f"{args.files} x {args.size} B new files per rep, {args.reps} reps, one thread")
    for name, ts in times.items():
        lo, hi = spread(ts)
        print(
            f"  {name:14} median {median(ts) * 1e6:6.1f} us/PUT  (min-max {lo * 1e6:.1f}-"
            f"{hi * 1e6:.1f})"
        )
    diffs = [b - a for a, b in zip(times["in place"], times["temp + rename"], strict=True)]
    print(f"  extra per PUT  median {median(diffs) * 1e6:+.1f} us (per-rep differences)")


if __name__ == "__main__":
    main()
