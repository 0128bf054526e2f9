"""The HTTP API's use cases: what a backend (an API key's bot) or a site's user (a JWT) may do
without a connection: post, read history, create a room, see who is online.

A bot is trusted with every public room without being a member of any (it holds no name
and is not stored: its messages carry its name, its id is made from that name). A site's
user is their account, with the rights it has over Socket.IO: only their rooms.
A posted message takes the same way as one sent over Socket.IO (store, then the relay to
every node), so the room's clients receive the same `receive-message` with the next `seq`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from rtchat.domain import rules
from rtchat.domain.api_keys import ApiKeys
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import RoomAdded, RoomCreated
from rtchat.domain.mentions import mention_keys
from rtchat.domain.models import (
    DEFAULT_ROOM,
    Message,
    MessageDraft,
    Room,
    RoomKind,
    RoomSummary,
    User,
)
from rtchat.domain.moderation import Role
from rtchat.service.context import Context
from rtchat.service.identity import Identity
from rtchat.service.ids import new_id
from rtchat.service.limits import HISTORY_PAGE, MAX_HISTORY_PAGE, ONLINE_LIST_LIMIT
from rtchat.service.moderation import check_voice_in_store


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    bot: bool
    """An API key's bot (True), or the account a site's JWT names (False)."""


def bot_user(name: str) -> User:
    """The bot an API key names; its id is never a random account id (those are hex)."""
    return User(id="b" + hashlib.sha256(b"bot\0" + name.encode()).hexdigest()[:31], username=name)


class Backend:
    def __init__(self, ctx: Context, identity: Identity, keys: ApiKeys) -> None:
        self._ctx = ctx
        self._identity = identity
        self._keys = keys

    @property
    def enabled(self) -> bool:
        """Whether anyone can use the API: an API key or a site key is set."""
        return bool(self._keys) or self._ctx.site_tokens is not None

    async def caller(self, credential: str | None) -> Caller:
        """Who presents `credential` (a bearer token): `unauthorized` for none or an
        unknown key; a JWT (with a site key set) is checked as at sign-in."""
        if not credential:
            raise ChatError(ErrorCode.UNAUTHORIZED)
        bot = self._keys.bot(credential)
        if bot is not None:
            return Caller(bot_user(bot), bot=True)
        site_tokens = self._ctx.site_tokens
        if site_tokens is not None and credential.count(".") == 2:  # a JWT's three parts
            return Caller(await self._identity.site_account(site_tokens.verify(credential)), False)
        raise ChatError(ErrorCode.UNAUTHORIZED, "This is no API key of this chat.")

    async def post(
        self, caller: Caller, room: object, text: object, client_id: object = None
    ) -> tuple[Message, bool]:
        """Store, then deliver; `True` with a new message, `False` with the one already
        stored under `client_id` (a retry: nothing is stored or delivered again)."""
        ctx = self._ctx
        cleaned = rules.clean_message(text)
        cid = rules.clean_client_id(client_id)
        name = await self._room(caller, room)
        if not caller.bot:
            await check_voice_in_store(ctx, caller.user, name)
        ctx.spend(ctx.limiters.messages, caller.user.id, "Too many messages; wait a moment.")
        draft = MessageDraft(
            new_id(),
            name,
            caller.user,
            cleaned,
            ctx.clock.now(),
            cid,
            mention_keys=mention_keys(cleaned),
        )
        message, created = await ctx.storage.messages.append(draft)
        if created:
            ctx.relay.message(message)
        return message, created

    async def history(
        self, caller: Caller, room: object, before: object = None, limit: object = None
    ) -> tuple[list[Message], bool]:
        """The latest page (no `before`) or the one just before `before`, oldest first."""
        ctx = self._ctx
        name = await self._room(caller, room)
        seq = None if before is None else rules.clean_seq(before, "before")
        size = rules.clean_limit(limit, HISTORY_PAGE, MAX_HISTORY_PAGE)
        async with ctx.reads_gate.slot(None):
            if seq is None:
                page = await ctx.storage.messages.latest(name, size + 1)
            else:
                page = await ctx.storage.messages.before(name, seq, size + 1)
        return page[-size:], len(page) > size

    async def create_room(self, caller: Caller, name: object, topic: object) -> RoomSummary:
        """A public room; a site's user becomes its first member, a bot does not."""
        ctx = self._ctx
        room = Room(rules.clean_room_name(name), RoomKind.ROOM, rules.clean_topic(topic))
        user = caller.user
        ctx.spend(ctx.limiters.rooms, f"room:{user.id}", "You made rooms too fast; wait a while.")
        members = () if caller.bot else (user.id,)
        await ctx.storage.rooms.create(room, members=members)
        summary = RoomSummary(room, member_count=len(members), last_seq=0)
        ctx.relay.to_room(DEFAULT_ROOM, RoomCreated(summary))
        if caller.bot:  # a bot's room has no owner
            return summary
        await ctx.storage.moderation.set_role(room.name, user.id, Role.OWNER)
        await ctx.membership.added(user.id, room.name)
        owned = dataclasses.replace(summary, role=Role.OWNER)
        ctx.relay.to_user(user.id, RoomAdded(owned))
        return owned

    async def online(self) -> tuple[list[User], int]:
        """The first `ONLINE_LIST_LIMIT` users online on any node, by name, and how many
        are online in all."""
        async with self._ctx.reads_gate.slot(None):
            return await self._ctx.presence.list_online(ONLINE_LIST_LIMIT)

    async def _room(self, caller: Caller, room: object) -> str:
        ctx = self._ctx
        name = rules.clean_room_ref(room)
        found = await ctx.storage.rooms.get(name)
        if found is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND, f"No room is called {name!r}.")
        if caller.bot:
            if found.kind is RoomKind.DM:
                raise ChatError(ErrorCode.FORBIDDEN, "Bots post to rooms, not direct messages.")
        elif name != DEFAULT_ROOM and not await ctx.storage.rooms.is_member(name, caller.user.id):
            raise ChatError(ErrorCode.FORBIDDEN, f"You are not a member of {name!r}.")
        return name
