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
    unread: int | None = None
    """Messages after the asker's read marker that others wrote (capped at `UNREAD_CAP`);
    None where the answer is not about one account's rooms."""
    mentions: int | None = None
    """Of those, the ones that mention the asker (capped likewise)."""
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
    mention_keys: tuple[str, ...] = ()
    """Name keys of the `@name` tokens in `text` (see `domain.mentions`); the store keeps
    those naming members of the room as the message's `mentions`."""
    reply_to: str | None = None
    """The id of the message of the same room this one answers."""


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    room: str
    seq: int
    """Its place in the room's log (1, 2, 3... with no gaps across messages and changes),
    assigned by the store."""
    author: User
    text: str
    timestamp: datetime
    client_id: str | None = None
    sent_from: str | None = None
    """The connection it was sent from; None for messages stored before rtchat kept it."""
    mentions: tuple[User, ...] = ()
    """The members of the room its text names as `@name`, by name key."""
    reply_to: Quote | None = None
    """The message this one answers, as it stands now (a tombstone quotes no text)."""
    edited_at: datetime | None = None
    """When its text was last changed; None if never."""
    deleted: bool = False
    """A tombstone: its author (or a moderator) deleted it; its text is gone (``""``)."""
    reactions: tuple[Reaction, ...] = ()
    """By the order each emoji was first given."""


@dataclass(frozen=True, slots=True)
class ReadState:
    """Where one account has read a room to, and what is left to read after it."""

    room: str
    seq: int
    """The read marker: the last sequence number read (0: nothing yet)."""
    unread: int
    mentions: int


QUOTE_LENGTH = 100
"""Characters of a replied-to message's text a reply carries (the rest is cut)."""
REACTION_NAMES = 20
"""Names of those who gave one emoji a message carries at most (`count` counts them all)."""


@dataclass(frozen=True, slots=True)
class Quote:
    """What a reply shows of the message it answers."""

    id: str
    seq: int
    author: User
    text: str
    """At most `QUOTE_LENGTH` characters; empty for a deleted message."""
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Reaction:
    emoji: str
    count: int
    usernames: tuple[str, ...]
    """The first `REACTION_NAMES` who gave it, earliest first."""


class ChangeKind(StrEnum):
    EDIT = "edit"
    DELETE = "delete"
    REACT = "react"
    UNREACT = "unreact"


@dataclass(frozen=True, slots=True)
class ChangeDraft:
    """A change to a stored message before the store has given it its place in the room."""

    room: str
    target: str
    """The id of the message it changes."""
    actor: User
    kind: ChangeKind
    timestamp: datetime
    value: str = ""
    """The new text of an edit, the emoji of a reaction; empty for a delete."""
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """An edit, delete or reaction: an entry of the room's log, numbered like messages."""

    room: str
    seq: int
    target: str
    actor: User
    kind: ChangeKind
    timestamp: datetime
    value: str = ""
    """As in the draft; an edit's text is emptied when its message is deleted."""
    client_id: str | None = None
    count: int = 0
    """For a reaction: how many gave that emoji to the message once it was made."""


LogEntry = Message | Change
"""What a room's log holds, each with the room's next sequence number."""


def quote_of(message: Message) -> Quote:
    text = "" if message.deleted else message.text[:QUOTE_LENGTH]
    return Quote(message.id, message.seq, message.author, text, message.deleted)


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
