"""Progress ticks: numbers that add up across processes, and the one line they print as."""

from __future__ import annotations

from sai3bench.engine.progress import Tick, add_ticks, format_progress, tell


def test_a_workload_tick_prints_the_one_process_line() -> None:
    t = Tick(label="workload", elapsed_s=3.2, done=900, rate=300.4, duration_s=10, mib_s=1.25)
    assert format_progress(t) == "[    3s/10s] 300 ops/s 1.2 MiB/s  errors 0"


def test_a_task_list_tick_prints_objects_done_of_total() -> None:
    t = Tick(label="prepare", elapsed_s=2.0, done=1500, rate=750.0, total=4000)
    assert format_progress(t) == "prepare: 1,500/4,000 objects (750/s)"


def test_ticks_of_several_processes_add_up() -> None:
    a = Tick(label="workload", elapsed_s=4.0, done=100, rate=10, duration_s=5, mib_s=1, errors=2)
    b = Tick(label="workload", elapsed_s=4.5, done=50, rate=5, duration_s=5, mib_s=2, errors=1)
    total = add_ticks([a, b])
    assert (total.done, total.rate, total.mib_s, total.errors) == (150, 15, 3, 3)
    assert total.elapsed_s == 4.5 and total.duration_s == 5
    prep = add_ticks([Tick(label="prepare", elapsed_s=1, done=3, rate=3, total=10)] * 3)
    assert (prep.done, prep.total) == (9, 30)


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, line: str) -> None:
        self.lines.append(line)


class _Sink(_Printer):
    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[Tick] = []

    def progress_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)


def test_tell_prints_or_hands_the_tick_to_a_sink() -> None:
    t = Tick(label="cleanup", elapsed_s=1, done=1, rate=1, total=2)
    printer, sink = _Printer(), _Sink()
    tell(printer, t)
    tell(sink, t)
    assert printer.lines == ["cleanup: 1/2 objects (1/s)"]
    assert sink.ticks == [t] and sink.lines == []
