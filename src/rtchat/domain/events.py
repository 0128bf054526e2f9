"""What the service announces. The transport's codec turns each into a wire event and payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rtchat.domain.models import Change, ConnectionId, Message, ReadState, RoomSummary, User
from rtchat.domain.moderation import Action, Role


@dataclass(frozen=True, slots=True)
class UserConnected:
    """A user came online: `connection` is their first."""

    user: User
    timestamp: datetime
    connection: ConnectionId


@dataclass(frozen=True, slots=True)
class UserDisconnected:
    """A user went offline: `connection` was their last; None when the node holding them
    stopped (crashed), and with it what it knew of their connections."""

    user: User
    timestamp: datetime
    connection: ConnectionId | None


@dataclass(frozen=True, slots=True)
class MessagePosted:
    message: Message


@dataclass(frozen=True, slots=True)
class MessageChanged:
    """A message was edited, deleted, or given or taken a reaction (`change.kind`)."""

    change: Change


@dataclass(frozen=True, slots=True)
class UserTyping:
    """`connection` is the one that reported it last."""

    user: User
    room: str
    is_typing: bool
    connection: ConnectionId


@dataclass(frozen=True, slots=True)
class MemberJoined:
    room: str
    user: User


@dataclass(frozen=True, slots=True)
class MemberLeft:
    room: str
    user: User
    reason: Action | None = None
    """`KICK` or `BAN` when a moderator removed them; None when they left."""
    by: User | None = None
    """The moderator who removed them."""


@dataclass(frozen=True, slots=True)
class Moderated:
    """A moderator acted on `user` in `room`: sent to the room and to `user`'s connections."""

    room: str
    action: Action
    user: User
    by: User
    until: datetime | None = None
    """When a ban or mute ends; None: until it is lifted (or nothing to end)."""
    role: Role | None = None
    """The role given, for `Action.ROLE`."""


@dataclass(frozen=True, slots=True)
class RoomCreated:
    summary: RoomSummary


@dataclass(frozen=True, slots=True)
class RoomAdded:
    """The receiving user was made a member of a room (someone opened a DM with them)."""

    summary: RoomSummary


@dataclass(frozen=True, slots=True)
class TokenExpiring:
    """The receiving connection's site token runs out at `expires`: present a new one."""

    expires: datetime


@dataclass(frozen=True, slots=True)
class ReadMarkerMoved:
    """The receiving account marked a room read (on this connection or another, any node)."""

    state: ReadState


ServerEvent = (
    UserConnected
    | UserDisconnected
    | MessagePosted
    | MessageChanged
    | UserTyping
    | MemberJoined
    | MemberLeft
    | Moderated
    | RoomCreated
    | RoomAdded
    | TokenExpiring
    | ReadMarkerMoved
)
