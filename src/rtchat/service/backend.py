"""The HTTP API's use cases: what a backend (an API key's bot) or a site's user (a JWT) may do
without a connection: post (a reply too), edit, delete and react, read history, search a
room, create a room, see who is online, and (a site's user only) move a read marker.

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
    ChangeKind,
    Message,
    MessageDraft,
    ReadState,
    Room,
    RoomKind,
    RoomSummary,
    User,
)
from rtchat.domain.moderation import Role
from rtchat.service.changes import Changes
from rtchat.service.context import Context
from rtchat.service.identity import Identity
from rtchat.service.ids import new_id
from rtchat.service.limits import HISTORY_PAGE, MAX_HISTORY_PAGE, ONLINE_LIST_LIMIT
from rtchat.service.moderation import check_voice_in_store
from rtchat.service.reads import Reads


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    bot: bool
    """An API key's bot (True), or the account a site's JWT names (False)."""


def bot_user(name: str) -> User:
    """The bot an API key names; its id is never a random account id (those are hex)."""
    return User(id="b" + hashlib.sha256(b"bot\0" + name.encode()).hexdigest()[:31], username=name)


class Backend:
    def __init__(
        self, ctx: Context, identity: Identity, keys: ApiKeys, changes: Changes, reads: Reads
    ) -> None:
        self._ctx = ctx
        self._identity = identity
        self._keys = keys
        self._changes = changes
        self._reads = reads

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
        self,
        caller: Caller,
        room: object,
        text: object,
        client_id: object = None,
        reply_to: object = None,
    ) -> tuple[Message, bool]:
        """Store, then deliver; `True` with a new message, `False` with the one already
        stored under `client_id` (a retry: nothing is stored or delivered again).
        `reply_to` names a message of the same room, as with `send-message`."""
        ctx = self._ctx
        cleaned = rules.clean_message(text)
        cid = rules.clean_client_id(client_id)
        answers = rules.clean_reply_to(reply_to)
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
            reply_to=answers,
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

    async def change(
        self,
        caller: Caller,
        room: object,
        message_id: object,
        change: tuple[ChangeKind, str],
        client_id: object,
    ) -> Message:
        """An edit, delete or reaction (`edit_value`, `DELETION`, `reaction_value`) by the
        caller, as the socket ops do it: a bot edits and deletes its own messages only."""
        name = await self._room(caller, room)
        kind, value = change
        return await self._changes.apply(
            caller.user, name, message_id, kind, value, client_id, voice_in_store=not caller.bot
        )

    async def search(
        self, caller: Caller, room: object, query: object, before: object, limit: object
    ) -> tuple[list[Message], str | None]:
        """`search` in one room the caller reads. A bot is a member of no room, so it
        searches the public room it names whoever its members are; a site's user only
        a room it is a member of."""
        words = rules.clean_search_query(query)
        name = await self._room(caller, room)
        reader = None if caller.bot else caller.user.id
        slot = self._ctx.reads_gate.slot(None)
        return await self._reads.find(reader, words, name, before, limit, slot)

    async def mark_read(self, caller: Caller, room: object, seq: object) -> ReadState:
        """`mark-read` by a site's user; a bot reads nothing it keeps a place in."""
        if caller.bot:
            raise ChatError(ErrorCode.FORBIDDEN, "Read markers are an account's; a bot has none.")
        name = await self._room(caller, room)
        return await self._reads.mark(caller.user, name, seq)

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
