"""Object storage for the mock server: in memory, on disk, or a sink that keeps only sizes.

Pure data structures, no sockets: the server (mock/server.py) parses requests and calls these.
Listing follows ListObjectsV2: keys in byte order (UTF-8), ``prefix``, ``delimiter`` rolling keys
up into common prefixes, ``max_keys`` pages, and an opaque continuation token that is the last
key the page covered, so a page boundary never depends on server state.

Rule: a store never invents objects. The sink serves bytes for keys it was given sizes for, from
one shared buffer (client calibration: no memory per object beyond a dict entry).
"""

from __future__ import annotations

import base64
import bisect
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import msgspec

#: The sink's GET bodies are slices of this buffer (repeated for larger objects).
_SINK_CHUNK = bytes(range(256)) * 4096  # 1 MiB


class ListResult(msgspec.Struct, frozen=True):
    """One ListObjectsV2 page."""

    keys: list[tuple[str, int]]  # (key, size)
    common_prefixes: list[str]
    is_truncated: bool
    next_token: str | None


class ObjectStore(Protocol):
    """What the mock server needs from storage. Keys are str; bodies bytes-like."""

    def create_bucket(self, bucket: str) -> bool: ...
    def has_bucket(self, bucket: str) -> bool: ...
    def put(self, bucket: str, key: str, body: bytes | bytearray | memoryview) -> None: ...
    def put_size(self, bucket: str, key: str, size: int) -> None: ...
    def size(self, bucket: str, key: str) -> int | None: ...
    def read(self, bucket: str, key: str, start: int, end: int) -> Iterator[memoryview]: ...
    def delete(self, bucket: str, key: str) -> bool: ...
    def keys(self, bucket: str) -> list[str]: ...
    def sizes(self, bucket: str) -> dict[str, int]: ...
    def buckets(self) -> list[str]: ...


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def decode_token(token: str) -> str:
    """Raises ValueError for a token this server did not make."""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("invalid continuation token") from None


def list_page(
    sorted_keys: list[str],
    size_of: dict[str, int],
    *,
    prefix: str = "",
    delimiter: str | None = None,
    max_keys: int = 1000,
    token: str | None = None,
    start_after: str | None = None,
) -> ListResult:
    """One ListObjectsV2 page over ``sorted_keys`` (already sorted, as S3 sorts: by UTF-8).

    Raises ValueError for a bad token.
    """
    after = decode_token(token) if token else (start_after or "")
    i = bisect.bisect_right(sorted_keys, after) if after else 0
    i = max(i, bisect.bisect_left(sorted_keys, prefix))
    keys: list[tuple[str, int]] = []
    prefixes: list[str] = []
    last = ""
    n = len(sorted_keys)
    while i < n and len(keys) + len(prefixes) < max_keys:
        key = sorted_keys[i]
        if not key.startswith(prefix):
            break
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                prefixes.append(common)
                # skip every key under this common prefix; the token is the last one skipped,
                # so the next page starts after the whole group
                i = bisect.bisect_left(sorted_keys, common + "\U0010ffff", i)
                last = sorted_keys[i - 1]
                continue
        keys.append((key, size_of[key]))
        last = key
        i += 1
    truncated = i < n and sorted_keys[i].startswith(prefix) and max_keys > 0
    if max_keys == 0:
        truncated = False
    return ListResult(keys, prefixes, truncated, encode_token(last) if truncated else None)


class _Bucket:
    __slots__ = ("data", "dirty", "sizes", "sorted")

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.sizes: dict[str, int] = {}
        self.sorted: list[str] = []
        self.dirty = False

    def sorted_keys(self) -> list[str]:
        # Sorting on demand keeps PUT O(1); a LIST after a burst of PUTs pays one sort.
        if self.dirty:
            self.sorted = sorted(self.sizes)  # code point order == UTF-8 byte order
            self.dirty = False
        return self.sorted


class MemoryStore:
    """Objects kept in memory (the default). ``sink=True`` keeps sizes only and serves a pattern."""

    def __init__(self, *, sink: bool = False) -> None:
        self.sink = sink
        self._buckets: dict[str, _Bucket] = {}

    def __repr__(self) -> str:
        n = sum(len(b.sizes) for b in self._buckets.values())
        kind = "sink" if self.sink else "memory"
        return f"<MemoryStore {kind} buckets={len(self._buckets)} objects={n}>"

    def create_bucket(self, bucket: str) -> bool:
        """True if created, False if it existed."""
        if bucket in self._buckets:
            return False
        self._buckets[bucket] = _Bucket()
        return True

    def has_bucket(self, bucket: str) -> bool:
        return bucket in self._buckets

    def _bucket(self, bucket: str) -> _Bucket:
        b = self._buckets.get(bucket)
        if b is None:
            raise KeyError(bucket)
        return b

    def put(self, bucket: str, key: str, body: bytes | bytearray | memoryview) -> None:
        b = self._bucket(bucket)
        if key not in b.sizes:
            b.dirty = True
        b.sizes[key] = len(body)
        if not self.sink:
            b.data[key] = bytes(body)

    def put_size(self, bucket: str, key: str, size: int) -> None:
        """Record an object by size only (sink mode, or a body that was counted, not kept)."""
        b = self._bucket(bucket)
        if key not in b.sizes:
            b.dirty = True
        b.sizes[key] = size
        b.data.pop(key, None)

    def size(self, bucket: str, key: str) -> int | None:
        return self._bucket(bucket).sizes.get(key)

    def read(self, bucket: str, key: str, start: int, end: int) -> Iterator[memoryview]:
        """Bytes [start, end) of an object, as views (no copy for stored bodies)."""
        b = self._bucket(bucket)
        data = b.data.get(key)
        if data is not None:
            yield memoryview(data)[start:end]
            return
        yield from _pattern(start, end)

    def delete(self, bucket: str, key: str) -> bool:
        b = self._bucket(bucket)
        if b.sizes.pop(key, None) is None:
            return False
        b.data.pop(key, None)
        b.dirty = True
        return True

    def keys(self, bucket: str) -> list[str]:
        return self._bucket(bucket).sorted_keys()

    def sizes(self, bucket: str) -> dict[str, int]:
        return self._bucket(bucket).sizes

    def buckets(self) -> list[str]:
        return sorted(self._buckets)


def _pattern(start: int, end: int) -> Iterator[memoryview]:
    chunk = memoryview(_SINK_CHUNK)
    n = len(chunk)
    pos = start
    while pos < end:
        off = pos % n
        take = min(n - off, end - pos)
        yield chunk[off : off + take]
        pos += take


class DiskStore:
    """Objects as files under ``root/<bucket>/<key>`` (``--dir``); sizes indexed in memory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._index = MemoryStore(sink=True)
        for bucket_dir in self.root.iterdir() if self.root.exists() else ():
            if bucket_dir.is_dir():
                self._index.create_bucket(bucket_dir.name)
                for path in bucket_dir.rglob("*"):
                    if path.is_file():
                        key = path.relative_to(bucket_dir).as_posix()
                        self._index.put_size(bucket_dir.name, key, path.stat().st_size)

    def __repr__(self) -> str:
        return f"<DiskStore {self.root}>"

    def _path(self, bucket: str, key: str) -> Path:
        path = (self.root / bucket / key).resolve()
        if not path.is_relative_to((self.root / bucket).resolve()):
            raise KeyError(key)  # "../" in a key must never escape the bucket directory
        return path

    def create_bucket(self, bucket: str) -> bool:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)
        return self._index.create_bucket(bucket)

    def has_bucket(self, bucket: str) -> bool:
        return self._index.has_bucket(bucket)

    def put(self, bucket: str, key: str, body: bytes | bytearray | memoryview) -> None:
        self._index.size(bucket, key)  # KeyError for an unknown bucket, before any write
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        self._index.put_size(bucket, key, len(body))

    def put_size(self, bucket: str, key: str, size: int) -> None:
        self.put(bucket, key, bytes(size))

    def size(self, bucket: str, key: str) -> int | None:
        return self._index.size(bucket, key)

    def read(self, bucket: str, key: str, start: int, end: int) -> Iterator[memoryview]:
        with open(self._path(bucket, key), "rb") as f:
            f.seek(start)
            yield memoryview(f.read(end - start))

    def delete(self, bucket: str, key: str) -> bool:
        if not self._index.delete(bucket, key):
            return False
        self._path(bucket, key).unlink(missing_ok=True)
        return True

    def keys(self, bucket: str) -> list[str]:
        return self._index.keys(bucket)

    def sizes(self, bucket: str) -> dict[str, int]:
        return self._index.sizes(bucket)

    def buckets(self) -> list[str]:
        return self._index.buckets()
