"""Use cases of the chat. Knows no socket: connections are opaque ids, delivery is a port.

Every message is stored before it is broadcast, so an acknowledged message is in the
store and a client that reconnects can ask for what came after the last sequence
number it saw (`sync`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import (
    MemberJoined,
    MemberLeft,
    MessagePosted,
    RoomAdded,
    RoomCreated,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import (
    DEFAULT_ROOM,
    ConnectionId,
    Message,
    MessageDraft,
    Room,
    RoomKind,
    RoomSummary,
    User,
    dm_room_name,
)
from rtchat.domain.ratelimit import TokenBucket
from rtchat.domain.typing_state import TypingTracker
from rtchat.ports import Broadcaster, Clock, Presence, Storage

HISTORY_PAGE = 50
MAX_HISTORY_PAGE = 100
SYNC_PAGE = 500
MAX_SYNC_ROOMS = 200
ONLINE_LIST_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection send limits: `send_rate` messages per second with bursts of `send_burst`
    (0 turns the limit off; benchmarks do). `name_grace`: seconds a username stays reserved
    for its owner after their last connection closes (or after the server starts)."""

    send_rate: float = 10.0
    send_burst: float = 20.0
    name_grace: float = 60.0


@dataclass(frozen=True, slots=True)
class SessionView:
    """What a connection needs to show itself: who it is, its rooms, who is online."""

    user: User | None
    rooms: list[RoomSummary]
    online: list[User]
    """The first `ONLINE_LIST_LIMIT` online users by name; `online_count` counts them all."""
    online_count: int
    token: str | None = None


@dataclass(frozen=True, slots=True)
class RoomView:
    summary: RoomSummary
    messages: list[Message]
    has_more: bool
    members: list[User]


@dataclass(slots=True)
class _Session:
    bucket: TokenBucket
    user: User | None = None
    token: str | None = None


@dataclass(slots=True)
class ChatService:
    """The chat's use cases; every method takes the connection that asked."""

    storage: Storage
    presence: Presence
    broadcaster: Broadcaster
    clock: Clock
    limits: Limits = field(default_factory=Limits)
    typing_state: TypingTracker = field(default_factory=TypingTracker)
    _sessions: dict[ConnectionId, _Session] = field(default_factory=dict)
    # Each online user, and their rooms, so posting checks membership without a store read.
    _online: dict[str, User] = field(default_factory=dict)
    _memberships: dict[str, set[str]] = field(default_factory=dict)
    _last_seen: dict[str, float] = field(default_factory=dict)
    _started: float = 0.0

    async def start(self) -> None:
        """Create the default room if this is a new store."""
        self._started = self.clock.monotonic()
        if await self.storage.rooms.get(DEFAULT_ROOM) is None:
            try:
                await self.storage.rooms.create(Room(DEFAULT_ROOM, RoomKind.ROOM, "Everyone"))
            except ChatError as error:  # another process sharing the store made it first
                if error.code is not ErrorCode.ROOM_EXISTS:
                    raise

    # -- connections and identity ------------------------------------------------------

    async def connect(self, conn: ConnectionId, token: object = None) -> User | None:
        """A connection opened; a valid `token` makes it its user's at once."""
        session = _Session(TokenBucket(self.limits.send_rate, self.limits.send_burst))
        self._sessions[conn] = session
        # Like the seed's io.emit, every connection hears the default room, joined or not.
        await self.broadcaster.subscribe(conn, DEFAULT_ROOM)
        if isinstance(token, str) and 0 < len(token) <= 128:
            user = await self.storage.users.by_token(_hash(token))
            if user is not None:
                session.token = token
                await self._attach(conn, session, user)
                return user
        return None

    async def join(self, conn: ConnectionId, username: object) -> SessionView:
        """`user-joined`: claim a name. A name is held while its owner is online and for
        `name_grace` seconds after; then the next claimant gets it and the old holder's
        token stops working."""
        name = rules.clean_username(username)
        session = self._session(conn)
        if session.user is not None and session.user.username.casefold() == name.casefold():
            return await self.session(conn)
        owner = await self.storage.users.by_name(name)
        if owner is not None:
            if await self._holds_name(owner):
                raise ChatError(ErrorCode.USERNAME_TAKEN, f"The name {name!r} is in use.")
            await self.storage.users.release(owner.id)
        user = User(id=_new_id(), username=name)
        token = secrets.token_urlsafe(32)
        await self.storage.users.create(user, _hash(token))
        await self.storage.rooms.add_member(DEFAULT_ROOM, user.id)
        if session.user is not None:  # a rename: only now, so a refused one changes nothing
            await self._detach(conn, session)
        session.token = token
        await self._attach(conn, session, user)
        return await self.session(conn)

    async def session(self, conn: ConnectionId) -> SessionView:
        session = self._session(conn)
        online = await self._online_users()
        shown, count = online[:ONLINE_LIST_LIMIT], len(online)
        if session.user is None:
            return SessionView(user=None, rooms=[], online=shown, online_count=count)
        return SessionView(
            user=session.user,
            rooms=await self._rooms_of(session.user),
            online=shown,
            online_count=count,
            token=session.token,
        )

    async def disconnect(self, conn: ConnectionId) -> None:
        session = self._sessions.pop(conn, None)
        if session is not None and session.user is not None:
            await self._detach(conn, session)

    # -- messages ----------------------------------------------------------------------

    async def post(
        self, conn: ConnectionId, room: object, text: object, client_id: object = None
    ) -> Message:
        """Store, then broadcast. The transport starts one connection's posts while earlier
        ones are still in flight, so nothing here may suspend before `append` for a room
        the user is in (the membership check reads a cache): that keeps the store's order,
        and so the sequence numbers, the order the client sent them in."""
        session = self._session(conn)
        user = self._joined(session)
        cleaned = rules.clean_message(text)
        name = await self._member_room(user, room)
        cid = rules.clean_client_id(client_id)
        if not session.bucket.take(self.clock.monotonic()):
            raise ChatError(ErrorCode.RATE_LIMITED, "Too many messages; wait a moment.")
        draft = MessageDraft(_new_id(), name, user, cleaned, self.clock.now(), cid)
        message, created = await self.storage.messages.append(draft)
        if created:
            await self.broadcaster.to_room(name, MessagePosted(message))
            if self.typing_state.stop_user(user.id, name):
                await self._to_room_but_user(name, UserTyping(user, name, False), user)
        return message

    async def history(
        self, conn: ConnectionId, room: object, before: object, limit: object = None
    ) -> tuple[list[Message], bool]:
        user = self._joined(self._session(conn))
        name = await self._member_room(user, room)
        seq = rules.clean_seq(before, "before")
        size = rules.clean_limit(limit, HISTORY_PAGE, MAX_HISTORY_PAGE)
        page = await self.storage.messages.before(name, seq, size + 1)
        return page[-size:], len(page) > size

    async def sync(
        self, conn: ConnectionId, positions: object
    ) -> dict[str, tuple[list[Message], bool]]:
        """What came after the last sequence number seen in each room, in order."""
        user = self._joined(self._session(conn))
        if not isinstance(positions, Mapping) or len(positions) > MAX_SYNC_ROOMS:
            raise ChatError(
                ErrorCode.INVALID_PAYLOAD,
                f"`rooms` must map up to {MAX_SYNC_ROOMS} room names to sequence numbers.",
            )
        missed: dict[str, tuple[list[Message], bool]] = {}
        for room, seq in positions.items():
            name = await self._member_room(user, room)
            page = await self.storage.messages.after(
                name, rules.clean_seq(seq, "seq"), SYNC_PAGE + 1
            )
            missed[name] = (page[:SYNC_PAGE], len(page) > SYNC_PAGE)
        return missed

    async def typing(self, conn: ConnectionId, room: object, is_typing: object) -> None:
        user = self._joined(self._session(conn))
        flag = rules.clean_typing(is_typing)
        name = await self._member_room(user, room)
        if self.typing_state.update(user.id, name, flag, self.clock.monotonic()):
            await self._to_room_but_user(name, UserTyping(user, name, flag), user)

    async def expire_typing(self) -> None:
        """Announce "stopped typing" for everyone whose last report is too old."""
        for user_id, room in self.typing_state.expired(self.clock.monotonic()):
            user = self._online_user(user_id)
            if user is not None:
                await self._to_room_but_user(room, UserTyping(user, room, False), user)

    # -- rooms -------------------------------------------------------------------------

    async def list_rooms(self) -> list[RoomSummary]:
        return await self.storage.rooms.list_rooms()

    async def create_room(self, conn: ConnectionId, name: object, topic: object) -> RoomSummary:
        user = self._joined(self._session(conn))
        room = Room(rules.clean_room_name(name), RoomKind.ROOM, rules.clean_topic(topic))
        await self.storage.rooms.create(room, members=(user.id,))
        await self._enter(user, room.name)
        summary = RoomSummary(room, member_count=1, last_seq=0)
        await self.broadcaster.to_room(DEFAULT_ROOM, RoomCreated(summary))
        await self._to_user(user, RoomAdded(summary), skip=conn)
        return summary

    async def join_room(self, conn: ConnectionId, room: object) -> RoomView:
        user = self._joined(self._session(conn))
        name = rules.clean_room_ref(room)
        found = await self.storage.rooms.get(name)
        if found is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND, f"No room is called {name!r}.")
        if found.kind is RoomKind.DM and name not in self._memberships.get(user.id, ()):
            raise ChatError(ErrorCode.FORBIDDEN, "This conversation is private.")
        if await self.storage.rooms.add_member(name, user.id):
            await self._enter(user, name)
            await self.broadcaster.to_room(name, MemberJoined(name, user))
            await self._to_user(user, RoomAdded(await self._summary(name, user)), skip=conn)
        latest = await self.storage.messages.latest(name, HISTORY_PAGE + 1)
        return RoomView(
            summary=await self._summary(name, user),
            messages=latest[-HISTORY_PAGE:],
            has_more=len(latest) > HISTORY_PAGE,
            members=await self.storage.rooms.members(name),
        )

    async def leave_room(self, conn: ConnectionId, room: object) -> str:
        user = self._joined(self._session(conn))
        name = await self._member_room(user, room)
        if name == DEFAULT_ROOM or name.startswith("dm:"):
            raise ChatError(ErrorCode.FORBIDDEN, "The default room and direct messages stay.")
        await self.storage.rooms.remove_member(name, user.id)
        await self.broadcaster.to_room(name, MemberLeft(name, user))
        self._memberships.get(user.id, set()).discard(name)
        for conn_id in await self.presence.connections(user.id):
            await self.broadcaster.unsubscribe(conn_id, name)
        for _ in self.typing_state.stop_user(user.id, name):
            await self.broadcaster.to_room(name, UserTyping(user, name, False))
        return name

    async def open_dm(self, conn: ConnectionId, username: object) -> RoomSummary:
        user = self._joined(self._session(conn))
        peer = await self.storage.users.by_name(rules.clean_username(username))
        if peer is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, "No user has this name.")
        if peer.id == user.id:
            raise ChatError(ErrorCode.FORBIDDEN, "A direct message needs someone else.")
        name = dm_room_name(user.id, peer.id)
        if await self.storage.rooms.get(name) is None:
            try:
                await self.storage.rooms.create(Room(name, RoomKind.DM), (user.id, peer.id))
            except ChatError as error:  # both opened it at once: theirs won, same room
                if error.code is not ErrorCode.ROOM_EXISTS:
                    raise
            else:
                await self._enter(peer, name)
                await self._to_user(peer, RoomAdded(await self._summary(name, peer)))
        summary = await self._summary(name, user)
        if name not in self._memberships.get(user.id, ()):
            await self._enter(user, name)
            await self._to_user(user, RoomAdded(summary), skip=conn)
        return summary

    async def online_members(self, conn: ConnectionId, room: object) -> list[User]:
        user = self._joined(self._session(conn))
        name = await self._member_room(user, room)
        members = await self.storage.rooms.members(name)
        online = await self.presence.online(m.id for m in members)
        return [m for m in members if m.id in online]

    # -- bookkeeping -------------------------------------------------------------------

    def connection_count(self) -> int:
        return len(self._sessions)

    def online_count(self) -> int:
        return len(self._memberships)

    async def _attach(self, conn: ConnectionId, session: _Session, user: User) -> None:
        session.user = user
        came_online = await self.presence.attach(user.id, conn)
        if came_online or user.id not in self._memberships:
            summaries = await self.storage.rooms.rooms_of(user.id)
            self._memberships[user.id] = {s.room.name for s in summaries}
            self._online[user.id] = user
        for room in self._memberships[user.id]:
            await self.broadcaster.subscribe(conn, room)
        if came_online:
            await self.broadcaster.to_room(DEFAULT_ROOM, UserConnected(user, self.clock.now()))

    async def _detach(self, conn: ConnectionId, session: _Session) -> None:
        user = session.user
        assert user is not None
        session.user = session.token = None
        for room in self._memberships.get(user.id, ()):
            if room != DEFAULT_ROOM:
                await self.broadcaster.unsubscribe(conn, room)
        if await self.presence.detach(user.id, conn):
            self._memberships.pop(user.id, None)
            self._online.pop(user.id, None)
            self._last_seen[user.id] = self.clock.monotonic()
            for room in self.typing_state.stop_user(user.id):
                await self.broadcaster.to_room(room, UserTyping(user, room, False))
            await self.broadcaster.to_room(DEFAULT_ROOM, UserDisconnected(user, self.clock.now()))

    async def _holds_name(self, owner: User) -> bool:
        if await self.presence.online([owner.id]):
            return True
        seen = self._last_seen.get(owner.id, self._started)
        return self.clock.monotonic() - seen < self.limits.name_grace

    async def _enter(self, user: User, room: str) -> None:
        """Make every open connection of `user` receive `room`."""
        rooms = self._memberships.get(user.id)
        if rooms is None:
            return  # offline: their rooms are loaded when they next connect
        rooms.add(room)
        for conn in await self.presence.connections(user.id):
            await self.broadcaster.subscribe(conn, room)

    async def _to_user(
        self, user: User, event: RoomAdded, skip: ConnectionId | None = None
    ) -> None:
        """Tell every open tab of `user` (but the one that asked, which has its answer)."""
        for conn in await self.presence.connections(user.id):
            if conn != skip:
                await self.broadcaster.to_connection(conn, event)

    async def _to_room_but_user(self, room: str, event: UserTyping, user: User) -> None:
        # None of the typist's own tabs should show them typing.
        await self.broadcaster.to_room(
            room, event, exclude=await self.presence.connections(user.id)
        )

    async def _member_room(self, user: User, room: object) -> str:
        """The room a request names, which `user` must be a member of."""
        name = DEFAULT_ROOM if room is None else rules.clean_room_ref(room)
        if name in self._memberships.get(user.id, ()):
            return name
        if await self.storage.rooms.get(name) is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND, f"No room is called {name!r}.")
        raise ChatError(ErrorCode.FORBIDDEN, f"You are not a member of {name!r}.")

    async def _summary(self, name: str, viewer: User) -> RoomSummary:
        summary = await self.storage.rooms.summary(name)
        assert summary is not None
        return await self._with_peer(summary, viewer)

    async def _rooms_of(self, user: User) -> list[RoomSummary]:
        return [await self._with_peer(s, user) for s in await self.storage.rooms.rooms_of(user.id)]

    async def _with_peer(self, summary: RoomSummary, viewer: User) -> RoomSummary:
        if summary.room.kind is not RoomKind.DM:
            return summary
        ids = summary.room.name.split(":")[1:]
        peer_id = ids[1] if ids[0] == viewer.id else ids[0]
        return dataclasses.replace(summary, peer=await self.storage.users.by_id(peer_id))

    async def _online_users(self) -> list[User]:
        users = [self._online_user(uid) for uid in await self.presence.everyone()]
        return sorted((u for u in users if u is not None), key=lambda u: u.username.casefold())

    def _online_user(self, user_id: str) -> User | None:
        return self._online.get(user_id)

    def _session(self, conn: ConnectionId) -> _Session:
        try:
            return self._sessions[conn]
        except KeyError:
            raise ChatError(ErrorCode.NOT_JOINED, "Unknown connection.") from None

    @staticmethod
    def _joined(session: _Session) -> User:
        if session.user is None:
            raise ChatError(ErrorCode.NOT_JOINED, "Send `user-joined` with a username first.")
        return session.user


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_id() -> str:
    return uuid.uuid4().hex
