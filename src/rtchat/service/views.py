"""What the use cases answer with: plain frozen records the transport turns into payloads."""

from __future__ import annotations

from dataclasses import dataclass, field

from rtchat.domain.models import Message, RoomSummary, User
from rtchat.domain.moderation import Role


@dataclass(frozen=True, slots=True)
class SessionView:
    """What a connection needs to show itself: who it is, its rooms, who is online."""

    user: User | None
    rooms: list[RoomSummary]
    online: list[User]
    """The first `ONLINE_LIST_LIMIT` online users by name; `online_count` counts them all."""
    online_count: int
    token: str | None = None
    blocked: list[User] = field(default_factory=list)
    """The accounts whose direct messages this user blocks."""
    site_moderator: bool = False


@dataclass(frozen=True, slots=True)
class RoomView:
    summary: RoomSummary
    messages: list[Message]
    has_more: bool
    members: list[User]
    roles: dict[str, Role] = field(default_factory=dict)
    """The room's owner and moderators, by account id."""


@dataclass(frozen=True, slots=True)
class SyncPage:
    """One room's answer to `sync`: `messages` as they stand now, and `seq`, the position
    they bring the client to (ask again from it while `has_more`)."""

    messages: list[Message]
    has_more: bool
    seq: int


@dataclass(frozen=True, slots=True)
class RoomsPage:
    """A page of public rooms; `next` is what to ask for after it, None on the last."""

    rooms: list[RoomSummary]
    next: str | None
