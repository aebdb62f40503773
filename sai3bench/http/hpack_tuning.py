"""HPACK cost cuts for the h2 state machine (pure-Python hpack was most of an h2 op).

Profiled (1 KiB GET over h2c to nginx, cProfile, 3 s): Huffman coding took 0.68 s of 3.18 s,
and hpack's per-integer ``log.debug`` calls (43 an op, disabled but still dispatched) 4 %.

- **Requests go out without Huffman coding** (``huffman=False``): a literal costs ~30 % more
  header bytes (about 100 bytes a request) but no per-bit Python loop. The values that matter
  (a per-key path, a per-key-per-second signature) rarely repeat, so a cache would not help;
  on loopback and on real networks alike, 100 bytes cost less than ~40 us of client CPU.
- **Response Huffman decoding is memoised**: a bounded LRU around hpack's own pure function;
  response values repeat (server, content-type, date, per-object etag).
- **hpack's module logger is silenced** (its debug method replaced on that one logger).

hpack's tables, indexing and state are untouched: the wire format stays valid HPACK.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Final

import h2.connection
import hpack.hpack

#: Distinct response header values kept: a second's worth of etags for a busy workload.
CACHE_SIZE: Final = 16384

_installed = False


def install_process_wide() -> None:
    """Memoise Huffman decoding and silence hpack's debug logging (idempotent)."""
    global _installed
    if _installed:
        return
    original = hpack.hpack.decode_huffman  # type: ignore[attr-defined]
    hpack.hpack.decode_huffman = _cached(original)  # type: ignore[attr-defined, assignment]
    quiet: logging.Logger = hpack.hpack.log
    quiet.debug = _no_log  # type: ignore[method-assign]
    _installed = True


def plain_literals(conn: h2.connection.H2Connection) -> None:
    """This connection's request headers are encoded without Huffman coding."""
    conn.encoder.encode = functools.partial(conn.encoder.encode, huffman=False)  # type: ignore[method-assign]


def _no_log(*args: Any, **kwargs: Any) -> None:
    return None


def _cached(fn: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    memo = functools.lru_cache(maxsize=CACHE_SIZE)(fn)

    def coded(data: Any) -> bytes:
        if type(data) is bytes:
            return memo(data)
        return fn(data)  # memoryview or bytearray: not hashable as a key

    return coded
