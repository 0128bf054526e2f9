"""Moderation: roles, kick, ban, mute, and blocks of direct messages.

Everything is decided from the store (roles, bans), so a node answers the same as any
other; mutes and blocks are also kept in `Membership`'s cache of the users connected here,
which posting reads without waiting, and every change reaches the cache of every node
holding the user as a command on their channel.

Each action is announced to the room's members (`Moderated`; a kick or ban also as
`MemberLeft` with its reason) and to the target's own connections, wherever they are.
"""

from __future__ import annotations

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import MemberLeft, Moderated
from rtchat.domain.models import DEFAULT_ROOM, ConnectionId, Room, RoomKind, User, dm_room_name
from rtchat.domain.moderation import (
    Action,
    Rank,
    Restriction,
    check_authority,
    check_owner,
    clean_role,
    clean_seconds,
    ends,
    rank,
    restricted,
)
from rtchat.service.context import Context
from rtchat.service.typing import Typing


async def rank_in(ctx: Context, room: Room, user: User) -> Rank:
    """`user`'s standing in `room`: no one moderates a direct message."""
    if room.kind is RoomKind.DM or user.guest:
        return Rank.MEMBER
    return rank(await ctx.storage.moderation.role(room.name, user.id), ctx.site_moderator(user))


async def may_moderate(ctx: Context, room: str, user: User) -> bool:
    """Whether `user` may moderate `room` (delete anyone's message in it, kick, ban,
    mute): its owner, one of its moderators, or a site moderator; never in a DM."""
    found = await ctx.storage.rooms.get(room)
    return found is not None and await rank_in(ctx, found, user) >= Rank.MODERATOR


async def check_ban(ctx: Context, room: Room, user: User) -> None:
    """Refuse `user` entry to `room` while a ban is running (`banned`, with its end)."""
    if room.kind is RoomKind.DM or user.guest:
        return
    ban = await ctx.storage.moderation.restriction(room.name, user.id, Restriction.BAN)
    if ban is not None and ban.active(ctx.clock.now()):
        raise restricted(Restriction.BAN, room.name, ban.until)


async def check_voice_in_store(ctx: Context, user: User, room: str) -> None:
    """`Membership.check_voice`, read from the store: for callers with no connection
    here (the HTTP API), whose posts have no order to keep."""
    mute = await ctx.storage.moderation.restriction(room, user.id, Restriction.MUTE)
    if mute is not None and mute.active(ctx.clock.now()):
        raise restricted(Restriction.MUTE, room, mute.until)
    blockers = await ctx.storage.moderation.blockers_of(user.id)
    if any(dm_room_name(user.id, other) == room for other in blockers):
        raise ChatError(ErrorCode.BLOCKED)


class Moderation:
    def __init__(self, ctx: Context, typing: Typing) -> None:
        self._ctx = ctx
        self._typing = typing

    async def may_moderate(self, room: str, user: User) -> bool:
        return await may_moderate(self._ctx, room, user)

    async def set_role(
        self, conn: ConnectionId, room: object, username: object, role: object
    ) -> Moderated:
        """Make a member a moderator or a member again: the owner or a site moderator."""
        wanted = clean_role(role)
        actor, found, actor_rank = await self._actor(conn, room)
        check_owner(actor_rank)
        target = await self._target(actor, found, actor_rank, username)
        await self._ctx.storage.moderation.set_role(found.name, target.id, wanted)
        return self._announce(Moderated(found.name, Action.ROLE, target, actor, role=wanted))

    async def kick(self, conn: ConnectionId, room: object, username: object) -> Moderated:
        """Remove a member, who may join again."""
        actor, found, target = await self._removal(conn, room, username)
        event = Moderated(found.name, Action.KICK, target, actor)
        if await self._ctx.storage.rooms.remove_member(found.name, target.id):
            await self._remove(event)
        return event

    async def ban(
        self, conn: ConnectionId, room: object, username: object, seconds: object = None
    ) -> Moderated:
        """Remove a member (or keep out someone who is not one), who cannot join again
        until the ban ends (`seconds` from now; without: until `unban`)."""
        length = clean_seconds(seconds, required=False)
        actor, found, target = await self._removal(conn, room, username)
        ctx = self._ctx
        until = ends(ctx.clock.now(), length)
        await ctx.storage.moderation.restrict(found.name, target.id, Restriction.BAN, until)
        event = Moderated(found.name, Action.BAN, target, actor, until)
        if await ctx.storage.rooms.remove_member(found.name, target.id):
            await self._remove(event)
        else:
            self._announce(event)
        return event

    async def unban(self, conn: ConnectionId, room: object, username: object) -> Moderated:
        actor, found, target = await self._removal(conn, room, username)
        event = Moderated(found.name, Action.UNBAN, target, actor)
        if await self._ctx.storage.moderation.lift(found.name, target.id, Restriction.BAN):
            self._announce(event)
        return event

    async def mute(
        self, conn: ConnectionId, room: object, username: object, seconds: object = None
    ) -> Moderated:
        """The target cannot send or type in the room for `seconds` (without: until
        `unmute`). In `general` too: it is the way to quiet someone there."""
        length = clean_seconds(seconds, required=False)
        actor, found, target = await self._acted_on(conn, room, username)
        ctx = self._ctx
        until = ends(ctx.clock.now(), length)
        await ctx.storage.moderation.restrict(found.name, target.id, Restriction.MUTE, until)
        await ctx.membership.muted(target.id, found.name, until, True)
        await self._typing.stop(target, found.name)
        return self._announce(Moderated(found.name, Action.MUTE, target, actor, until))

    async def unmute(self, conn: ConnectionId, room: object, username: object) -> Moderated:
        actor, found, target = await self._acted_on(conn, room, username)
        ctx = self._ctx
        event = Moderated(found.name, Action.UNMUTE, target, actor)
        if await ctx.storage.moderation.lift(found.name, target.id, Restriction.MUTE):
            await ctx.membership.muted(target.id, found.name, None, False)
            self._announce(event)
        return event

    async def block(self, conn: ConnectionId, username: object) -> list[User]:
        """The named account can no longer open a direct message with you or post in
        yours; the answer is everyone you block."""
        ctx = self._ctx
        user, other = await self._other(conn, username)
        if await ctx.storage.moderation.block(user.id, other.id):
            await ctx.membership.blocked(other.id, dm_room_name(user.id, other.id), True)
        return await ctx.storage.moderation.blocked_by(user.id)

    async def unblock(self, conn: ConnectionId, username: object) -> list[User]:
        ctx = self._ctx
        user, other = await self._other(conn, username)
        if await ctx.storage.moderation.unblock(user.id, other.id):
            await ctx.membership.blocked(other.id, dm_room_name(user.id, other.id), False)
        return await ctx.storage.moderation.blocked_by(user.id)

    async def _actor(self, conn: ConnectionId, room: object) -> tuple[User, Room, Rank]:
        ctx = self._ctx
        actor = ctx.account(conn)
        name = rules.clean_room_ref(room)
        found = await ctx.storage.rooms.get(name)
        if found is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND, f"No room is called {name!r}.")
        if found.kind is RoomKind.DM:
            raise ChatError(ErrorCode.NOT_MODERATOR, "Direct messages have no moderators.")
        actor_rank = await rank_in(ctx, found, actor)
        if actor_rank < Rank.MODERATOR:
            raise ChatError(ErrorCode.NOT_MODERATOR)
        return actor, found, actor_rank

    async def _target(self, actor: User, room: Room, actor_rank: Rank, username: object) -> User:
        target = await self._ctx.other_account(actor, username, "You cannot moderate yourself.")
        check_authority(actor_rank, await rank_in(self._ctx, room, target))
        return target

    async def _acted_on(
        self, conn: ConnectionId, room: object, username: object
    ) -> tuple[User, Room, User]:
        actor, found, actor_rank = await self._actor(conn, room)
        return actor, found, await self._target(actor, found, actor_rank, username)

    async def _removal(
        self, conn: ConnectionId, room: object, username: object
    ) -> tuple[User, Room, User]:
        actor, found, target = await self._acted_on(conn, room, username)
        if found.name == DEFAULT_ROOM:
            raise ChatError(
                ErrorCode.FORBIDDEN,
                f"Everyone is in {DEFAULT_ROOM}: mute someone there instead of removing them.",
            )
        return actor, found, target

    async def _other(self, conn: ConnectionId, username: object) -> tuple[User, User]:
        user = self._ctx.account(conn)
        return user, await self._ctx.other_account(user, username, "You cannot block yourself.")

    async def _remove(self, event: Moderated) -> None:
        """The store removed the target: tell everyone, then take their connections out."""
        ctx = self._ctx
        self._announce(event)
        # Before the target's connections leave the room, so they hear it too.
        ctx.relay.to_room(event.room, MemberLeft(event.room, event.user, event.action, event.by))
        await self._typing.stop(event.user, event.room)
        await ctx.membership.removed(event.user.id, event.room)

    def _announce(self, event: Moderated) -> Moderated:
        relay = self._ctx.relay
        relay.to_room(event.room, event, exclude_user=event.user.id)
        relay.to_user(event.user.id, event)
        return event
