"""A task list whose transient failures are retried in deferred rounds (prepare, cleanup).

Shape (upstream's deferred prepare retry, v0.8.52): the main pass runs every task once and sets
aside the ones that failed with a transient outcome (engine/transient.py); after it, each retry
round waits a jittered exponential delay and runs the set-aside tasks again, with the same
number of workers, until none is left or the rounds run out.

Why deferred and not inline (each worker sleeping and re-sending its own failed op):
- a throttled server is given a pause by everyone at once, instead of 5 % of the workers
  sleeping while the other 95 % keep sending at full rate;
- the main pass is not held up by a few slow retries, and its progress line stays true;
- the worker loop (engine/batch.py), shared with the workload, is left as it is, and every
  attempt keeps its own latency and outcome in the stage's collector.

After a pass in which nothing succeeded (a server down or throttling everything), a round
first re-sends one task per worker and the rest only if one of those succeeded: a dead server
then costs each round a few requests, not one per object.

Every re-sent task counts as one retry (``Collector.record_retry``) of its op kind; every failed
attempt stays counted as an error under its outcome. A permanent failure is never retried: with
``stop_when`` it stops the stage at once, as before.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor

from sai3bench.engine import interrupt
from sai3bench.engine.context import Output
from sai3bench.engine.ops import PlannedOp, Task
from sai3bench.engine.record import TaskHook
from sai3bench.engine.tasklist import TaskListResult, run_task_list
from sai3bench.engine.transient import STAGE_RETRY, RetryPolicy, is_transient
from sai3bench.metrics.collector import Collector
from sai3bench.outcome import Outcome


def is_permanent(code: int) -> bool:
    """A failure that no retry will fix: the stage may stop at once."""
    return code != 0 and not is_transient(code)


class RetriedRun:
    """What a task list with retry rounds did.

    ``failed`` holds (task, last outcome code) for each task that still failed after its last
    try: transient ones whose retries ran out, and the permanent ones. ``stopped_by`` is the
    failure that made ``stop_when`` end the stage early; ``errors`` maps a key to the detail of
    its failure, for the first failure of each pass (for the one-line message).
    """

    def __init__(self) -> None:
        self.collector = Collector()
        self.wall_s = 0.0
        self.retries = 0
        self.rounds = 0
        self.failed: list[tuple[Task, int]] = []
        self.stopped_by: tuple[Task, int] | None = None
        #: A signal stopped the stage (engine/interrupt.py): set-aside tasks were not retried
        #: and are not reported; the caller returns its partial results.
        self.interrupted = False
        self.errors: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"<RetriedRun retries={self.retries} rounds={self.rounds} failed={len(self.failed)} "
            f"stopped_by={self.stopped_by}>"
        )

    def worst(self) -> tuple[Task, Outcome, str] | None:
        """(task, outcome, detail) of the failure to report: the one that stopped the stage,
        else the last one left whose detail is known (the backend's words), else the last one
        left with its outcome's name for a detail."""
        known = [f for f in reversed(self.failed) if f[0][1] in self.errors]
        failure = self.stopped_by or next(iter(known or self.failed[-1:]), None)
        if failure is None:
            return None
        task, code = failure
        return task, Outcome(code), self.errors.get(task[1]) or Outcome(code).name


def outcome_counts(codes: Sequence[int]) -> str:
    """``"THROTTLED 12, CONNECTION 2"``: failures by outcome, most frequent first."""
    return ", ".join(f"{Outcome(c).name} {n:,}" for c, n in Counter(codes).most_common())


async def run_with_retry_rounds(
    ops: Sequence[PlannedOp],
    tasks: Iterator[Task],
    total: int,
    *,
    workers: int,
    executor: Executor | None,
    on_task: TaskHook,
    out: Output,
    label: str,
    stop_when: Callable[[int], bool] | None = None,
    policy: RetryPolicy | None = None,
) -> RetriedRun:
    """Run ``tasks``, then retry the transient failures in up to ``policy.max_retries`` rounds.

    ``on_task(task, code)`` is told each task's *final* outcome exactly once: success, a
    permanent failure, or the last transient failure once the retries ran out. Tasks that were
    never run because the stage stopped are not reported, nor are set-aside tasks when a
    signal stops the stage (``interrupted``). ``policy`` defaults to STAGE_RETRY.
    """
    rounds = _Rounds(on_task, stop_when, policy or STAGE_RETRY, probe=workers)
    batch, t0 = tasks, time.perf_counter()
    while True:
        rounds.ok = 0
        run = await run_task_list(
            ops,
            batch,
            total,
            workers=workers,
            executor=executor,
            on_task=rounds.hook,
            stop_when=stop_when,
            out=out,
            label=label if not rounds.result.rounds else f"{label} retry {rounds.result.rounds}",
        )
        rounds.add_pass(run, time.perf_counter() - t0)
        if rounds.probe_worked():  # the rest of this round goes now, its pause is waited out
            batch, total = rounds.release_held(ops)
            continue
        rounds.keep_held()
        if rounds.finished():
            break
        if not await rounds.pause(ops, out, label):
            rounds.result.interrupted = True
            return rounds.result
        batch, total = iter([t for t, _ in rounds.pending]), len(rounds.pending)
        rounds.pending.clear()
    rounds.give_up()
    return rounds.result


class _Rounds:
    """The state of one ``run_with_retry_rounds``: tasks set aside, final failures, schedule."""

    def __init__(
        self,
        on_task: TaskHook,
        stop_when: Callable[[int], bool] | None,
        policy: RetryPolicy,
        *,
        probe: int,
    ) -> None:
        self.result = RetriedRun()
        #: (task, outcome) of this pass's transient failures: the next round's tasks.
        self.pending: list[tuple[Task, int]] = []
        #: Tasks of this round not sent yet: the last pass had no success, so the round first
        #: probes with ``probe`` tasks (one per worker) and sends these only if one succeeded.
        self.held: list[tuple[Task, int]] = []
        self.probe = max(1, probe)
        #: Successes in the running pass.
        self.ok = 0
        self.on_task = on_task
        self.stop_when = stop_when
        self.policy = policy
        self.rng = random.Random()

    def hook(self, task: Task, code: int) -> None:
        """Each task's outcome in a pass: set aside when transient, else final."""
        if code and is_transient(code):
            self.pending.append((task, code))
            return
        self.ok += not code
        if code:
            self.result.failed.append((task, code))
            stop = self.stop_when
            if self.result.stopped_by is None and stop is not None and stop(code):
                self.result.stopped_by = (task, code)
        self.on_task(task, code)

    def add_pass(self, run: TaskListResult, wall_s: float) -> None:
        result = self.result
        result.collector.merge(run.collector)
        result.wall_s = wall_s  # from the start: the pauses between rounds included
        if run.tally.first_error is not None:
            key, detail = run.tally.first_error
            result.errors[key] = detail

    def finished(self) -> bool:
        """Nothing to retry, a failure stopped the stage, or the rounds ran out."""
        r = self.result
        return not self.pending or r.stopped_by is not None or r.rounds >= self.policy.max_retries

    async def pause(self, ops: Sequence[PlannedOp], out: Output, label: str) -> bool:
        """Say and wait out the pause before the next round; False when a signal stops the
        stage instead (before or during the pause)."""
        if _halted():
            return False
        pending, result = self.pending, self.result
        wait = self.policy.delay_s(result.rounds, self.rng)
        result.rounds += 1
        probe = not self.ok and len(pending) > self.probe  # a dead or fully throttled server
        out.say(
            f"{label}: {len(pending):,} {_kind_name(ops, pending)} failed "
            f"({outcome_counts([c for _, c in pending])}); retry round {result.rounds} of "
            f"{self.policy.max_retries} in {wait:.1f}s"
            + (f", {self.probe:,} first (none succeeded in the last pass)" if probe else "")
        )
        if probe:
            self.held, self.pending = pending[self.probe :], pending[: self.probe]
        return await _sleep_then_count(wait, ops, self.pending, result)

    def probe_worked(self) -> bool:
        """The probe of a round held back after a pass without success got a success: the
        server is back, so the rest of the round is sent (not when a signal or a permanent
        failure stops the stage)."""
        return bool(self.held) and self.ok > 0 and not _halted() and not self.result.stopped_by

    def release_held(self, ops: Sequence[PlannedOp]) -> tuple[Iterator[Task], int]:
        """The held tasks as the next pass, counted as retries now that they are sent."""
        held, self.held = self.held, []
        _count_retries(ops, held, self.result)
        return iter([t for t, _ in held]), len(held)

    def keep_held(self) -> None:
        """Held tasks not sent this round stay set aside with their last outcome: one pass
        per round then costs ``probe`` requests, not one per object, while the server is down
        (measured: 14,689 refused PUTs took ~19 s a pass, 9 passes before this)."""
        self.pending += self.held
        self.held = []

    def give_up(self) -> None:
        """The retries ran out (or the stage stopped): what is still set aside is final."""
        for task, code in self.pending:
            self.result.failed.append((task, code))
            self.on_task(task, code)
        self.pending.clear()


def _halted() -> bool:
    """A signal asked the running stage to stop: start no retry round. Cleanup that a first
    signal lets finish goes on retrying; a second signal stops it too (so does the first, in a
    --cleanup-only run, where cleanup is the stage)."""
    stop = interrupt.active()
    return stop is not None and stop.halting


def _kind_name(ops: Sequence[PlannedOp], pending: list[tuple[Task, int]]) -> str:
    kinds = {ops[t[0]].kind.name for t, _ in pending}
    return "/".join(sorted(kinds)) + "s" if kinds else "ops"


async def _sleep_then_count(
    wait: float, ops: Sequence[PlannedOp], pending: list[tuple[Task, int]], result: RetriedRun
) -> bool:
    """Pause before a retry round, then count its retries; False (nothing counted) when a
    signal stopped the stage during the pause."""
    stop = interrupt.active()
    if stop is not None and not stop.requested:
        await stop.sleep(wait)  # a signal ends the pause early
    else:
        await asyncio.sleep(wait)
    if _halted():
        return False
    _count_retries(ops, pending, result)
    return True


def _count_retries(
    ops: Sequence[PlannedOp], sent: list[tuple[Task, int]], result: RetriedRun
) -> None:
    """Each task sent again is one retry of its op kind, by the outcome that failed it."""
    for task, code in sent:
        result.collector.record_retry(ops[task[0]].kind, code)
    result.retries += len(sent)
