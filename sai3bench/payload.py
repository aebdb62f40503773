"""PUT bodies: one view of the data pool, or several, never joined.

A bottom module: datagen/ makes payloads, http/ sends them and backends/ split them, so the type
and its two helpers live below all three.
"""

from __future__ import annotations

#: A PUT body: one view of the data pool, or several for objects larger than one view.
Payload = memoryview | tuple[memoryview, ...]


def payload_length(body: Payload) -> int:
    """Bytes in a PUT body (one view, or several)."""
    return len(body) if isinstance(body, memoryview) else sum(len(b) for b in body)


def split_payload(body: Payload, part: int) -> list[Payload]:
    """Cut a body (one view or several) into parts of ``part`` bytes, as views (no copies)."""
    views = [body] if isinstance(body, memoryview) else list(body)
    out: list[Payload] = []
    current: list[memoryview] = []
    room = part
    for view in views:
        while len(view):
            take = view[:room]
            current.append(take)
            view = view[len(take) :]
            room -= len(take)
            if room == 0:
                out.append(current[0] if len(current) == 1 else tuple(current))
                current, room = [], part
    if current:
        out.append(current[0] if len(current) == 1 else tuple(current))
    return out
