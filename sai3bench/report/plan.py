"""What ``run --dry-run`` prints: the plan, computed from the config alone (no storage touched)."""

from __future__ import annotations

from sai3bench.config.schema import Config, PutOp
from sai3bench.config.sizespec import FixedSize, LognormalSize, SizeSpec, UniformSize
from sai3bench.config.units import fmt_bytes
from sai3bench.engine.runner import NO_WORKLOAD
from sai3bench.plan.share import divide
from sai3bench.plan.sizes import SizeSampler
from sai3bench.plan.tasks import is_mixed, prepare_sets
from sai3bench.report.tree_plan import tree_lines


def describe_size(spec: SizeSpec) -> str:
    if isinstance(spec, FixedSize):
        return f"fixed {fmt_bytes(spec.size)}"
    mean = fmt_bytes(SizeSampler(spec).mean_bytes())
    if isinstance(spec, UniformSize):
        return f"uniform {fmt_bytes(spec.min)}..{fmt_bytes(spec.max)} (mean {mean})"
    assert isinstance(spec, LognormalSize)
    top = "" if spec.max >= 2**62 else f", max {fmt_bytes(spec.max)}"
    return (
        f"lognormal mean {fmt_bytes(spec.mean)} sd {fmt_bytes(spec.std_dev)}, "
        f"min {fmt_bytes(spec.min)}{top} (expected {mean})"
    )


def op_mix_lines(config: Config) -> list[str]:
    """The ``Operation Mix`` block, as upstream prints it before a run."""
    total = sum(op.weight for op in config.workload)
    lines = [f"Operation Mix ({len(config.workload)} types):"]
    for op in config.workload:
        name = op.__struct_config__.tag
        assert isinstance(name, str)
        extra = f", concurrency: {op.concurrency} threads" if op.concurrency else ""
        lines.append(
            f"  {name.upper()} - {100 * op.weight / total:.1f}% (weight: {op.weight}{extra})"
            f"  {op.path}"
        )
        if isinstance(op, PutOp):
            lines.append(f"      size: {describe_size(op.size_spec)}")
    return lines


def multi_endpoint_lines(config: Config) -> list[str]:
    """Where ops under the target really go when multi_endpoint is set."""
    multi = config.multi_endpoint
    if multi is None:
        return []
    head = f"Multi-endpoint ({multi.strategy}, {len(multi.endpoints)} endpoints):"
    return [head, *(f"  [{i}] {uri}" for i, uri in enumerate(multi.endpoints))]


def format_plan(config: Config, source: str, processes: int = 1) -> str:
    """The --dry-run text. ``processes``: the engine processes the run would start here."""
    caps = [op.concurrency or 0 for op in config.workload]
    workers = max(config.concurrency, *caps)
    lines = [
        "Dry run: the plan below was computed from the config; no storage was touched.",
        f"Config: {source}",
        f"Target: {config.target or '(none: every path is absolute)'}",
        *multi_endpoint_lines(config),
        f"Duration: {config.duration:g}s",
        *(
            [f"  {NO_WORKLOAD}: prepare, then cleanup (the ops below are checked, not run)"]
            if config.duration == 0
            else []
        ),
        f"Concurrency: {config.concurrency} threads"
        + (f" ({workers} workers: a per-op cap is higher)" if workers > config.concurrency else ""),
        *_process_lines(config, processes),
        *_rate_lines(config),
        *_range_engine_lines(config),
        *_storage_lines(config),
        "",
        *op_mix_lines(config),
    ]
    prep = config.prepare
    sets = prepare_sets(prep, mixed=is_mixed(config))
    if prep is not None and sets:
        cleanup = f"yes ({prep.cleanup_mode})" if prep.cleanup else "no"
        lines += ["", f"Prepare (strategy {prep.prepare_strategy}, cleanup: {cleanup}):"]
        if is_mixed(config):
            lines.append("  Mixed workload: separate prepared-* (read) and deletable-* pools")
        objects, nbytes = 0, 0.0
        for s in sets:
            spec = s.spec
            mean = SizeSampler(spec.size_spec).mean_bytes()
            objects += spec.count
            nbytes += spec.count * mean
            lines.append(
                f"  [{s.entry}] {s.glob}.dat  {spec.count:,} x "
                f"{describe_size(spec.size_spec)} = {fmt_bytes(spec.count * mean)}, "
                f"fill {spec.fill}, dedup {spec.dedup_factor}, compress {spec.compress_factor}"
            )
        lines.append(
            f"  Total: {objects:,} objects, {fmt_bytes(nbytes)} (objects that exist are kept)"
        )
        if prep.force_overwrite:  # wins over skip_verification, as upstream
            lines.append("  force_overwrite: every object is written, existing or not")
        elif prep.skip_verification:
            lines.append("  skip_verification: no listing; all objects are assumed to exist")
        if prep.key_prefix_shards > 0:
            n = prep.key_prefix_shards
            lines.append(
                f"  key_prefix_shards: {n} (keys under {0:02x}/ .. {n - 1:02x}/; "
                "workload PUT keys too; globs list recursively)"
            )
    lines += tree_lines(config)  # prepare.directory_structure (report/tree_plan.py)
    return "\n".join(lines)


def _process_lines(config: Config, processes: int) -> list[str]:
    if processes <= 1:
        return []
    split = divide(config.concurrency, processes)
    shown = ", ".join(str(n) for n in split[:8]) + (", ..." if len(split) > 8 else "")
    return [f"Processes: {processes} (concurrency per process: {shown})"]


def _range_engine_lines(config: Config) -> list[str]:
    """range_engine: on (s3://, gs://, az:// GETs) with its settings, or nothing when off."""
    r = config.range_engine
    if r is None or not r.enabled:
        return []
    return [
        f"Range engine: on for s3://, gs://, az:// GETs of objects >= "
        f"{fmt_bytes(r.min_split_size)}: ranges of {fmt_bytes(r.chunk_size)}, "
        f"{r.max_concurrent_ranges} in flight per GET, {r.range_timeout_secs}s per range"
    ]


def _storage_lines(config: Config) -> list[str]:
    """page_cache_mode, direct://, the agents and dynamic_put_pool: said when they act
    (upstream's dry run has Page Cache and Distributed sections too)."""
    uris = [config.target or "", *(op.path for op in config.workload)]
    lines = []
    if any(u.startswith("direct://") for u in uris):
        lines.append("direct://: O_DIRECT reads and writes from page-aligned buffers")
    if config.page_cache_mode is not None:
        lines.append(
            f"Page cache: posix_fadvise {config.page_cache_mode} on file:// and direct:// "
            "GETs and PUTs"
        )
    agents = config.distributed.agents if config.distributed else ()
    if agents:
        shown = ", ".join(agents[:4]) + (", ..." if len(agents) > 4 else "")
        lines.append(f"Agents: {len(agents)} ({shown}): the hosts of a --cluster run")
    if config.dynamic_put_pool:
        lines.append(
            "dynamic_put_pool: objects the workload PUTs join the GET/STAT pools they match"
        )
    return lines


def _rate_lines(config: Config) -> list[str]:
    """io_rate: the aggregate rate offered, open loop (nothing for the closed loop)."""
    rate = config.io_rate
    if rate is None:
        return []
    return [f"Rate: {rate.iops:,.6g} ops/s offered in all, {rate.distribution} (open loop)"]
