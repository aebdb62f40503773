"""The console: stdout for results, stderr for warnings and live progress, and the lines kept
for console_log.txt (progress never is).

Live progress goes to stderr. On a terminal it is a rich view redrawn in place (a bar for
prepare and cleanup, a per-op-kind table for the workload), erased when the stage ends or a line
is printed. Off a terminal (a pipe, a CI log) it is a plain line every ``plain_every_s`` seconds
of the stage, never carriage-return redraws. ``quiet`` shows none.
"""

from __future__ import annotations

import sys
import time
from typing import Final, TextIO

from rich.console import Console as RichConsole
from rich.console import RenderableType
from rich.live import Live
from rich.text import Text

from sai3bench.engine.progress import Tick
from sai3bench.report.progress_view import plain_line, renderable

#: Seconds of a stage between two plain progress lines off a terminal.
PLAIN_EVERY_S: Final = 5.0
#: A tick this much before its due time still counts as due (ticks are not exactly on time).
_SLACK_S: Final = 0.25


class Console:
    """Prints lines and remembers them so the results directory gets the same text; shows
    the stages' live progress (a ProgressSink: engine processes' ticks arrive as numbers)."""

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        *,
        quiet: bool = False,
        tty: bool | None = None,
        plain_every_s: float = PLAIN_EVERY_S,
    ) -> None:
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        self.lines: list[str] = []
        self.quiet = quiet
        self._tty = self._stderr.isatty() if tty is None else tty
        self._every = plain_every_s
        self._live: Live | None = None
        #: Off a terminal: the stage whose plain lines are due, and when the next one is (the
        #: stage's elapsed seconds for ticks, time.monotonic() for free-text lines).
        self._stage = ""
        self._due = 0.0
        self._text_due: float | None = None

    def __repr__(self) -> str:
        return f"<Console {len(self.lines)} lines tty={self._tty} quiet={self.quiet}>"

    def say(self, line: str = "") -> None:
        self._end_live()
        self.lines.append(line)
        print(line, file=self._stdout, flush=True)

    def warn(self, line: str) -> None:
        self._end_live()
        text = line if line.startswith("warning:") else f"warning: {line}"
        self.lines.append(text)
        print(text, file=self._stderr, flush=True)

    def progress(self, line: str) -> None:
        """A free-text status line (a --cluster run's hosts added up), or "" when a stage's
        progress is over: the live view is erased and the plain lines' clock starts again."""
        if not line:
            self._end_live()
            self._stage, self._text_due = "", None
            return
        if self.quiet:
            return
        if self._tty:
            self._show(Text(line))
            return
        now = time.monotonic()
        if self._text_due is None:
            self._text_due = now + self._every
        elif now + _SLACK_S >= self._text_due:
            self._text_due = now + self._every
            self._plain(line)

    def progress_tick(self, tick: Tick) -> None:
        """A stage's progress as numbers: this process's, or every engine process's added."""
        if self.quiet:
            return
        if self._tty:
            self._show(renderable(tick))
            return
        if tick.label != self._stage:
            self._stage, self._due = tick.label, self._every
        if tick.elapsed_s + _SLACK_S >= self._due:
            while self._due <= tick.elapsed_s + _SLACK_S:
                self._due += self._every
            self._plain(plain_line(tick))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def _plain(self, line: str) -> None:
        print(line, file=self._stderr, flush=True)

    def _show(self, view: RenderableType) -> None:
        if self._live is None:
            rich = RichConsole(file=self._stderr, force_terminal=True, highlight=False)
            self._live = Live(
                view,
                console=rich,
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start(refresh=True)
        else:
            self._live.update(view, refresh=True)

    def _end_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
