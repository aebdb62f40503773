"""Live progress (issue 10 item 6), with hand-built Ticks: plain periodic lines off a terminal,
a rich view on one, nothing with --quiet, and never a progress line in console_log.txt."""

from __future__ import annotations

import io

from sai3bench.cli.output import Console
from sai3bench.engine.progress import ClassTick, Tick, tell
from sai3bench.report.progress_view import eta_s, fmt_eta, plain_line


def _workload_tick(second: int) -> Tick:
    return Tick(
        label="workload",
        elapsed_s=second + 0.003,
        done=1000 * second,
        rate=1000.0,
        duration_s=12.0,
        mib_s=3.9,
        errors=2,
        classes=[
            ClassTick("GET", 800.0, 3.9, 1_234.5, 2),
            ClassTick("STAT", 150.0, 0.0, 0.8, 0),
            ClassTick("DELETE", 50.0, 0.0, 20_000.0, 0),
        ],
    )


def _prepare_tick(second: int) -> Tick:
    return Tick(label="prepare", elapsed_s=float(second), done=100 * second, rate=100.0, total=1000)


def _console(**kw: object) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(out, err, **kw), out, err  # type: ignore[arg-type]


def test_off_a_terminal_a_plain_line_every_five_seconds_never_a_carriage_return():
    console, out, err = _console(tty=False)
    console.say("=== Test Phase ===")
    for s in range(1, 13):
        tell(console, _workload_tick(s))
    console.progress("")
    lines = err.getvalue().splitlines()
    assert len(lines) == 2, lines  # at 5 s and 10 s
    assert lines[0].startswith("workload [    5s/12s] 1,000 ops/s 3.9 MiB/s")
    assert "| GET 800/s 3.9 MiB/s p99 1.23ms errors 2" in lines[0]
    assert "| STAT 150/s 0.0 MiB/s p99 800ns errors 0" in lines[0]
    assert "| DELETE 50/s 0.0 MiB/s p99 20.00ms errors 0" in lines[0]
    assert "\r" not in err.getvalue() and "\x1b" not in err.getvalue()
    assert out.getvalue() == "=== Test Phase ===\n"
    assert console.text() == "=== Test Phase ===\n"  # console_log.txt: no progress


def test_each_stage_starts_its_own_plain_line_clock():
    console, _, err = _console(tty=False)
    for s in range(1, 7):
        console.progress_tick(_prepare_tick(s))
    console.progress("")
    for s in range(1, 6):
        console.progress_tick(_workload_tick(s))
    lines = err.getvalue().splitlines()
    assert lines == [
        "prepare: 500/1,000 objects (100/s) ETA 0:05",
        lines[1],
    ]
    assert lines[1].startswith("workload [    5s/12s]")


def test_quiet_shows_no_progress_at_all_but_still_the_results():
    for tty in (False, True):
        console, out, err = _console(tty=tty, quiet=True)
        for s in range(1, 13):
            console.progress_tick(_workload_tick(s))
            console.progress_tick(_prepare_tick(s))
            console.progress(f"free text {s}")
        console.say("Errors: 0")
        assert err.getvalue() == "" and out.getvalue() == "Errors: 0\n"


def test_on_a_terminal_a_rich_view_that_is_erased_and_never_logged():
    console, _, err = _console(tty=True)
    console.progress_tick(_prepare_tick(3))
    view = err.getvalue()
    assert "300/1,000" in view and "ETA 0:07" in view and "100/s" in view
    console.progress("")
    console.progress_tick(_workload_tick(4))
    view = err.getvalue()
    for text in ("GET", "STAT", "DELETE", "1.23ms", "800ns", "20.00ms", "4s/12s", "errors 2"):
        assert text in view, text
    console.warn("a notice")  # the live view is erased before a line is printed
    assert err.getvalue().endswith("warning: a notice\n")
    assert console.text() == "warning: a notice\n"


def test_free_text_progress_off_a_terminal_is_throttled():
    console, _, err = _console(tty=False, plain_every_s=0.0)
    console.progress("hosts: 10 ops/s")  # starts the clock
    console.progress("hosts: 20 ops/s")
    assert err.getvalue() == "hosts: 20 ops/s\n"
    slow, _, err2 = _console(tty=False, plain_every_s=3600.0)
    for n in range(5):
        slow.progress(f"hosts: {n}")
    assert err2.getvalue() == ""


def test_eta():
    assert fmt_eta(eta_s(_prepare_tick(3))) == "0:07"
    assert fmt_eta(eta_s(Tick(label="x", elapsed_s=1, done=0, rate=0.0, total=5))) == "--:--"
    assert fmt_eta(3725.2) == "1:02:05"
    assert eta_s(_workload_tick(4)) == 12.0 - 4.003
    assert plain_line(_prepare_tick(0)).endswith("ETA 0:10")
