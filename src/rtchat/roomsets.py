"""The rooms one connection is in: nearly always one or two, now and then thousands.

A set of one room costs 216 bytes and a tuple of one 48, and an idle connection's bytes
are what S1 counts; but a tuple grows by copying, so past `SMALL` rooms it becomes a set
and entering stays O(1) for a user who is in many.
"""

from __future__ import annotations

SMALL = 8

RoomSet = tuple[str, ...] | set[str]


def with_room(rooms: RoomSet, room: str) -> RoomSet:
    """`rooms` with `room` in it (the same set, grown, once it is a set)."""
    if isinstance(rooms, set):
        rooms.add(room)
        return rooms
    if room in rooms:
        return rooms
    if len(rooms) < SMALL:
        return (*rooms, room)
    return {*rooms, room}


def without_room(rooms: RoomSet, room: str) -> RoomSet:
    """`rooms` without `room`."""
    if isinstance(rooms, set):
        rooms.discard(room)
        return rooms
    return tuple(r for r in rooms if r != room)
