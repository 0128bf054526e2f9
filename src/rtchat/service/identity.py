"""Connections and who they are: connect, join under a name, session, disconnect, presence.

An account owns a name. The name is held while the account is online anywhere and for
`name_grace` seconds after it went offline (`NameHolds`); then the next claimant gets it,
and the old token stops working.

A join that asks for a name someone holds does not fail (unless the client asks it to):
the connection becomes a *guest* under that name. The seed's client cannot present a
token, so a second tab, a reload or a server restart always finds its name held; as a
guest it chats on, flagged `guest` wherever it appears, and never becomes the account:
only the account's own token brings it back, with its rooms and direct messages.

With a site key set (`SiteTokens`), sign-in is the site's: a connection presents the
site's JWT, whose `sub` owns an rtchat account (made on its first sign-in) and whose
`name` it goes by; `user-joined` under another name is refused, and name holds never
come into play, as nobody claims names. A connection is told (`TokenExpiring`) when its
token is about to run out, may present a new one (`refresh`), and is closed at expiry.

`user-connected` and `user-disconnected` go out on a user's first and last connection
across every node, as `Presence` counts them.
"""

from __future__ import annotations

import logging
import math
import secrets
from datetime import datetime, timedelta

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import TokenExpiring, UserConnected, UserDisconnected
from rtchat.domain.models import DEFAULT_ROOM, ConnectionId, SiteIdentity, User
from rtchat.domain.names import name_key
from rtchat.service.connections import Connection
from rtchat.service.context import Context
from rtchat.service.ids import new_id, token_hash
from rtchat.service.limits import ONLINE_LIST_LIMIT
from rtchat.service.rooms import Rooms
from rtchat.service.typing import Typing
from rtchat.service.views import SessionView

log = logging.getLogger(__name__)

MAX_TOKEN = 128
TOKEN_WARNING = 60.0
"""Seconds before its site token runs out that a connection is told to present a new one."""


class Identity:
    def __init__(self, ctx: Context, rooms: Rooms, typing: Typing) -> None:
        self._ctx = ctx
        self._rooms = rooms
        self._typing = typing

    async def connect(
        self, conn: ConnectionId, token: object = None, address: str | None = None
    ) -> User | None:
        """A connection opened from `address`; a valid `token` makes it its account's at
        once. Raises `unavailable` when the store cannot say whose the token is. With site
        tokens, `token` must be a valid one (`invalid_token`, `token_expired` otherwise)."""
        ctx = self._ctx
        connection = ctx.connections.open(conn, address)
        try:
            # Like the seed's io.emit, every connection hears the default room, joined or not.
            await ctx.relay.enter(conn, DEFAULT_ROOM)
            if ctx.site_tokens is not None:
                site = ctx.site_tokens.verify(token)
                async with ctx.admitted(ctx.joins_gate, conn):
                    account = await self.site_account(site)
                    await self._attach(connection, account, None)
                connection.expires = site.expires
                return account
            if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
                async with ctx.admitted(ctx.joins_gate, conn):
                    user = await ctx.storage.users.by_token(token_hash(token))
                    if user is not None:
                        await self._attach(connection, user, token)
                        return user
        except BaseException:
            await self.disconnect(conn)  # refused: the transport calls no disconnect
            raise
        return None

    async def join(self, conn: ConnectionId, username: object, guest: object = None) -> SessionView:
        """`user-joined`: claim a name. `guest` None (the seed's join): the account if the
        name is free, else a guest; False: the account or `username_taken`; True: a guest."""
        ctx = self._ctx
        name = rules.clean_username(username)
        wanted = rules.clean_guest(guest)
        connection = ctx.connection(conn)
        current = connection.user
        if (
            current is not None
            and name_key(current.username) == name_key(name)
            and not (current.guest and wanted is False)  # a guest may ask for the account
        ):
            return await self.session(conn)
        if ctx.site_tokens is not None:
            raise ChatError(
                ErrorCode.FORBIDDEN, "Your site's token names you here: sign in there to rename."
            )
        ctx.spend(
            ctx.limiters.joins,
            connection.address_key("join"),
            "Too many joins from your address; wait a minute.",
        )
        async with ctx.admitted(ctx.joins_gate, conn):
            user, token = await self._claim(name, wanted)
            if connection.user is not None:  # a rename: only now, so a refused one changes nothing
                await self._detach(connection, renamed=True)
            await self._attach(connection, user, token, created=token is not None)
            return await self.session(conn)

    async def session(self, conn: ConnectionId) -> SessionView:
        ctx = self._ctx
        connection = ctx.connection(conn)
        async with ctx.admitted(ctx.reads_gate, conn):
            online, count = await ctx.presence.list_online(ONLINE_LIST_LIMIT)
            user = connection.user
            if user is None:
                return SessionView(user=None, rooms=[], online=online, online_count=count)
            rooms = (
                [await ctx.storage.rooms.summary(DEFAULT_ROOM)]
                if user.guest
                else await self._rooms.rooms_of(user)
            )
            blocked = [] if user.guest else await ctx.storage.moderation.blocked_by(user.id)
        return SessionView(
            user=user,
            rooms=[r for r in rooms if r is not None],
            online=online,
            online_count=count,
            token=connection.token,
            blocked=blocked,
            site_moderator=ctx.site_moderator(user),
        )

    async def site_account(self, site: SiteIdentity) -> User:
        """The account `site`'s subject owns, made on its first sign-in (a member of the
        default room, as every account), going by the token's name: renamed when the site
        renamed it. Raises `username_taken` when another account has that name."""
        ctx = self._ctx
        user = User(id=site.account_id, username=site.name)
        async with ctx.user_locks.hold(user.id):
            stored = await ctx.storage.users.by_id(user.id)
            if stored is not None:
                if stored.username != user.username:
                    await ctx.storage.users.rename(user.id, user.username)
                return user
            # Nobody can sign in with a session token to it: the hash is of a token never shown.
            unusable = token_hash(secrets.token_urlsafe(32))
            try:
                await ctx.storage.users.create(user, unusable, seen=ctx.clock.now())
            except ChatError as error:
                # Its first sign-in on another node at the same moment made it first.
                if error.code is not ErrorCode.USERNAME_TAKEN:
                    raise
                if await ctx.storage.users.by_id(user.id) is None:
                    raise ChatError(
                        ErrorCode.USERNAME_TAKEN,
                        f"Another account of this chat is called {site.name!r}.",
                    ) from None
                return user
            await ctx.storage.rooms.add_member(DEFAULT_ROOM, user.id)
        return user

    def refresh(self, conn: ConnectionId, token: object) -> datetime:
        """`refresh-token`: a new site token for the same account; answers its expiry."""
        ctx = self._ctx
        connection = ctx.connection(conn)
        if ctx.site_tokens is None or connection.user is None or connection.expires is None:
            raise ChatError(
                ErrorCode.INVALID_TOKEN, "This connection did not sign in with a site token."
            )
        site = ctx.site_tokens.verify(token)
        if site.account_id != connection.user.id:
            raise ChatError(ErrorCode.INVALID_TOKEN, "The token names another account.")
        connection.expires, connection.told = site.expires, False
        return site.expires

    def expire_tokens(self) -> None:
        """Tell each connection whose site token runs out within `TOKEN_WARNING` seconds,
        once per token; close those whose token has run out."""
        ctx = self._ctx
        if ctx.site_tokens is None:
            return
        now = ctx.clock.now()
        soon = now + timedelta(seconds=TOKEN_WARNING)
        for connection in list(ctx.connections.by_id.values()):
            expires = connection.expires
            if expires is None:
                continue
            if expires <= now:
                connection.expires = None  # closing: its disconnect follows, once
                ctx.relay.close_connection(connection.id, ChatError(ErrorCode.TOKEN_EXPIRED))
            elif expires <= soon and not connection.told:
                connection.told = True
                ctx.relay.to_connection(connection.id, TokenExpiring(expires))

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
            if not user.guest:
                await ctx.holds.hold(user.id, ctx.limits.name_grace)
                await self._seen(user)
            ctx.relay.to_room(DEFAULT_ROOM, UserDisconnected(user, ctx.clock.now(), None))

    def connection_count(self) -> int:
        return len(self._ctx.connections.by_id)

    def users_here(self) -> int:
        return self._ctx.connections.users_here()

    async def _claim(self, name: str, wanted: bool | None) -> tuple[User, str | None]:
        """The account made for `name`, with its new token; or a guest under it."""
        ctx = self._ctx
        if wanted is True:
            return _guest(name), None
        owner = await ctx.storage.users.by_name(name)
        if owner is not None:
            refusal = await self._held_for(owner, name)
            if refusal is not None:
                if wanted is False:
                    raise refusal
                return _guest(name), None
            await ctx.storage.users.release(owner.id)
        user = User(id=new_id(), username=name)
        token = secrets.token_urlsafe(32)
        try:
            await ctx.storage.users.create(user, token_hash(token), seen=ctx.clock.now())
        except ChatError as error:
            # Claimed elsewhere since we looked (another tab, another node): held now.
            if error.code is not ErrorCode.USERNAME_TAKEN or wanted is False:
                raise
            return _guest(name), None
        await ctx.storage.rooms.add_member(DEFAULT_ROOM, user.id)
        return user, token

    async def _attach(
        self, connection: Connection, user: User, token: str | None, *, created: bool = False
    ) -> None:
        ctx = self._ctx
        async with ctx.user_locks.hold(user.id):
            first = ctx.connections.bind(connection, user, token)
            await ctx.membership.attach(connection.id, user, first)
            if first and await ctx.presence.arrive(user):
                if not created:
                    await self._seen(user)
                ctx.relay.to_room(DEFAULT_ROOM, UserConnected(user, ctx.clock.now(), connection.id))

    async def _detach(self, connection: Connection, *, renamed: bool = False) -> None:
        ctx = self._ctx
        user = connection.user
        assert user is not None
        async with ctx.user_locks.hold(user.id):
            last = ctx.connections.unbind(connection)
            ctx.membership.detach(connection.id, user, last)
            if not last:
                return
            await self._typing.stop(user)
            if not await ctx.presence.depart(user):
                return
            if not user.guest:  # a guest holds no name
                if renamed:  # its last connection took another name: this one is free now
                    await ctx.storage.users.release(user.id)
                else:
                    await ctx.holds.hold(user.id, ctx.limits.name_grace)
                    await self._seen(user)
            ctx.relay.to_room(DEFAULT_ROOM, UserDisconnected(user, ctx.clock.now(), connection.id))

    async def _seen(self, user: User) -> None:
        # For the clean-up of accounts that never return; not worth failing a connection.
        try:
            await self._ctx.storage.users.seen(user.id, self._ctx.clock.now())
        except ChatError as error:
            log.warning("could not record when %s was last seen: %s", user.id, error.code)

    async def _held_for(self, owner: User, name: str) -> ChatError | None:
        """Why `owner`'s name cannot be claimed now (online, or reserved for a while
        after they left, and for how long), or None when it is free."""
        ctx = self._ctx
        if await ctx.presence.online([owner.id]):
            return ChatError(
                ErrorCode.USERNAME_TAKEN, f"The name {name!r} is in use by someone online."
            )
        left = await ctx.holds.remaining(owner.id)
        if left <= 0:
            return None
        seconds = math.ceil(left)
        return ChatError(
            ErrorCode.USERNAME_TAKEN,
            f"The name {name!r} is reserved for its owner for {seconds} more "
            f"second{'' if seconds == 1 else 's'}.",
            retry_after=seconds,
        )


def _guest(name: str) -> User:
    return User(id=new_id(), username=name, guest=True)
