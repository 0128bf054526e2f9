"""Connections and who they are: connect, join under a name, session, disconnect, presence.

A name is held while its owner is online anywhere and for `name_grace` seconds after they
went offline (`NameHolds`); then the next claimant gets it and the old token stops working.
`user-connected` and `user-disconnected` go out on a user's first and last connection
across every node, as `Presence` counts them.
"""

from __future__ import annotations

import logging
import secrets

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import UserConnected, UserDisconnected
from rtchat.domain.models import DEFAULT_ROOM, ConnectionId, User
from rtchat.service.connections import Connection
from rtchat.service.context import Context
from rtchat.service.ids import new_id, token_hash
from rtchat.service.limits import ONLINE_LIST_LIMIT
from rtchat.service.rooms import Rooms
from rtchat.service.typing import Typing
from rtchat.service.views import SessionView

log = logging.getLogger(__name__)

MAX_TOKEN = 128


class Identity:
    def __init__(self, ctx: Context, rooms: Rooms, typing: Typing) -> None:
        self._ctx = ctx
        self._rooms = rooms
        self._typing = typing

    async def connect(self, conn: ConnectionId, token: object = None) -> User | None:
        """A connection opened; a valid `token` makes it its user's at once. Raises
        `unavailable` when the store cannot say whose the token is."""
        ctx = self._ctx
        connection = ctx.connections.open(conn)
        try:
            # Like the seed's io.emit, every connection hears the default room, joined or not.
            await ctx.relay.enter(conn, DEFAULT_ROOM)
            if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
                user = await ctx.storage.users.by_token(token_hash(token))
                if user is not None:
                    await self._attach(connection, user, token)
                    return user
        except BaseException:
            await self.disconnect(conn)  # refused: the transport calls no disconnect
            raise
        return None

    async def join(self, conn: ConnectionId, username: object) -> SessionView:
        """`user-joined`: claim a name."""
        ctx = self._ctx
        name = rules.clean_username(username)
        connection = ctx.connection(conn)
        current = connection.user
        if current is not None and current.username.casefold() == name.casefold():
            return await self.session(conn)
        owner = await ctx.storage.users.by_name(name)
        if owner is not None:
            if await self._holds_name(owner):
                raise ChatError(ErrorCode.USERNAME_TAKEN, f"The name {name!r} is in use.")
            await ctx.storage.users.release(owner.id)
        user = User(id=new_id(), username=name)
        token = secrets.token_urlsafe(32)
        await ctx.storage.users.create(user, token_hash(token))
        await ctx.storage.rooms.add_member(DEFAULT_ROOM, user.id)
        if connection.user is not None:  # a rename: only now, so a refused one changes nothing
            await self._detach(connection)
        await self._attach(connection, user, token)
        return await self.session(conn)

    async def session(self, conn: ConnectionId) -> SessionView:
        ctx = self._ctx
        connection = ctx.connection(conn)
        online, count = await ctx.presence.list_online(ONLINE_LIST_LIMIT)
        if connection.user is None:
            return SessionView(user=None, rooms=[], online=online, online_count=count)
        return SessionView(
            user=connection.user,
            rooms=await self._rooms.rooms_of(connection.user),
            online=online,
            online_count=count,
            token=connection.token,
        )

    async def disconnect(self, conn: ConnectionId) -> None:
        ctx = self._ctx
        connection = ctx.connections.by_id.get(conn)
        if connection is None:
            return
        try:
            if connection.user is not None:
                await self._detach(connection)
        finally:
            ctx.connections.close(conn)
            ctx.relay.forget(conn)

    async def sweep(self) -> None:
        """Announce the users of nodes that stopped refreshing their presence (crashed)."""
        ctx = self._ctx
        for user in await ctx.presence.expired():
            log.info("%s went offline with the node that held them", user.id)
            await ctx.holds.hold(user.id, ctx.limits.name_grace)
            ctx.relay.to_room(DEFAULT_ROOM, UserDisconnected(user, ctx.clock.now()))

    def connection_count(self) -> int:
        return len(self._ctx.connections.by_id)

    def users_here(self) -> int:
        return self._ctx.connections.users_here()

    async def _attach(self, connection: Connection, user: User, token: str | None) -> None:
        ctx = self._ctx
        async with ctx.user_locks.hold(user.id):
            first = ctx.connections.bind(connection, user, token)
            await ctx.membership.attach(connection.id, user, first)
            if first and await ctx.presence.arrive(user):
                ctx.relay.to_room(DEFAULT_ROOM, UserConnected(user, ctx.clock.now()))

    async def _detach(self, connection: Connection) -> None:
        ctx = self._ctx
        user = connection.user
        assert user is not None
        async with ctx.user_locks.hold(user.id):
            last = ctx.connections.unbind(connection)
            ctx.membership.detach(connection.id, user, last)
            if not last:
                return
            await self._typing.stop(user)
            if await ctx.presence.depart(user):
                await ctx.holds.hold(user.id, ctx.limits.name_grace)
                ctx.relay.to_room(DEFAULT_ROOM, UserDisconnected(user, ctx.clock.now()))

    async def _holds_name(self, owner: User) -> bool:
        ctx = self._ctx
        if await ctx.presence.online([owner.id]):
            return True
        return await ctx.holds.held(owner.id)
