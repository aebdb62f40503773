"""The console: stdout for results, stderr for warnings, everything kept for console_log.txt."""

from __future__ import annotations

import sys
from typing import TextIO


class Console:
    """Prints lines and remembers them so the results directory gets the same text."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        self.lines: list[str] = []

    def __repr__(self) -> str:
        return f"<Console {len(self.lines)} lines>"

    def say(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, file=self._stdout, flush=True)

    def warn(self, line: str) -> None:
        text = line if line.startswith("warning:") else f"warning: {line}"
        self.lines.append(text)
        print(text, file=self._stderr, flush=True)

    def progress(self, line: str) -> None:
        """Overwrite one status line on a terminal; say nothing when stderr is a file or pipe."""
        if self._stderr.isatty():
            end = "" if line else "\n"
            print(f"\r\x1b[2K{line}", end=end, file=self._stderr, flush=True)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
