"""What the chat is made of. Plain frozen dataclasses; the transport turns them into payloads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

from rtchat.domain.moderation import Role

ConnectionId = NewType("ConnectionId", str)
"""An opaque handle the transport gives each connection; the service never looks inside."""

DEFAULT_ROOM = "general"


class RoomKind(StrEnum):
    ROOM = "room"
    DM = "dm"


@dataclass(frozen=True, slots=True)
class User:
    """An account, or a guest: someone chatting under a name an account holds, for as long
    as their one connection lasts. A guest has an id of its own and is never stored."""

    id: str
    username: str
    guest: bool = False


@dataclass(frozen=True, slots=True)
class Room:
    """A conversation. Direct-message rooms are named `dm:<user id>:<user id>`, ids sorted."""

    name: str
    kind: RoomKind = RoomKind.ROOM
    topic: str = ""


@dataclass(frozen=True, slots=True)
class RoomSummary:
    room: Room
    member_count: int
    last_seq: int
    peer: User | None = None
    """For a direct-message room: the other person, as seen by whoever asked."""
    role: Role | None = None
    """The role in the room of whoever asked, where known (None: not asked for)."""


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A message before the store has given it its place in the room."""

    id: str
    room: str
    author: User
    text: str
    timestamp: datetime
    client_id: str | None = None
    sent_from: str | None = None
    """The connection it was sent from (the Socket.IO socket id), as the seed's `userId`."""


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    room: str
    seq: int
    """Position in the room: 1, 2, 3... with no gaps, assigned by the store."""
    author: User
    text: str
    timestamp: datetime
    client_id: str | None = None
    sent_from: str | None = None
    """The connection it was sent from; None for messages stored before rtchat kept it."""


@dataclass(frozen=True, slots=True)
class SiteIdentity:
    """Who a site's signed token (a JWT) says its bearer is, until when."""

    subject: str
    """The site's stable id of the account (`sub`); it owns the rtchat account."""
    name: str
    """The display name (`name`), already a valid username."""
    expires: datetime

    @property
    def account_id(self) -> str:
        """The rtchat account of `subject`: the same on every node and after every restart,
        and never one a session-token account can have (those are random)."""
        return "s" + hashlib.sha256(b"site-sub\0" + self.subject.encode()).hexdigest()[:31]


def dm_room_name(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"dm:{first}:{second}"
