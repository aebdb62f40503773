"""Tree benchmark: sai3bench's prepare and cleanup of a directory tree against fio creating and
unlinking the same number of files of the same size on the same disk.

    python tools/bench_tree.py [--root DIR] [--reps 3] [--width 10] [--depth 2] [--files 1000]

The tree (default 10 x 2, 1,000 files per leaf: 100 leaves, 100,000 files of 4 KiB) is made by
one ``sai3bench run`` with ``duration: 0s`` (no workload), ``cleanup: true``, ``processes:
auto`` and ``concurrency: 32``: its prepare and cleanup stages are timed by sai3bench itself
(results' ``stages.*.wall_seconds``; the prepare includes the LIST that finds nothing and the
MKDIR of the 111 directories). fio does the same work with 32 threads (``thread=1``,
``numjobs=32``, ``nrfiles`` so that the files add up to the same count): create with
``ioengine=psync, rw=write, create_on_open=1, fallocate=none, bs=filesize=4 KiB, openfiles=1``
(open + write + close per file), then unlink with ``ioengine=filedelete``; each timed as the fio
process's wall clock. fio's files go into the tree's leaf directories, made before its timing
(``directory=leaf1:leaf2:...``; fio gives each thread one of them, so 32 of the leaves get files).

Each repetition runs both tools in a rotated order (create speed on this VM drifts after mass
deletes). The table shows medians of files/s and sai3bench/fio as the median of the
per-repetition ratios.

Owns: its scratch directory (a fresh directory under --root, removed at exit and on Ctrl-C).
Must never: delete anything outside that directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import (
    Scratch,
    base_env_lines,
    fio_sections,
    fmt_num,
    median,
    paired_ratio,
    print_table,
    rotated,
    run_child,
    spread,
    version_of,
)

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
KiB = 1024


class BenchError(RuntimeError):
    """A tool run failed or did other work than asked."""


def sai3_config(tree: Path, width: int, depth: int, files: int, size: int) -> dict[str, object]:
    uri = f"file://{tree}/"
    return {
        "target": uri,
        "duration": "0s",
        "concurrency": CONCURRENCY,
        "processes": "auto",
        "prepare": {
            "cleanup": True,
            "directory_structure": {"width": width, "depth": depth, "files_per_dir": files},
            "ensure_objects": [{"base_uri": uri, "count": 0, "size_spec": size}],
        },
        "workload": [{"op": "get", "path": "/", "weight": 1}],
    }


def run_sai3(work: Path, tree: Path, shape: tuple[int, int, int], size: int) -> dict[str, float]:
    """One sai3bench run; files/s of its prepare and cleanup stages, and its wall clock."""
    cfg = work / "tree.yaml"
    cfg.write_text(yaml.safe_dump(sai3_config(tree, *shape, size), sort_keys=False))
    results = work / "results"
    t0 = time.perf_counter()
    run = run_child(
        [
            sys.executable,
            "-m",
            "sai3bench",
            "run",
            "--config",
            str(cfg),
            "--results-dir",
            str(results),
            "--quiet",
        ],
        cwd=work,
    )
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        raise BenchError(f"sai3bench exit {run.returncode}:\n{run.tail()}")
    (out_dir,) = results.iterdir()
    stages = json.loads((out_dir / "metadata.json").read_text())["stages"]
    shutil.rmtree(results)
    n = stages["prepare"]["objects_created"]
    if n != stages["cleanup"]["objects_deleted"] or tree.exists():
        raise BenchError(f"sai3bench left the tree behind: {stages['cleanup']}")
    return {
        "files": n,
        "create": n / stages["prepare"]["wall_seconds"],
        "delete": n / stages["cleanup"]["wall_seconds"],
        "wall": wall,
    }


def leaf_dirs(base: Path, width: int, depth: int) -> list[Path]:
    """The tree's leaves under ``base`` (names as sai3bench's default dir_mask makes them)."""
    leaves = [base]
    for level in range(1, depth + 1):
        leaves = [p / f"sai3bench.d{level}_w{i}.dir" for p in leaves for i in range(1, width + 1)]
    return leaves


def run_fio(
    fio: str, work: Path, base: Path, shape: tuple[int, int, int], size: int
) -> dict[str, float]:
    """fio creating, then unlinking, the tree's file count in its leaves; files/s of each."""
    width, depth, files = shape
    n = width**depth * files
    leaves = leaf_dirs(base, width, depth)
    for leaf in leaves:
        leaf.mkdir(parents=True)
    common = [
        "[global]",
        "directory=" + ":".join(str(p) for p in leaves),
        "filename_format=$jobname.$jobnum.$filenum",
        "thread=1",
        f"bs={size}",
        f"filesize={size}",
        "openfiles=1",
        "file_service_type=sequential",
    ]
    sections = [
        line
        for name, jobs, nrfiles in fio_sections(n, CONCURRENCY)
        for line in (f"[{name}]", f"numjobs={jobs}", f"nrfiles={nrfiles}")
    ]
    modes = {
        "create": ["ioengine=psync", "rw=write", "create_on_open=1", "fallocate=none"],
        "delete": ["ioengine=filedelete", "rw=read"],
    }
    out: dict[str, float] = {"files": n}
    wall = 0.0
    for mode, extra in modes.items():
        job = work / f"{mode}.fio"
        job.write_text("\n".join([*common, *extra, *sections]) + "\n")
        t0 = time.perf_counter()
        run = run_child([fio, "--output-format=json", f"--output={work / 'fio.json'}", str(job)])
        secs = time.perf_counter() - t0
        if run.returncode != 0:
            raise BenchError(f"fio {mode} exit {run.returncode}:\n{run.tail()}")
        out[mode] = n / secs
        wall += secs
    left = sum(1 for leaf in leaves for _ in leaf.iterdir())
    if left:
        raise BenchError(f"fio left {left} files behind")
    shutil.rmtree(base)
    out["wall"] = wall
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("/tmp"))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--width", type=int, default=10)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--files", type=int, default=1000, help="files per leaf directory")
    p.add_argument("--size", type=int, default=4 * KiB)
    p.add_argument("--fio", default="/usr/bin/fio")
    args = p.parse_args()
    shape = (args.width, args.depth, args.files)
    with Scratch(args.root, "bench-tree-") as scratch:
        print("\n".join(base_env_lines(scratch.path)))
        print(f"fio             {version_of([args.fio, '--version'])}")
        n = args.width**args.depth * args.files
        print(
            f"tree            {args.width} x {args.depth}, {args.files:,} files per leaf: "
            f"{n:,} files of {args.size:,} B; {CONCURRENCY} in flight, processes: auto\n"
        )
        got: dict[str, list[dict[str, float]]] = {"sai3bench": [], "fio": []}
        for rep in range(args.reps):
            for tool in rotated(["sai3bench", "fio"], rep):
                work = scratch.path / f"{tool}-{rep}"
                work.mkdir()
                if tool == "sai3bench":
                    r = run_sai3(work, work / "tree", shape, args.size)
                else:
                    r = run_fio(args.fio, work, work / "tree", shape, args.size)
                got[tool].append(r)
                print(
                    f"rep {rep + 1} {tool:9}  create {r['create']:9,.0f}/s  "
                    f"delete {r['delete']:9,.0f}/s  wall {r['wall']:.1f}s",
                    flush=True,
                )
                shutil.rmtree(work)
        print()
        rows = []
        for phase in ("create", "delete"):
            ours = [r[phase] for r in got["sai3bench"]]
            theirs = [r[phase] for r in got["fio"]]
            lo, hi = spread(ours)
            flo, fhi = spread(theirs)
            ratio = paired_ratio(ours, theirs)
            rows.append(
                [
                    "prepare" if phase == "create" else "cleanup",
                    f"{n:,} x {args.size // KiB} KiB",
                    f"{fmt_num(median(ours))} ({fmt_num(lo)}-{fmt_num(hi)})",
                    f"{fmt_num(median(theirs))} ({fmt_num(flo)}-{fmt_num(fhi)})",
                    "-" if ratio is None else f"{ratio:.2f}x",
                ]
            )
        print_table(["stage", "files", "sai3bench files/s", "fio files/s", "sai3/fio"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
