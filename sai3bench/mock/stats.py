"""The mock server's own counters, served as JSON at ``GET /_mock/stats`` for tests.

A fault test checks the client's account of a run (ops, errors by outcome, retries) against
what the server saw, so the server counts for itself: every request it read whole, by method;
every response it sent whole, by status; every fault it injected, by kind; and the objects each
bucket holds now. A request that was reset, stalled or answered with a cut-off body is counted
under ``requests`` and ``faults``, never under ``responses``.

``/_mock/`` requests are answered by the server itself, before any dialect or fault, and are not
counted. No S3 bucket, GCS bucket or Azure container name may start with "_", so the path never
shadows a real one.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Final

from sai3bench.mock.app import Response
from sai3bench.mock.store import ObjectStore

STATS_PATH: Final = "/_mock/stats"
#: Fault kinds, as counted and as named in the JSON.
ERROR, RESET, TRUNCATE, STALL = "error", "reset", "truncate", "stall"


class MockStats:
    """Counters of one server (all its listeners); reset with ``clear``."""

    __slots__ = ("connections", "faults", "requests", "responses", "store")

    def __init__(self, store: ObjectStore | None = None) -> None:
        self.store = store
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.connections = 0

    def __repr__(self) -> str:
        return (
            f"<MockStats requests={sum(self.requests.values())} "
            f"responses={sum(self.responses.values())} faults={dict(self.faults)}>"
        )

    def clear(self) -> None:
        self.requests.clear()
        self.responses.clear()
        self.faults.clear()
        self.connections = 0

    def as_dict(self) -> dict[str, object]:
        """The JSON document: counters, then objects per bucket (when the store is known)."""
        doc: dict[str, object] = {
            "requests": dict(sorted(self.requests.items())),
            "responses": {str(k): v for k, v in sorted(self.responses.items())},
            "faults": {k: self.faults[k] for k in (ERROR, RESET, TRUNCATE, STALL)},
            "connections": self.connections,
        }
        if self.store is not None:
            doc["objects"] = {b: len(self.store.keys(b)) for b in self.store.buckets()}
        return doc

    def answer(self, method: str, target: str) -> Response:
        """The answer to a ``/_mock/`` request: the counters (GET), a reset (DELETE), or 404."""
        path = target.partition("?")[0]
        if path != STATS_PATH:
            return _json(404, {"error": f"no such mock endpoint {path}; try {STATS_PATH}"})
        if method == "DELETE":
            self.clear()
            return _json(200, {"cleared": True})
        return _json(200, self.as_dict())


def _json(status: int, doc: object) -> Response:
    body = json.dumps(doc).encode()
    return Response(status, [("Content-Type", "application/json")], body, len(body))
