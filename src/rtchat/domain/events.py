"""What the service announces. The transport's codec turns each into a wire event and payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rtchat.domain.models import Message, User


@dataclass(frozen=True, slots=True)
class UserConnected:
    user: User
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class UserDisconnected:
    user: User
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class MessagePosted:
    message: Message


@dataclass(frozen=True, slots=True)
class UserTyping:
    user: User
    room: str
    is_typing: bool


@dataclass(frozen=True, slots=True)
class OnlineUsers:
    users: tuple[User, ...]


ServerEvent = UserConnected | UserDisconnected | MessagePosted | UserTyping | OnlineUsers
