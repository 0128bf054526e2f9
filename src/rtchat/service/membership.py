"""Which rooms each user with a connection on this node is in, kept in step on every node.

The store holds the truth. A node loads a user's rooms when their first connection here
attaches and keeps them while any is open, so posting checks membership without a read.
A change (joined, left, a DM opened with them) is applied here and sent as a command on
the user's channel, so every node holding one of their connections subscribes or
unsubscribes them too. When the fan-out comes back after an outage, commands may have
been lost: every cached user is reloaded from the store.

The same cache holds where each such user may not speak: the rooms they are muted in
(until when) and the direct messages whose other person blocks them. Posting checks it
without a read, so a post keeps its place in the order the client sent it.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime
from typing import Any

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import DEFAULT_ROOM, ConnectionId, User, dm_room_name
from rtchat.domain.moderation import Restriction, Until, restricted
from rtchat.ports import ModerationStore, RoomStore
from rtchat.service.connections import Connections
from rtchat.service.relay import Relay

ENTER, LEAVE, MUTE, BLOCK = "enter", "leave", "mute", "block"


class _Voice:
    """Where one user may not speak: muted rooms with their ends (None: until lifted), and
    direct-message rooms whose other person blocks them."""

    def __init__(self, muted: dict[str, datetime | None], blocked: set[str]) -> None:
        self.muted = muted
        self.blocked = blocked

    def apply(self, body: dict[str, Any]) -> None:
        room = str(body.get("r"))
        if body.get("t") == MUTE:
            if body.get("on"):
                until = body.get("until")
                self.muted[room] = None if until is None else datetime.fromisoformat(str(until))
            else:
                self.muted.pop(room, None)
        elif body.get("on"):
            self.blocked.add(room)
        else:
            self.blocked.discard(room)


class Membership:
    def __init__(
        self,
        rooms: RoomStore,
        moderation: ModerationStore,
        relay: Relay,
        connections: Connections,
    ) -> None:
        self._store = rooms
        self._moderation = moderation
        self._relay = relay
        self._connections = connections
        self._rooms_of: dict[str, set[str]] = {}
        self._voices: dict[str, _Voice] = {}
        # Changes that arrive while a user's rooms are being read, applied after the read.
        self._loading: dict[str, list[dict[str, Any]]] = {}
        relay.on_command(ENTER, self._on_enter)
        relay.on_command(LEAVE, self._on_leave)
        relay.on_command(MUTE, self._on_voice)
        relay.on_command(BLOCK, self._on_voice)
        relay.on_resumed(self._reload_all)

    def rooms(self, user_id: str) -> Set[str]:
        return self._rooms_of.get(user_id, _NONE)

    def has(self, user_id: str, room: str) -> bool:
        rooms = self._rooms_of.get(user_id)
        return rooms is not None and room in rooms

    def check_voice(self, user_id: str, room: str, now: datetime) -> None:
        """Refuse a post or typing report of `user_id` in `room` (a room they are in, so
        cached here) while they are muted there (`muted`) or blocked in it (`blocked`)."""
        voice = self._voices.get(user_id)
        if voice is None:
            return
        if room in voice.muted and Until(voice.muted[room]).active(now):
            raise restricted(Restriction.MUTE, room, voice.muted[room])
        if room in voice.blocked:
            raise ChatError(ErrorCode.BLOCKED)

    async def muted(self, user_id: str, room: str, until: datetime | None, on: bool) -> None:
        """The store muted `user_id` in `room` until `until` (or lifted it: `on` false)."""
        moment = None if until is None else until.isoformat()
        await self._relay.user_command(
            user_id, {"t": MUTE, "u": user_id, "r": room, "on": on, "until": moment}
        )

    async def blocked(self, user_id: str, room: str, on: bool) -> None:
        """The other person of the direct-message `room` blocks `user_id` (or no longer)."""
        await self._relay.user_command(user_id, {"t": BLOCK, "u": user_id, "r": room, "on": on})

    async def attach(self, conn: ConnectionId, user: User, first: bool) -> None:
        """`conn` became `user`'s: enter it into their rooms (read from the store if it is
        their first connection here). The caller holds the user's lock."""
        if user.guest:  # in the default room only, and on this one connection only
            self._rooms_of[user.id] = {DEFAULT_ROOM}
            self._voices[user.id] = _Voice({}, set())
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
            self._voices.pop(user.id, None)
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
            voice = await self._read_voice(user_id)
        finally:
            del self._loading[user_id]
        rooms = {s.room.name for s in summaries}
        for body in changes:
            kind, room = body.get("t"), str(body.get("r"))
            if kind == ENTER:
                rooms.add(room)
            elif kind == LEAVE:
                rooms.discard(room)
            else:
                voice.apply(body)
        self._rooms_of[user_id] = rooms
        self._voices[user_id] = voice

    async def _read_voice(self, user_id: str) -> _Voice:
        muted = await self._moderation.restrictions_of(user_id, Restriction.MUTE)
        blockers = await self._moderation.blockers_of(user_id)
        return _Voice(muted, {dm_room_name(user_id, other) for other in blockers})

    async def _on_voice(self, body: dict[str, Any]) -> None:
        user_id = str(body.get("u"))
        if user_id in self._loading:
            self._loading[user_id].append(body)
        voice = self._voices.get(user_id)
        if voice is not None:
            voice.apply(body)

    async def _on_enter(self, body: dict[str, Any]) -> None:
        user_id, room = str(body.get("u")), str(body.get("r"))
        if user_id in self._loading:
            self._loading[user_id].append(body)
        rooms = self._rooms_of.get(user_id)
        if rooms is None:
            return
        rooms.add(room)
        for conn in list(self._connections.conns_of(user_id)):
            await self._relay.enter(conn, room)

    async def _on_leave(self, body: dict[str, Any]) -> None:
        user_id, room = str(body.get("u")), str(body.get("r"))
        if user_id in self._loading:
            self._loading[user_id].append(body)
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
            if user_id in self._voices:
                self._voices[user_id] = await self._read_voice(user_id)


_NONE: frozenset[str] = frozenset()
