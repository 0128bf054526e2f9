"""What a connection has queued for the next flush: nothing, one frame, or several.

Most flushes carry one frame, and a broadcast builds its frame once for every recipient,
so a single frame is kept as that shared `bytes` object: queueing it copies and allocates
nothing, and an idle connection holds no buffer at all (an empty `bytearray` per
connection cost 56 bytes, and each append a copy).

A frame sent *later* (an announcement to many, see `LATER_S`) is queued in a `Later` list:
it waits for the next write the connection makes anyway, or for the later flush at most
`LATER_S` after it, whichever comes first. Anything else sent meanwhile goes out at once and
takes what waits with it, in the order queued, so waiting never reorders.
"""

from __future__ import annotations

LATER_S = 0.05
"""Seconds a frame sent later waits at most. In a join storm every join is announced to
every connection: written at once, each connection takes a write per join; written at most
this late, a few dozen a second, whatever the rate of joins. Nobody can see 50 ms in a
"joined" notice, and nothing sent after it overtakes it."""


class Later(list[bytes]):
    """Queued frames that may wait (see the module docstring)."""

    __slots__ = ()


Queued = bytes | list[bytes] | None


def add(queued: Queued, data: bytes) -> bytes | list[bytes]:
    """`queued` with `data` after it (the same list, grown, once it is a list). What waited
    in a `Later` is no longer waiting: the caller marks the connection for the next flush
    when `queued` was None or a `Later`."""
    if queued is None:
        return data
    if isinstance(queued, list):
        if queued.__class__ is Later:
            return [*queued, data]
        queued.append(data)
        return queued
    return [queued, data]


def add_later(queued: Queued, data: bytes) -> bytes | list[bytes]:
    """`queued` with `data`, sent later, after it: a `Later` if nothing else was queued (the
    caller marks the connection for the later flush when `queued` was None)."""
    if queued is None:
        return Later((data,))
    if isinstance(queued, list):
        queued.append(data)
        return queued
    return [queued, data]


def urgent(queued: Queued) -> bool:
    """Whether `queued` goes out with the next flush (False: nothing, or only frames that
    wait)."""
    return queued is not None and queued.__class__ is not Later


def joined(queued: bytes | list[bytes]) -> bytes:
    """Everything queued, as one write."""
    return queued if isinstance(queued, bytes) else b"".join(queued)


def size(queued: Queued) -> int:
    if queued is None:
        return 0
    return len(queued) if isinstance(queued, bytes) else sum(map(len, queued))
