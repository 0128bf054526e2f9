"""Use cases of the chat: join, post, typing, leave. Knows no socket: connections are opaque ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import (
    MessagePosted,
    OnlineUsers,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import DEFAULT_ROOM, ConnectionId, Message, User
from rtchat.domain.ratelimit import TokenBucket
from rtchat.ports import Broadcaster, Clock


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection send limits: `send_rate` messages per second with bursts of `send_burst`.

    A rate of 0 turns the limit off (benchmarks do).
    """

    send_rate: float = 10.0
    send_burst: float = 20.0


@dataclass(slots=True)
class _Session:
    bucket: TokenBucket
    user: User | None = None


@dataclass(slots=True)
class ChatService:
    """The chat's use cases; every method takes the connection that asked."""

    broadcaster: Broadcaster
    clock: Clock
    limits: Limits = field(default_factory=Limits)
    _sessions: dict[ConnectionId, _Session] = field(default_factory=dict)

    async def connect(self, conn: ConnectionId) -> None:
        self._sessions[conn] = _Session(TokenBucket(self.limits.send_rate, self.limits.send_burst))
        # Like the seed's io.emit, every connection hears the room, joined or not.
        await self.broadcaster.subscribe(conn, DEFAULT_ROOM)

    async def join(self, conn: ConnectionId, username: object) -> User:
        name = rules.clean_username(username)
        session = self._session(conn)
        if session.user is not None and session.user.username == name:
            return session.user
        user = User(id=session.user.id if session.user else _new_id(), username=name)
        session.user = user
        await self.broadcaster.to_room(DEFAULT_ROOM, UserConnected(user, self.clock.now()))
        await self.broadcaster.to_connection(conn, OnlineUsers(tuple(self.online_users())))
        return user

    async def post(self, conn: ConnectionId, text: object) -> Message:
        session = self._session(conn)
        user = self._joined(session)
        cleaned = rules.clean_message(text)
        if not session.bucket.take(self.clock.monotonic()):
            raise ChatError(ErrorCode.RATE_LIMITED, "Too many messages; wait a moment.")
        message = Message(
            id=_new_id(), room=DEFAULT_ROOM, author=user, text=cleaned, timestamp=self.clock.now()
        )
        await self.broadcaster.to_room(DEFAULT_ROOM, MessagePosted(message))
        return message

    async def typing(self, conn: ConnectionId, is_typing: object) -> None:
        user = self._joined(self._session(conn))
        flag = rules.clean_typing(is_typing)
        await self.broadcaster.to_room(
            DEFAULT_ROOM, UserTyping(user, DEFAULT_ROOM, flag), exclude=conn
        )

    async def disconnect(self, conn: ConnectionId) -> None:
        session = self._sessions.pop(conn, None)
        if session is None or session.user is None:
            return
        await self.broadcaster.to_room(
            DEFAULT_ROOM, UserDisconnected(session.user, self.clock.now())
        )

    def online_users(self) -> list[User]:
        return [s.user for s in self._sessions.values() if s.user is not None]

    def connection_count(self) -> int:
        return len(self._sessions)

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


def _new_id() -> str:
    return uuid.uuid4().hex
