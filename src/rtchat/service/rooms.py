"""Rooms and direct messages: list, create, join, leave, open a DM, who is online in one."""

from __future__ import annotations

import dataclasses

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import MemberJoined, MemberLeft, RoomAdded, RoomCreated
from rtchat.domain.models import (
    DEFAULT_ROOM,
    ConnectionId,
    Room,
    RoomKind,
    RoomSummary,
    User,
    dm_room_name,
)
from rtchat.domain.moderation import Role
from rtchat.service.context import Context, guests_stay
from rtchat.service.limits import (
    HISTORY_PAGE,
    MAX_ROOMS_PAGE,
    MEMBERS_LISTED,
    ONLINE_LIST_LIMIT,
    ONLINE_SCAN,
    ROOMS_PAGE,
)
from rtchat.service.moderation import check_ban
from rtchat.service.reads import Reads
from rtchat.service.typing import Typing
from rtchat.service.views import RoomsPage, RoomView


class Rooms:
    def __init__(self, ctx: Context, typing: Typing, reads: Reads) -> None:
        self._ctx = ctx
        self._typing = typing
        self._reads = reads

    async def list_rooms(
        self, conn: ConnectionId, after: object = None, limit: object = None
    ) -> RoomsPage:
        """A page of the public rooms by name: those after `after` ("" or None: the first),
        with the account's unread and mention counts on the ones it is a member of."""
        ctx = self._ctx
        start = "" if after is None or after == "" else rules.clean_room_name(after)
        size = rules.clean_limit(limit, ROOMS_PAGE, MAX_ROOMS_PAGE)
        user = ctx.connection(conn).user
        async with ctx.admitted(ctx.reads_gate, conn):
            found = await ctx.storage.rooms.list_rooms(start, size + 1)
            page = found[:size]
            if user is not None:
                page = await self._reads.counted(user, page)
        more = len(found) > size
        return RoomsPage(page, page[-1].room.name if more else None)

    async def create_room(self, conn: ConnectionId, name: object, topic: object) -> RoomSummary:
        ctx = self._ctx
        user = ctx.account(conn)
        room = Room(rules.clean_room_name(name), RoomKind.ROOM, rules.clean_topic(topic))
        ctx.spend(ctx.limiters.rooms, f"room:{user.id}", "You made rooms too fast; wait a while.")
        ctx.spend(
            ctx.limiters.rooms_by_address,
            ctx.connection(conn).address_key("room"),
            "Too many rooms made from your address; wait a while.",
        )
        await ctx.storage.rooms.create(room, members=(user.id,))
        await ctx.storage.moderation.set_role(room.name, user.id, Role.OWNER)
        await ctx.membership.added(user.id, room.name)
        summary = RoomSummary(room, member_count=1, last_seq=0)
        ctx.relay.to_room(DEFAULT_ROOM, RoomCreated(summary))
        owned = dataclasses.replace(summary, role=Role.OWNER)
        ctx.relay.to_user(user.id, RoomAdded(owned), skip=conn)
        return owned

    async def join_room(self, conn: ConnectionId, room: object) -> RoomView:
        ctx = self._ctx
        user = ctx.joined(conn)
        name = rules.clean_room_ref(room)
        if user.guest and name != DEFAULT_ROOM:
            raise guests_stay()
        found = await ctx.storage.rooms.get(name)
        if found is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND, f"No room is called {name!r}.")
        if found.kind is RoomKind.DM and not ctx.membership.has(user.id, name):
            raise ChatError(ErrorCode.FORBIDDEN, "This conversation is private.")
        if not user.guest and await ctx.storage.rooms.add_member(name, user.id):
            # Added, then checked: a ban made meanwhile is seen here, or finds them a
            # member and removes them. Read from the store, never from a cache.
            try:
                await check_ban(ctx, found, user)
            except ChatError:
                await ctx.storage.rooms.remove_member(name, user.id)
                raise
            await ctx.membership.added(user.id, name)
            ctx.relay.to_room(name, MemberJoined(name, user))
            ctx.relay.to_user(user.id, RoomAdded(await self._summary(name, user)), skip=conn)
        async with ctx.admitted(ctx.reads_gate, conn):
            latest = await ctx.storage.messages.latest(name, HISTORY_PAGE + 1)
            return RoomView(
                summary=await self._summary(name, user),
                messages=latest[-HISTORY_PAGE:],
                has_more=len(latest) > HISTORY_PAGE,
                members=await ctx.storage.rooms.members(name, MEMBERS_LISTED),
                roles=await ctx.storage.moderation.roles(name),
            )

    async def leave_room(self, conn: ConnectionId, room: object) -> str:
        ctx = self._ctx
        user = ctx.account(conn)
        name = await ctx.member_room(user, room)
        if name == DEFAULT_ROOM or name.startswith("dm:"):
            raise ChatError(ErrorCode.FORBIDDEN, "The default room and direct messages stay.")
        await ctx.storage.rooms.remove_member(name, user.id)
        # Before the user's connections leave the room, so their other tabs hear it too.
        ctx.relay.to_room(name, MemberLeft(name, user))
        await self._typing.stop(user, name)
        await ctx.membership.removed(user.id, name)
        return name

    async def open_dm(self, conn: ConnectionId, username: object) -> RoomSummary:
        ctx = self._ctx
        user = ctx.account(conn)
        peer = await ctx.other_account(user, username, "A direct message needs someone else.")
        if peer.id in await ctx.storage.moderation.blockers_of(user.id):
            raise ChatError(ErrorCode.BLOCKED)
        name = dm_room_name(user.id, peer.id)
        if await ctx.storage.rooms.get(name) is None:
            try:
                await ctx.storage.rooms.create(Room(name, RoomKind.DM), (user.id, peer.id))
            except ChatError as error:  # both opened it at once: theirs won, same room
                if error.code is not ErrorCode.ROOM_EXISTS:
                    raise
            else:
                await ctx.membership.added(peer.id, name)
                ctx.relay.to_user(peer.id, RoomAdded(await self._summary(name, peer)))
        summary = await self._summary(name, user)
        if not ctx.membership.has(user.id, name):
            await ctx.membership.added(user.id, name)
            ctx.relay.to_user(user.id, RoomAdded(summary), skip=conn)
        return summary

    async def online_members(self, conn: ConnectionId, room: object) -> list[User]:
        """Up to `ONLINE_LIST_LIMIT` of the room's members who are online, by name. In the
        default room that is everyone online, guests too; elsewhere, those among the
        first `ONLINE_SCAN` members."""
        ctx = self._ctx
        user = ctx.joined(conn)
        name = await ctx.member_room(user, room)
        async with ctx.admitted(ctx.reads_gate, conn):
            if name == DEFAULT_ROOM:
                users, _ = await ctx.presence.list_online(ONLINE_LIST_LIMIT)
                return users
            members = await ctx.storage.rooms.members(name, ONLINE_SCAN)
            online = await ctx.presence.online([m.id for m in members])
        return [m for m in members if m.id in online][:ONLINE_LIST_LIMIT]

    async def rooms_of(self, user: User) -> list[RoomSummary]:
        """Every room of the account, with its peer (a DM), the account's role in it and its
        unread and mention counts."""
        stored = await self._ctx.storage.rooms.rooms_of(user.id)
        summaries = await self._reads.counted(user, stored, all_mine=True)
        roles = await self._ctx.storage.moderation.roles_of(user.id)
        return [await self._with_peer(s, user, roles.get(s.room.name)) for s in summaries]

    async def _summary(self, name: str, viewer: User) -> RoomSummary:
        summary = await self._ctx.storage.rooms.summary(name)
        assert summary is not None
        role = None
        if summary.room.kind is RoomKind.ROOM and not viewer.guest:
            role = await self._ctx.storage.moderation.role(name, viewer.id)
        return await self._with_peer(summary, viewer, role)

    async def _with_peer(
        self, summary: RoomSummary, viewer: User, role: Role | None
    ) -> RoomSummary:
        """With the viewer's role in a room (a member's when none is stored), or the other
        person of a direct message."""
        if summary.room.kind is not RoomKind.DM:
            return dataclasses.replace(summary, role=role or Role.MEMBER)
        ids = summary.room.name.split(":")[1:]
        peer_id = ids[1] if ids[0] == viewer.id else ids[0]
        return dataclasses.replace(summary, peer=await self._ctx.storage.users.by_id(peer_id))
