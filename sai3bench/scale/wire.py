"""Frames between a coordinator and its engine child processes: length-prefixed msgpack.

Control only, never per op: a child gets its job, a start instant and perhaps a stop request;
it sends back "ready", its console lines, a heartbeat each second, its closed perf-log intervals
and its result. Nothing on
the hot path crosses a process boundary.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

from sai3bench.engine.intervals import EncodedInterval
from sai3bench.engine.progress import Tick
from sai3bench.engine.share_jobs import ShareDone, ShareJob

_HEADER: Final = struct.Struct(">I")
#: A frame larger than this is a broken stream, not a result (1 GiB).
MAX_FRAME: Final = 1 << 30


class Job(msgspec.Struct, frozen=True, tag="job"):
    job: ShareJob


class Go(msgspec.Struct, frozen=True, tag="go"):
    """Start the workload at this CLOCK_MONOTONIC instant (seconds; shared by local processes)."""

    start: float


class Stop(msgspec.Struct, frozen=True, tag="stop"):
    """A signal reached the coordinator: stop the stage at the next op (partial results)."""

    signum: int


class Ready(msgspec.Struct, frozen=True, tag="ready"):
    """Workload share planned, pools built: waiting for Go."""


class Line(msgspec.Struct, frozen=True, tag="line"):
    text: str
    warn: bool = False


class Progress(msgspec.Struct, frozen=True, tag="progress"):
    """The child's latest progress tick; the coordinator adds up every child's."""

    tick: Tick


class Interval(msgspec.Struct, frozen=True, tag="interval"):
    """One closed perf-log interval of the child's share (once per interval, not per op)."""

    interval: EncodedInterval


class Beat(msgspec.Struct, frozen=True, tag="beat"):
    """Sent every second while the child's loop runs: silence means it hangs."""


class Result(msgspec.Struct, frozen=True, tag="result"):
    done: ShareDone


ToChild = Job | Go | Stop
FromChild = Ready | Line | Progress | Interval | Beat | Result

_encoder = msgspec.msgpack.Encoder()
_to_child = msgspec.msgpack.Decoder(ToChild)
_from_child = msgspec.msgpack.Decoder(FromChild)


def frame(msg: ToChild | FromChild) -> bytes:
    body = _encoder.encode(msg)
    return _HEADER.pack(len(body)) + body


class FrameReader:
    """Splits a byte stream into frames (fed whatever a read returned)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        while len(self._buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._buf)
            if n > MAX_FRAME:
                raise ValueError(f"frame of {n} bytes")
            if len(self._buf) < _HEADER.size + n:
                break
            out.append(bytes(self._buf[_HEADER.size : _HEADER.size + n]))
            del self._buf[: _HEADER.size + n]
        return out


def to_child(body: bytes) -> ToChild:
    return _to_child.decode(body)


def from_child(body: bytes) -> FromChild:
    return _from_child.decode(body)
