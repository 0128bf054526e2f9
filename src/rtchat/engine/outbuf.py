"""What a connection has queued for the next flush: nothing, one frame, or several.

Most flushes carry one frame, and a broadcast builds its frame once for every recipient,
so a single frame is kept as that shared `bytes` object: queueing it copies and allocates
nothing, and an idle connection holds no buffer at all (an empty `bytearray` per
connection cost 56 bytes, and each append a copy).
"""

from __future__ import annotations

Queued = bytes | list[bytes] | None


def add(queued: Queued, data: bytes) -> bytes | list[bytes]:
    """`queued` with `data` after it (the same list, grown, once it is a list)."""
    if queued is None:
        return data
    if isinstance(queued, list):
        queued.append(data)
        return queued
    return [queued, data]


def joined(queued: bytes | list[bytes]) -> bytes:
    """Everything queued, as one write."""
    return queued if isinstance(queued, bytes) else b"".join(queued)


def size(queued: Queued) -> int:
    if queued is None:
        return 0
    return len(queued) if isinstance(queued, bytes) else sum(map(len, queued))
