"""In-memory implementations of the ports, for tests of the service without a network."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rtchat.domain.events import ServerEvent
from rtchat.domain.models import ConnectionId


@dataclass
class ManualClock:
    """A clock that moves only when told to."""

    mono: float = 1000.0
    wall: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


@dataclass
class RecordingBroadcaster:
    """Delivers to in-memory inboxes, one per connection, following room membership."""

    rooms: dict[str, set[ConnectionId]] = field(default_factory=dict)
    inbox: dict[ConnectionId, list[ServerEvent]] = field(default_factory=dict)

    async def subscribe(self, conn: ConnectionId, room: str) -> None:
        self.rooms.setdefault(room, set()).add(conn)
        self.inbox.setdefault(conn, [])

    async def unsubscribe(self, conn: ConnectionId, room: str) -> None:
        self.rooms.get(room, set()).discard(conn)

    async def to_room(
        self, room: str, event: ServerEvent, *, exclude: Collection[ConnectionId] = ()
    ) -> None:
        for conn in self.rooms.get(room, set()):
            if conn not in exclude:
                self.inbox[conn].append(event)

    async def to_connection(self, conn: ConnectionId, event: ServerEvent) -> None:
        self.inbox.setdefault(conn, []).append(event)

    def received(self, conn: ConnectionId, kind: type) -> list[ServerEvent]:
        return [e for e in self.inbox.get(conn, []) if isinstance(e, kind)]
