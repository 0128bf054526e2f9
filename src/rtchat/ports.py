"""The interfaces the chat service needs from the outside world."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from rtchat.domain.events import ServerEvent
from rtchat.domain.models import ConnectionId


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for rates and timeouts."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware UTC, for timestamps users see."""
        ...


class Broadcaster(Protocol):
    """Delivers server events to connections; the transport implements it."""

    async def subscribe(self, conn: ConnectionId, room: str) -> None:
        """Make `conn` receive what is sent to `room`."""
        ...

    async def to_room(
        self, room: str, event: ServerEvent, *, exclude: ConnectionId | None = None
    ) -> None:
        """Send `event` to every connection in `room`, except `exclude`."""
        ...

    async def to_connection(self, conn: ConnectionId, event: ServerEvent) -> None:
        """Send `event` to one connection."""
        ...
