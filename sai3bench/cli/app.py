"""``sai3bench``: the only layer that prints errors or exits.

Every Sai3Error becomes two lines on stderr (``error: ...`` and ``hint: ...``) and its exit code
(2 for usage, config and storage errors; 1 for a run that started and failed). Tracebacks are for
bugs only, and then only with ``-vv``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from sai3bench import __version__
from sai3bench.cli.netopts import DEFAULT_FIRST_BYTE, FirstByteTimeout
from sai3bench.errors import Sai3Error
from sai3bench.outcome import OpError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Storage benchmark for file://, s3://, gs:// and az://; runs sai3-bench YAML configs.",
)
util_app = typer.Typer(no_args_is_help=True, help="One-off storage operations on a URI.")
app.add_typer(util_app, name="util")

_verbosity = 0


@app.callback()
def _global(
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="-v info, -vv debug")
    ] = 0,
) -> None:
    global _verbosity
    _verbosity = verbose
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.setFormatter(_UserFormatter() if verbose == 0 else logging.Formatter(_DEBUG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])


_DEBUG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _UserFormatter(logging.Formatter):
    """Without -v, a logged warning reads like the console's own (``warning: LIST ... failed;
    retry 1 of 8``): the user is told what happened, not which module said it."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


@app.command()
def version() -> None:
    """Print the version."""
    print(f"sai3bench {__version__}")


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="sai3-bench YAML; none: the embedded quickstart"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan, touch nothing")
    ] = False,
    prepare_only: Annotated[bool, typer.Option("--prepare-only")] = False,
    skip_prepare: Annotated[bool, typer.Option("--skip-prepare")] = False,
    no_cleanup: Annotated[bool, typer.Option("--no-cleanup")] = False,
    cleanup_only: Annotated[bool, typer.Option("--cleanup-only")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="check prepared objects exist")] = False,
    tsv_name: Annotated[str | None, typer.Option("--tsv-name", help="test name")] = None,
    results_dir: Annotated[
        Path, typer.Option("--results-dir", help="where sai3-*/ result directories go")
    ] = Path("."),
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, max=2**64 - 1, help="fix op choice and data (0..2^64-1)"),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="skip TLS certificate checks (not for real data)")
    ] = False,
    http2: Annotated[
        bool,
        typer.Option(
            "--http2",
            help="s3://, gs://, az:// over HTTP/2 (prior knowledge on http://, ALPN on https://)",
        ),
    ] = False,
    sign_payload: Annotated[
        bool,
        typer.Option("--sign-payload", help="s3://: SHA-256 of each body in the signature"),
    ] = False,
    first_byte_timeout: FirstByteTimeout = DEFAULT_FIRST_BYTE,
    processes: Annotated[
        str | None,
        typer.Option(
            "--processes",
            help="engine processes: auto (the usable cores), single, or N; overrides the YAML",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="run over every worker of a Dask cluster: tcp://SCHEDULER:8786",
        ),
    ] = None,
    forward_credentials: Annotated[
        bool,
        typer.Option(
            "--forward-credentials",
            help="--cluster: send this shell's AWS_*/GOOGLE_*/AZURE_STORAGE_* to the workers "
            "(memory only, never saved)",
        ),
    ] = False,
    op_log: Annotated[
        Path | None,
        typer.Option(
            "--op-log",
            help="every op into this zstd TSV (upstream's op-log; wins over op_log_path)",
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option("--duration", help="workload duration (30s, 5m, 1h); overrides the YAML"),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", help="operations in flight; overrides the YAML"),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="the URI paths are joined to; overrides the YAML"),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="no live progress (results are still printed)")
    ] = False,
    report: Annotated[
        bool,
        typer.Option("--report", help="write report.html (plots) into the results directory"),
    ] = False,
    ignore_unknown_keys: Annotated[
        bool,
        typer.Option(
            "--ignore-unknown-keys",
            help="drop YAML keys sai3-bench does not know with a warning (as upstream) "
            "instead of refusing the config",
        ),
    ] = False,
) -> None:
    """prepare -> workload -> cleanup, as the config says."""
    from sai3bench.cli.netopts import first_byte_seconds
    from sai3bench.cli.overrides import Overrides
    from sai3bench.cli.run import RunFlags, run_command

    flags = RunFlags(
        dry_run=dry_run,
        prepare_only=prepare_only,
        skip_prepare=skip_prepare,
        no_cleanup=no_cleanup,
        cleanup_only=cleanup_only,
        verify=verify,
        tsv_name=tsv_name,
        results_dir=results_dir,
        seed=seed,
        insecure=insecure,
        http2=http2,
        sign_payload=sign_payload,
        first_byte_timeout=first_byte_seconds(first_byte_timeout),
        processes=processes,
        cluster=cluster,
        forward_credentials=forward_credentials,
        overrides=Overrides(duration=duration, concurrency=concurrency, target=target),
        quiet=quiet,
        report=report,
        ignore_unknown_keys=ignore_unknown_keys,
        op_log=str(op_log) if op_log is not None else None,
    )
    if report:  # refused before the run, not after it
        from sai3bench.report.html_report import require_plotly

        require_plotly()
    code = run_command(config, flags)
    if code:
        raise SystemExit(code)


def main() -> None:
    """Console-script entry point."""
    from sai3bench.cli import analyze, autotune, mock, oplog, util  # noqa: F401  (commands)

    # typer >= 0.29 carries its own click (typer._click); its usage errors are TyperExceptions.
    try:
        # typer >= 0.29 with standalone_mode=False *returns* Ctrl-C as 130 (it catches the
        # KeyboardInterrupt): that return value is the exit code, or Ctrl-C would exit 0.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            if code == 130:
                print("error: interrupted", file=sys.stderr)
            raise SystemExit(code)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # help was printed already
            raise SystemExit(0) from None
        print(f"error: {exc.format_message()}", file=sys.stderr)
        print("hint: see 'sai3bench --help' or 'sai3bench run --help'", file=sys.stderr)
        raise SystemExit(2) from None
    except Sai3Error as exc:
        print(f"error: {exc.msg}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except OpError as exc:  # a storage request outside the engine (util commands)
        print(f"error: storage request failed: {exc.detail or exc.outcome.name}", file=sys.stderr)
        hint = exc.hint or "check the URI, the credentials and that the endpoint is up"
        print(f"hint: {hint}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
