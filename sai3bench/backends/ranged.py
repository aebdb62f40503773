"""range_engine: one GET op of a large object as concurrent ranged GETs over the backend's pool.

Owns: the split (which ranges, how many in flight, each range's deadline) for s3://, gs:// and
az:// alike; each backend only sends one range (``RangeSource.read_range``). Upstream wires it
for GCS alone and asks a HEAD for the size first; here no HEAD is sent: the first range's
``Content-Range`` names the object's size, and sizes learned that way are remembered (per key,
bounded), so the next GET of the same object sends all its ranges at once.

The op stays one op to the engine: ``get`` returns (the object's bytes, the first range's time
to first byte) and the caller times the whole call. A failed range fails the op with that
range's outcome (the engine retries it as it would any GET); the other ranges are cancelled,
their connections closed by the pool. Range bodies are counted and dropped like any GET body:
nothing is assembled.

Rules (object size S, chunk C, minimum split M):
- size unknown: the first request is bytes 0..C-1. S <= C: that was the object. S >= M: the
  rest in ranges of C, at most ``max_concurrent_ranges`` in flight (ceil(S/C) requests in
  all). C < S < M (only when C < M): the rest in one request.
- size known (remembered): S < M is one plain GET; S >= M is ceil(S/C) ranges, all concurrent
  up to the limit.
- each range's Content-Range is checked against the size its split was made for: an object
  rewritten at another size (a range naming a new size, or 416 past a shrunk end), before this
  GET (a stale remembered size) or during it (a PUT between its ranges), is read once more from
  byte 0 as if its size were unknown, so the op counts the object's bytes as they are now,
  never a stale size's (a grown object was read short and counted short). A second change in
  the same op fails it, PROTOCOL.
Never: decides retries, or reads the bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Final, Protocol, runtime_checkable

from sai3bench.backends.base import OpResult
from sai3bench.config.storage_opts import RangeEngine
from sai3bench.outcome import OpError, Outcome

#: Sizes remembered per backend; cleared when full (a pool of more than this many large
#: objects re-learns them, one serial first range per GET, as with no memory at all).
SIZE_MEMORY: Final = 65536
#: Connections per worker a ranged GET may hold at once are capped by this, so that a config
#: with max_concurrent_ranges: 1024 does not open a million sockets.
MAX_POOL: Final = 1024

RangeRead = tuple[int, int, bytes]
"""One range's result: (bytes read, TTFB ns, the Content-Range header; b"" on a 200)."""


class _Resized(Exception):
    """A range's Content-Range named a size other than the one its split was made for."""


@runtime_checkable
class RangeSource(Protocol):
    """A backend that sends one ranged GET and reports the response's Content-Range."""

    async def read_range(self, key: str, offset: int, length: int) -> RangeRead: ...


def object_size(content_range: bytes) -> int:
    """``bytes 0-99/1000`` -> 1000; -1 when the header is absent or names no size (``/*``)."""
    _, slash, total = content_range.rpartition(b"/")
    return int(total) if slash and total.isdigit() else -1


def pool_size(concurrency: int, opts: RangeEngine | None) -> int:
    """Connections per endpoint: each worker may hold ``max_concurrent_ranges`` at once."""
    if opts is None or not opts.enabled:
        return concurrency
    return max(concurrency, min(concurrency * opts.max_concurrent_ranges, MAX_POOL))


class RangedGets:
    """The range engine of one backend (it keeps that backend's remembered sizes)."""

    __slots__ = ("chunk", "limit", "min_split", "sizes", "timeout")

    def __init__(self, opts: RangeEngine) -> None:
        self.chunk = opts.chunk_size
        self.limit = opts.max_concurrent_ranges
        self.min_split = opts.min_split_size
        self.timeout = float(opts.range_timeout_secs)
        #: key -> size of objects larger than one chunk (the only ones a size changes).
        self.sizes: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"<RangedGets chunk={self.chunk} ranges={self.limit} min_split={self.min_split} "
            f"timeout={self.timeout:g}s>"
        )

    async def get(
        self, source: RangeSource, key: str, plain: Callable[[str], Awaitable[OpResult]]
    ) -> OpResult:
        """One GET op of ``key``: (bytes, first range's TTFB). ``plain`` is the backend's
        unsplit GET, for a remembered object below ``min_split_size``."""
        size = self.sizes.get(key)
        if size is not None and size < self.min_split:
            return await plain(key)
        try:
            return await self._read(source, key, plain, size)
        except _Resized:  # rewritten before or during this GET: read it once more, anew
            self.sizes.pop(key, None)
        try:
            return await self._read(source, key, plain, None)
        except _Resized as exc:
            self.sizes.pop(key, None)
            raise OpError(
                Outcome.PROTOCOL, f"{key} kept changing size during one GET: {exc}"
            ) from None

    async def _read(
        self,
        source: RangeSource,
        key: str,
        plain: Callable[[str], Awaitable[OpResult]],
        size: int | None,
    ) -> OpResult:
        """One read of ``key`` split by its remembered ``size`` (None: learnt from the first
        range). _Resized when a range shows the object is not the size the split was made for."""
        if size is not None:
            ttfb: list[int] = []
            try:
                got = await self._ranges(source, key, self._chunks(0, size), ttfb, size)
            except OpError:
                self.sizes.pop(key, None)  # it may have changed: the retry learns it anew
                raise
            return got, ttfb[0]
        try:
            got, ttfb0, header = await self._one(source, key, 0, self.chunk)
        except OpError as exc:
            if exc.outcome != Outcome.CLIENT_ERROR:
                raise
            return await plain(key)  # 416: an empty object has no byte 0 to range over
        total = object_size(header)
        if total <= got:  # the whole object came (it fits one chunk, or the server sent a 200)
            return got, ttfb0
        self._remember(key, total)
        rest = self._chunks(got, total) if total >= self.min_split else [(got, total - got)]
        return got + await self._ranges(source, key, rest, [], total), ttfb0

    def _chunks(self, start: int, total: int) -> list[tuple[int, int]]:
        step = self.chunk
        return [(off, min(step, total - off)) for off in range(start, total, step)]

    def _remember(self, key: str, total: int) -> None:
        sizes = self.sizes
        if len(sizes) >= SIZE_MEMORY:
            sizes.clear()
        sizes[key] = total

    async def _ranges(
        self,
        source: RangeSource,
        key: str,
        ranges: list[tuple[int, int]],
        ttfb: list[int],
        total: int,
    ) -> int:
        """Read ``ranges`` of an object of ``total`` bytes with at most ``limit`` in flight; the
        bytes read. ``ttfb`` gets the TTFB of the first range in the list (it goes out first).
        _Resized when a range's Content-Range names another size (the object was rewritten)."""
        todo: Iterator[tuple[int, int]] = iter(ranges)

        async def lane() -> int:
            done = 0
            for offset, length in todo:
                try:
                    got, first_byte, header = await self._one(source, key, offset, length)
                except OpError as exc:  # 416: past the end of an object that shrank
                    if exc.outcome != Outcome.CLIENT_ERROR:
                        raise
                    raise _Resized(f"{total} bytes before, {exc.detail}") from None
                now = object_size(header)
                if now not in (-1, total):
                    raise _Resized(f"{total} bytes before, {now} at range {offset}+{length}")
                if got != length:
                    raise OpError(
                        Outcome.PROTOCOL,
                        f"range {offset}+{length} of {key} returned {got} bytes",
                    )
                if offset == ranges[0][0]:
                    ttfb.append(first_byte)
                done += got
            return done

        lanes = [asyncio.ensure_future(lane()) for _ in range(min(self.limit, len(ranges)))]
        try:
            return sum(await asyncio.gather(*lanes))
        except BaseException:
            for task in lanes:
                task.cancel()
            await asyncio.wait(lanes)
            raise

    async def _one(self, source: RangeSource, key: str, offset: int, length: int) -> RangeRead:
        try:
            async with asyncio.timeout(self.timeout):
                return await source.read_range(key, offset, length)
        except TimeoutError:
            raise OpError(
                Outcome.TIMEOUT,
                f"range {offset}+{length} of {key} took over {self.timeout:g}s "
                "(range_engine.range_timeout_secs)",
            ) from None
