"""A results directory read back: what ``compare``, ``merge`` and ``report`` work from.

The lossless part is results.json (every stage's collector, docs/FORMAT.md); metadata.json gives
each stage's wall seconds (the divisor of every rate); perf_log.tsv, config.yaml and the small
per-endpoint/per-host TSVs are read when present. A directory that is not a sai3bench results
directory, or whose results.json is foreign or corrupt, is a UsageError naming the file.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sai3bench.errors import UsageError
from sai3bench.metrics.collector import Collector

RESULTS_FORMAT = "sai3bench-results"
RESULTS_VERSION = 1
#: Stages in run order, the order every command shows them in.
STAGE_ORDER = ("prepare", "workload", "cleanup")


@dataclass(frozen=True)
class RunData:
    """One results directory: collectors and wall seconds per stage, and the side files."""

    path: Path
    collectors: dict[str, Collector]
    walls: dict[str, float]
    metadata: dict[str, Any]
    #: results.json beyond the collectors: ``processes`` and ``hosts`` sections, if any.
    extra: dict[str, Any] = field(default_factory=dict)
    config_text: str | None = None
    perf_log_text: str | None = None
    #: perf_log_intervals.jsonl (report/interval_log.py): the intervals, lossless.
    intervals_text: str | None = None
    #: ``<stage>_endpoint_stats.tsv`` / ``<stage>_host_stats.tsv`` texts by file name.
    small_tsvs: dict[str, str] = field(default_factory=dict)

    def stages(self) -> list[str]:
        """Stages with a collector, in run order."""
        known = [s for s in STAGE_ORDER if s in self.collectors]
        return known + sorted(set(self.collectors) - set(known))


def _not_results(path: Path, why: str) -> UsageError:
    return UsageError(
        f"{path} is not a sai3bench results directory: {why}",
        hint="pass a sai3-YYYYMMDD-HHMMSS-<name> directory written by 'sai3bench run'",
    )


def _read_json(path: Path, root: Path) -> dict[str, Any]:
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise _not_results(root, f"no {path.name}") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise _not_results(root, f"{path.name} cannot be read ({exc})") from None
    if not isinstance(doc, dict):
        raise _not_results(root, f"{path.name} is not a JSON object")
    return doc


def _collectors(doc: dict[str, Any], root: Path) -> dict[str, Collector]:
    if doc.get("format") != RESULTS_FORMAT or doc.get("version") != RESULTS_VERSION:
        found = f"{doc.get('format')!r} v{doc.get('version')}"
        raise _not_results(root, f"results.json is {found}, not {RESULTS_FORMAT!r} v1")
    stages = doc.get("stages")
    if not isinstance(stages, dict):
        raise _not_results(root, "results.json has no stages")
    out = {}
    for stage, blob in stages.items():
        try:
            out[stage] = Collector.decode(base64.b64decode(blob, validate=True))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise _not_results(root, f"results.json stage {stage!r}: {exc}") from None
    return out


def _walls(meta: dict[str, Any]) -> dict[str, float]:
    stages = meta.get("stages")
    if not isinstance(stages, dict):
        return {}
    return {
        name: float(s["wall_seconds"])
        for name, s in stages.items()
        if isinstance(s, dict) and isinstance(s.get("wall_seconds"), int | float)
    }


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint="check the file") from None


def load_run(path: Path) -> RunData:
    """Read the results directory ``path``; raises UsageError when it is not one."""
    if not path.is_dir():
        raise _not_results(path, "no such directory")
    doc = _read_json(path / "results.json", path)
    meta = _read_json(path / "metadata.json", path)
    small = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(path.glob("*_stats.tsv"))
        if p.name.endswith(("_endpoint_stats.tsv", "_host_stats.tsv"))
    }
    return RunData(
        path=path,
        collectors=_collectors(doc, path),
        walls=_walls(meta),
        metadata=meta,
        extra={k: v for k, v in doc.items() if k in ("processes", "hosts")},
        config_text=_text(path / "config.yaml"),
        perf_log_text=_text(path / "perf_log.tsv"),
        intervals_text=_text(path / "perf_log_intervals.jsonl"),
        small_tsvs=small,
    )
