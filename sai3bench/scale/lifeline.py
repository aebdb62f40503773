"""Child processes that never outlive their parent (Linux prctl PR_SET_PDEATHSIG).

Why: a coordinator killed with SIGKILL (or an OOM kill) runs no cleanup code; without this its
engine processes and the quickstart's mock server would keep loading the storage for nobody.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import signal
import sys
from typing import Final

_PR_SET_PDEATHSIG: Final = 1


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In the child (before exec, or first thing after): ``signum`` when the parent thread
    exits. A no-op off Linux."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signum)
