"""What the chat is made of. Plain frozen dataclasses; the transport turns them into payloads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NewType

ConnectionId = NewType("ConnectionId", str)
"""An opaque handle the transport gives each connection; the service never looks inside."""

DEFAULT_ROOM = "general"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    room: str
    author: User
    text: str
    timestamp: datetime
