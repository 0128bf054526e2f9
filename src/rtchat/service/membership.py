"""Which rooms each user with a connection on this node is in, kept in step on every node.

The store holds the truth. A node loads a user's rooms when their first connection here
attaches and keeps them while any is open, so posting checks membership without a read.
A change (joined, left, a DM opened with them) is applied here and sent as a command on
the user's channel, so every node holding one of their connections subscribes or
unsubscribes them too. When the fan-out comes back after an outage, commands may have
been lost: every cached user is reloaded from the store.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from rtchat.domain.models import DEFAULT_ROOM, ConnectionId, User
from rtchat.ports import RoomStore
from rtchat.service.connections import Connections
from rtchat.service.relay import Relay

ENTER, LEAVE = "enter", "leave"


class Membership:
    def __init__(self, rooms: RoomStore, relay: Relay, connections: Connections) -> None:
        self._store = rooms
        self._relay = relay
        self._connections = connections
        self._rooms_of: dict[str, set[str]] = {}
        # Changes that arrive while a user's rooms are being read, applied after the read.
        self._loading: dict[str, list[tuple[str, str]]] = {}
        relay.on_command(ENTER, self._on_enter)
        relay.on_command(LEAVE, self._on_leave)
        relay.on_resumed(self._reload_all)

    def rooms(self, user_id: str) -> Set[str]:
        return self._rooms_of.get(user_id, _NONE)

    def has(self, user_id: str, room: str) -> bool:
        rooms = self._rooms_of.get(user_id)
        return rooms is not None and room in rooms

    async def attach(self, conn: ConnectionId, user: User, first: bool) -> None:
        """`conn` became `user`'s: enter it into their rooms (read from the store if it is
        their first connection here). The caller holds the user's lock."""
        if user.guest:  # in the default room only, and on this one connection only
            self._rooms_of[user.id] = {DEFAULT_ROOM}
        elif first or user.id not in self._rooms_of:
            await self._load(user.id)
        for room in list(self._rooms_of.get(user.id, ())):
            await self._relay.enter(conn, room)

    def detach(self, conn: ConnectionId, user: User, last: bool) -> None:
        """`conn` is no longer `user`'s (closed, or renamed): out of their rooms but the
        default one, which every connection hears."""
        for room in list(self._rooms_of.get(user.id, ())):
            if room != DEFAULT_ROOM:
                self._relay.leave(conn, room)
        if last:
            self._rooms_of.pop(user.id, None)
            self._relay.unfollow_user(user.id)

    async def added(self, user_id: str, room: str) -> None:
        """The store made `user_id` a member of `room`: enter their connections everywhere."""
        await self._relay.user_command(user_id, {"t": ENTER, "u": user_id, "r": room})

    async def removed(self, user_id: str, room: str) -> None:
        await self._relay.user_command(user_id, {"t": LEAVE, "u": user_id, "r": room})

    async def _load(self, user_id: str) -> None:
        changes = self._loading[user_id] = []
        try:
            # Subscribed first: a change made after the read below arrives as a command.
            await self._relay.follow_user(user_id)
            summaries = await self._store.rooms_of(user_id)
        finally:
            del self._loading[user_id]
        rooms = {s.room.name for s in summaries}
        for kind, room in changes:
            (rooms.add if kind == ENTER else rooms.discard)(room)
        self._rooms_of[user_id] = rooms

    async def _on_enter(self, body: dict[str, Any]) -> None:
        user_id, room = str(body.get("u")), str(body.get("r"))
        if user_id in self._loading:
            self._loading[user_id].append((ENTER, room))
        rooms = self._rooms_of.get(user_id)
        if rooms is None:
            return
        rooms.add(room)
        for conn in list(self._connections.conns_of(user_id)):
            await self._relay.enter(conn, room)

    async def _on_leave(self, body: dict[str, Any]) -> None:
        user_id, room = str(body.get("u")), str(body.get("r"))
        if user_id in self._loading:
            self._loading[user_id].append((LEAVE, room))
        rooms = self._rooms_of.get(user_id)
        if rooms is None or room == DEFAULT_ROOM:
            return
        rooms.discard(room)
        for conn in list(self._connections.conns_of(user_id)):
            self._relay.leave(conn, room)

    async def _reload_all(self) -> None:
        for user_id in list(self._rooms_of):
            fresh = {s.room.name for s in await self._store.rooms_of(user_id)}
            known = self._rooms_of.get(user_id)
            if known is None:
                continue
            for room in fresh - known:
                await self._on_enter({"u": user_id, "r": room})
            for room in known - fresh:
                await self._on_leave({"u": user_id, "r": room})


_NONE: frozenset[str] = frozenset()
