"""PUT bodies: generated once into a pool, then copied and stamped per object, never urandom'd.

Owns: the random pool (made once per DataSource from its seed), the shared zero buffer, and the
per-object fill of a caller-owned scratch buffer. Must never: call ``os.urandom`` or an RNG per
op, allocate a buffer per op (beyond one small stamp array), or keep per-call state, so one
DataSource serves many threads at once.

How one ``random`` object of ``size`` bytes is made (layout rules in ``fill.py``):

1. ``u`` unique blocks are copied from the pool at a hash-chosen block offset into scratch.
2. Bytes 0..15 of each unique block are stamped with (object hash, block index) by two strided
   memoryview assignments: no Python loop per block. The object hash is a bijection of
   (salt, seed), so no two objects and no two blocks of a data set hash alike at 4 KiB, however
   often the pool is reused.
3. Copies of the unique prefix are doubled into the rest of the object (log2(N) memmoves).

With ``compress_factor`` N the pool itself holds ``4096 // N`` random bytes then zeros in each
4 KiB block (stamps land in the random part), so zstd sees about N:1 with no per-op work.

Measured (python 3.11, 2 vCPU VM under load avg ~12 from other jobs, so upper bounds; min of
15 timeit repeats, scratch presized, per payload() call; /tmp/bench_datagen.py in the report):
  dedup 1, compress 1:   4 KiB 1.8 us,   100 KiB 6.8 us,   1 MiB 43 us (~24 GB/s)
  dedup 3, compress 2:   4 KiB 2.4 us,   100 KiB 7.1 us,   1 MiB 42 us
  zero:                  any size 0.22 us (a view of one shared zero buffer)
  100 MiB (tuple: 64 MiB scratch head + 9 pool views): 8.3 ms
Pool build at construction: 45-75 ms per 16 MiB. About 1 us of the 4 KiB figure is fixed
Python overhead (hash, views, calls); the rest is memcpy speed.

Objects above ``scratch_cap``: the first ``scratch_cap`` bytes come from scratch as above; the
rest is a tuple of read-only views of the pool (see ``fill.rest_layout``). Those views are not
stamped, so uniqueness weakens there: distinct aligned blocks run out after roughly
``pool_bytes * 4096`` bytes of such tails (64 GiB for the default pool; past
``REST_CYCLE_VIEWS`` views the same view objects repeat, so a 5 TiB body holds ~13 MiB of
references, ~25 MiB at peak while built, never its size), and a
content-defined-chunking dedup engine would find the shared pool runs. A streaming body that
fills scratch chunk by chunk would remove this limit; ``Payload`` has no such form yet.

Also a known limit of stamping in general: between stamps, objects share 4080-byte pool runs, so
variable-size (content-defined) chunking sees repeats once the data set exceeds the pool.
"""

from __future__ import annotations

import os
import random
import struct
import time
from array import array

from sai3bench.datagen.fill import (
    BLOCK,
    MASK64,
    mix64,
    object_hash,
    pool_block_offset,
    rest_layout,
    rest_view_max,
    shared_hash,
    unique_blocks,
)
from sai3bench.payload import Payload

FILLS = ("zero", "random", "prand")
DEFAULT_POOL_BYTES = 16 << 20
DEFAULT_SCRATCH_CAP = 64 << 20
REST_CYCLE_VIEWS = 16384
"""Distinct pool views in a huge object's rest; beyond them the sequence repeats (``_rest``)."""
_WORDS = BLOCK // 8  # 64-bit words per block: the stride of the stamp assignments
_MIN_STAMP = 16  # bytes of random data kept per block however high compress_factor is
_LOOP_STAMPS = 4  # up to this many unique blocks, stamp with pack_into instead of strided views
# Native order and standard sizes, the same bytes as the array('Q') strided path writes.
_pack_stamp = struct.Struct("=QQ").pack_into


class DataSource:
    """Bytes for PUT bodies, from a pool generated once.

    Args:
        fill: ``"zero"``, ``"random"`` or ``"prand"`` (same as random, as at upstream HEAD).
        dedup_factor: about N:1 for 4 KiB fixed-block dedup over a data set (1 = no dupes).
        compress_factor: about N:1 for zstd (1 = incompressible).
        seed: pool and stamp seed; None derives one from the clock and pid, so successive
            runs write different bytes. Read it back from ``.seed`` to reproduce a run.
        pool_bytes: random pool size, a multiple of 4 KiB, at least 64 KiB.
        scratch_cap: largest scratch buffer ``payload`` grows to; larger objects get a tuple.
    """

    __slots__ = (
        "_compress",
        "_dedup",
        "_idx",
        "_pool",
        "_pool_blocks",
        "_pool_view",
        "_seed_mix",
        "_zero_view",
        "fill",
        "scratch_cap",
        "seed",
    )

    def __init__(
        self,
        fill: str,
        *,
        dedup_factor: int = 1,
        compress_factor: int = 1,
        seed: int | None = None,
        pool_bytes: int = DEFAULT_POOL_BYTES,
        scratch_cap: int = DEFAULT_SCRATCH_CAP,
    ) -> None:
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
        if dedup_factor < 1 or compress_factor < 1:
            raise ValueError("dedup_factor and compress_factor must be >= 1")
        if pool_bytes < 16 * BLOCK or pool_bytes % BLOCK:
            raise ValueError(f"pool_bytes must be a multiple of {BLOCK} and >= 64 KiB")
        if scratch_cap < BLOCK or scratch_cap % BLOCK:
            raise ValueError(f"scratch_cap must be a positive multiple of {BLOCK}")
        self.fill = "random" if fill == "prand" else fill
        self._dedup = dedup_factor
        self._compress = compress_factor
        self.seed = _default_seed() if seed is None else seed & MASK64
        self.scratch_cap = scratch_cap
        self._seed_mix = mix64(self.seed)
        # Index table for the block-index stamp: slices of it are assigned, never rebuilt.
        self._idx = array("Q", range(scratch_cap // BLOCK))
        self._pool = b""
        if self.fill == "random":
            self._pool = _build_pool(self.seed, pool_bytes, compress_factor)
        self._pool_view = memoryview(self._pool)
        self._pool_blocks = len(self._pool) // BLOCK
        # bytes(n) is calloc'd: untouched zero pages cost no RSS.
        self._zero_view = memoryview(bytes(scratch_cap if self.fill == "zero" else 0))

    def __repr__(self) -> str:
        return (
            f"<DataSource {self.fill} dedup={self._dedup} compress={self._compress} "
            f"pool={len(self._pool)} seed={self.seed:#x}>"
        )

    def new_scratch(self, max_size: int) -> bytearray:
        """A scratch buffer big enough that ``payload`` never has to grow it for ``max_size``."""
        if self.fill == "zero":
            return bytearray()
        return bytearray(min(-(-max(max_size, 1) // BLOCK) * BLOCK, self.scratch_cap))

    def payload(self, size: int, salt: int, scratch: bytearray) -> Payload:
        """The body of one object of ``size`` bytes (>= 1).

        Args:
            size: object length, bytes.
            salt: unique per object (an index or a random u64); equal salts give equal bytes.
            scratch: caller-owned, one per in-flight op. Grown (up to ``scratch_cap``) if too
                small; growing needs no live views of it, so release the previous payload
                first or size it with ``new_scratch``.

        Returns:
            A memoryview valid until the next call with the same scratch, or for objects above
            ``scratch_cap`` a tuple of views (head from scratch, rest from the shared pool).
        """
        if self.fill == "zero":
            return self._zeros(size)
        if size <= self.scratch_cap:
            return self._fill(size, salt, scratch)
        head = self._fill(self.scratch_cap, salt, scratch)
        return (head, *self._rest(size - self.scratch_cap, object_hash(salt, self._seed_mix)))

    def _rest(self, rest_len: int, h: int) -> tuple[memoryview, ...]:
        """Views of the pool for the bytes beyond the scratch head.

        Up to ``REST_CYCLE_VIEWS`` views they follow ``rest_layout``; a longer rest repeats that
        cycle by reference (8 bytes a view, not a new memoryview each): a 5 TiB body holds 1.3
        million references, 13 MiB (25 MiB at peak, while ``payload`` copies the tuple once),
        instead of ~250 MB of memoryviews (``test_a_5_tib_payload_reuses_its_views``). Nothing
        is lost: after ``pool_bytes * 4096`` bytes (64 GiB for the default pool, the cycle's
        length) pool blocks repeat anyway.
        """
        pool = self._pool_view
        cycle = REST_CYCLE_VIEWS * rest_view_max(len(pool))
        layout = rest_layout(min(rest_len, cycle), h, len(pool), self._dedup)
        views = tuple(pool[off : off + n] for off, n in layout)
        if rest_len <= cycle:
            return views
        full, tail = divmod(rest_len, cycle)
        return views * full + _prefix(views, tail)

    def _zeros(self, size: int) -> Payload:
        zv = self._zero_view
        if size <= len(zv):
            return zv[:size]
        full, tail = divmod(size, len(zv))
        return (zv,) * full + ((zv[:tail],) if tail else ())

    def _fill(self, size: int, salt: int, scratch: bytearray) -> memoryview:
        """Fill scratch with the first ``size`` bytes of the object; return a view of them."""
        h = object_hash(salt, self._seed_mix)
        if size < BLOCK:
            return self._fill_small(size, h, scratch)
        full, tail = divmod(size, BLOCK)
        nblocks = full + (1 if tail else 0)
        if len(scratch) < nblocks * BLOCK:
            _grow(scratch, nblocks * BLOCK, self.scratch_cap)
        mv = memoryview(scratch)
        if self._dedup == 1:
            self._blocks(mv, 0, nblocks, h, 0)
            return mv[:size]
        # A short tail is its own block to a fixed-block hasher, so it is counted as a unique.
        t = unique_blocks(nblocks, self._dedup, h)
        own_tail = tail > 0 and t > 0
        u = t - 1 if own_tail else t
        hs = shared_hash(h, self._seed_mix) if u == 0 else 0
        if full and u == 0:  # no unique full block this time: copy a shared virtual object
            self._blocks(mv, 0, full, hs, 0)
        elif full:
            self._blocks(mv, 0, u, h, 0)
            filled = u
            while filled < full:  # double the unique prefix: copy k of block j is at j + k*u
                n = min(filled, full - filled)
                mv[filled * BLOCK : (filled + n) * BLOCK] = mv[: n * BLOCK]
                filled += n
        if tail:
            self._blocks(mv, full, 1, h if own_tail else hs, full)
        return mv[:size]

    def _fill_small(self, size: int, h: int, scratch: bytearray) -> memoryview:
        """``_fill`` of an object shorter than a block, the same bytes: its one block is the
        unique or shared one as ``_fill`` decides, and only ``size`` bytes of it are copied
        (the general path's divmod, loops and whole-block copy were ~0.5 us of a 1 KiB PUT)."""
        if self._dedup != 1 and not unique_blocks(1, self._dedup, h):
            h = shared_hash(h, self._seed_mix)
        if len(scratch) < BLOCK:
            _grow(scratch, BLOCK, self.scratch_cap)
        src = pool_block_offset(h, self._pool_blocks) * BLOCK
        scratch[:size] = self._pool_view[src : src + size]  # same length: never resizes
        _pack_stamp(scratch, 0, h, 0)  # block 0's stamp; past ``size`` when size < 16
        return memoryview(scratch)[:size]

    def _blocks(self, mv: memoryview, dst: int, count: int, h: int, first: int) -> None:
        """Write blocks ``first .. first+count-1`` of the object with hash ``h`` at block ``dst``.

        Block j of an object is pool block ``offset(h) + j`` (wrapping) with (h, j) stamped
        into its first 16 bytes.
        """
        pool, pool_blocks = self._pool_view, self._pool_blocks
        src = (pool_block_offset(h, pool_blocks) + first) % pool_blocks
        done = 0
        while done < count:
            n = min(count - done, pool_blocks - src)
            d = (dst + done) * BLOCK
            mv[d : d + n * BLOCK] = pool[src * BLOCK : (src + n) * BLOCK]
            done += n
            src = 0
        if count <= _LOOP_STAMPS:  # pack_into: ~120 ns a block; strided: ~250 ns a slice + setup
            for j in range(count):
                _pack_stamp(mv, (dst + j) * BLOCK, h, first + j)
            return
        with mv[dst * BLOCK : (dst + count) * BLOCK].cast("Q") as words:
            words[0::_WORDS] = array("Q", (h,)) * count
            words[1::_WORDS] = self._idx[first : first + count]


def _prefix(views: tuple[memoryview, ...], length: int) -> tuple[memoryview, ...]:
    """The first ``length`` bytes of ``views``, as views (the last one cut)."""
    out: list[memoryview] = []
    for view in views:
        if length <= 0:
            break
        out.append(view if len(view) <= length else view[:length])
        length -= len(view)
    return tuple(out)


def _grow(scratch: bytearray, need: int, cap: int) -> None:
    """Grow to the next power of two >= need (at most cap), so mixed sizes resize rarely."""
    target = min(max(need, 1 << (need - 1).bit_length()), cap)
    try:
        scratch.extend(bytes(target - len(scratch)))
    except BufferError:
        raise BufferError(
            f"scratch of {len(scratch)} bytes must grow to {target} while a view of it is alive: "
            "release the previous payload first, or size it with DataSource.new_scratch(max_size)"
        ) from None


def _default_seed() -> int:
    return mix64(time.time_ns() ^ (os.getpid() << 40)) & MASK64


def _build_pool(seed: int, pool_bytes: int, compress: int) -> bytes:
    """The random pool: all random, or per block ``4096 // compress`` random bytes then zeros."""
    rng = random.Random(seed)
    if compress <= 1:
        return rng.randbytes(pool_bytes)
    keep = max(_MIN_STAMP, BLOCK // compress)
    rnd = memoryview(rng.randbytes(pool_bytes // BLOCK * keep))
    pool = bytearray(pool_bytes)
    for b in range(pool_bytes // BLOCK):
        pool[b * BLOCK : b * BLOCK + keep] = rnd[b * keep : (b + 1) * keep]
    return bytes(pool)
