"""Rooms: which sockets hear what is sent to a room, per namespace. No I/O."""

from __future__ import annotations

from collections.abc import Collection
from typing import Generic, TypeVar

S = TypeVar("S")


class Rooms(Generic[S]):
    """A room is an insertion-ordered dict of its members (a set that iterates in join
    order); an empty room is deleted, so rooms cost nothing once everyone left."""

    __slots__ = ("_rooms",)

    def __init__(self) -> None:
        self._rooms: dict[tuple[str, str], dict[S, None]] = {}

    def add(self, namespace: str, room: str, member: S) -> None:
        key = (namespace, room)
        members = self._rooms.get(key)
        if members is None:
            self._rooms[key] = {member: None}
        else:
            members[member] = None

    def discard(self, namespace: str, room: str, member: S) -> None:
        key = (namespace, room)
        members = self._rooms.get(key)
        if members is not None:
            members.pop(member, None)
            if not members:
                del self._rooms[key]

    def members(self, namespace: str, room: str) -> Collection[S] | None:
        """The room's members, live: iterate without yielding to the loop."""
        return self._rooms.get((namespace, room))

    def __len__(self) -> int:
        return len(self._rooms)
