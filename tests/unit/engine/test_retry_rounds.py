"""engine/retry_rounds.py: deferred retry rounds over a task list, with a scripted backend."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.retry_rounds import (
    RetriedRun,
    is_permanent,
    outcome_counts,
    run_with_retry_rounds,
)
from sai3bench.engine.transient import RetryPolicy
from sai3bench.metrics.collector import OpKind
from sai3bench.outcome import OpError, Outcome

FAST = RetryPolicy(max_retries=3, first_s=0.0)


class ScriptedBackend:
    """DELETE answers per key from a script: the outcomes of the first tries, then OK."""

    def __init__(self, script: dict[str, list[Outcome]]) -> None:
        self.script = script
        self.calls: dict[str, int] = defaultdict(int)

    async def delete(self, key: str) -> tuple[int, int]:
        self.calls[key] += 1
        todo = self.script.get(key, [])
        if todo:
            raise OpError(todo.pop(0), f"scripted {key}")
        return 0, 0


class Lines:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, line: str = "") -> None:
        self.said.append(line)

    def warn(self, line: str) -> None:
        self.said.append(line)

    def progress(self, line: str) -> None:
        pass


def _run(
    backend: ScriptedBackend, keys: list[str], *, stop: bool = False
) -> tuple[RetriedRun, dict[str, int], Lines]:
    ops = [PlannedOp(index=0, kind=OpKind.DELETE, backend=backend, label="t")]  # type: ignore[arg-type]
    finals: dict[str, int] = {}

    def on_task(task: Task, code: int) -> None:
        assert task[1] not in finals, "each task's final outcome is told once"
        finals[task[1]] = code

    out = Lines()
    run = asyncio.run(
        run_with_retry_rounds(
            ops,
            iter([(0, k, 0, 0) for k in keys]),
            len(keys),
            workers=2,
            executor=None,
            on_task=on_task,
            out=out,
            label="test",
            stop_when=is_permanent if stop else None,
            policy=FAST,
        )
    )
    return run, finals, out


def test_transient_failures_are_retried_until_they_succeed() -> None:
    backend = ScriptedBackend(
        {"a": [Outcome.THROTTLED], "b": [Outcome.CONNECTION, Outcome.SERVER_ERROR]}
    )
    run, finals, out = _run(backend, ["a", "b", "c"])
    assert finals == {"a": 0, "b": 0, "c": 0}
    assert backend.calls == {"a": 2, "b": 3, "c": 1}
    assert run.retries == 3 and run.rounds == 2 and run.failed == []
    assert run.collector.retries_of(OpKind.DELETE) == 3
    assert any("retry round 1 of 3" in line for line in out.said)


def test_retries_run_out_and_the_last_outcome_is_final() -> None:
    backend = ScriptedBackend({"a": [Outcome.THROTTLED] * 3 + [Outcome.TIMEOUT]})
    run, finals, _ = _run(backend, ["a", "b"])
    assert finals == {"a": Outcome.TIMEOUT, "b": 0}
    assert backend.calls["a"] == 4  # first try + 3 rounds
    assert run.rounds == 3 and run.failed == [((0, "a", 0, 0), Outcome.TIMEOUT)]
    assert run.worst() == ((0, "a", 0, 0), Outcome.TIMEOUT, "scripted a")


def test_a_permanent_failure_is_never_retried_and_may_stop_the_stage() -> None:
    backend = ScriptedBackend({"a": [Outcome.PERMISSION], "b": [Outcome.THROTTLED]})
    run, finals, _ = _run(backend, ["a", "b"], stop=True)
    assert finals["a"] == Outcome.PERMISSION and backend.calls["a"] == 1
    assert run.stopped_by == ((0, "a", 0, 0), Outcome.PERMISSION)
    assert run.rounds == 0  # a stopped stage starts no retry round


def test_without_stop_a_permanent_failure_is_counted_and_the_rest_goes_on() -> None:
    backend = ScriptedBackend({"a": [Outcome.PERMISSION], "b": [Outcome.THROTTLED]})
    run, finals, _ = _run(backend, ["a", "b", "c"])
    assert finals == {"a": Outcome.PERMISSION, "b": 0, "c": 0}
    assert run.stopped_by is None and run.retries == 1


def test_after_a_pass_without_success_a_round_probes_before_resending_everything() -> None:
    """A server down for good: each round re-sends one task per worker (2), not all 20; every
    attempt is an error, every re-send one retry, and every object's last outcome is final."""
    keys = [f"k{i}" for i in range(20)]
    backend = ScriptedBackend({k: [Outcome.CONNECTION] * 10 for k in keys})
    run, finals, out = _run(backend, keys)
    assert finals == dict.fromkeys(keys, Outcome.CONNECTION) and len(run.failed) == 20
    assert any(line.endswith("2 first (none succeeded in the last pass)") for line in out.said)
    assert sum(backend.calls.values()) == 20 + 3 * 2  # the main pass, then 3 probes of 2
    assert run.retries == 6 and run.collector.retries_of(OpKind.DELETE) == 6
    assert run.collector.error_count() == 26


def test_a_probe_that_succeeds_sends_the_rest_of_its_round() -> None:
    """A 503 storm that passes: the probe succeeds, so the 18 held tasks go in the same round."""
    keys = [f"k{i}" for i in range(20)]
    backend = ScriptedBackend({k: [Outcome.THROTTLED] for k in keys})
    run, finals, _ = _run(backend, keys)
    assert finals == dict.fromkeys(keys, 0) and run.failed == []
    assert backend.calls == dict.fromkeys(keys, 2) and run.rounds == 1
    assert run.retries == 20 and run.collector.retries_of(OpKind.DELETE) == 20
    assert run.collector.error_count() == 20


def test_outcome_counts_most_frequent_first() -> None:
    codes = [Outcome.CONNECTION, Outcome.THROTTLED, Outcome.THROTTLED]
    assert outcome_counts(codes) == "THROTTLED 2, CONNECTION 1"
