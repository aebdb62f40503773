"""A transport that records what a connection writes: HTTP/1.1 and HTTP/2 tests, no sockets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class FakeTransport:
    """Collects writes in ``out``; ``aborted`` once the connection gave up on it."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def write(self, data: bytes) -> None:
        self.out += data

    def writelines(self, parts: Iterable[bytes | memoryview]) -> None:
        for part in parts:
            self.out += part

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True
