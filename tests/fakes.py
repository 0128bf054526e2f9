"""In-memory implementations of the ports, for tests of the service without a network."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rtchat.domain.errors import ChatError
from rtchat.domain.events import ServerEvent
from rtchat.domain.models import ConnectionId
from rtchat.fanout.memory import MemoryFanout
from rtchat.names.memory import MemoryNameHolds
from rtchat.ports import Clock, LocalDelivery, SiteTokens, Storage
from rtchat.presence.memory import MemoryPresence, MemoryPresenceHub
from rtchat.ratelimit.memory import MemoryRateLimiter
from rtchat.service import Chat, Limiters, Limits, build_chat


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
class RecordingDelivery:
    """The `LocalDelivery` port into in-memory inboxes, one per connection, following room
    membership. `encode` hands out a key for the event, so what arrives is the event itself;
    the keys are shared by every instance, so nodes in one process can pass them around."""

    rooms: dict[str, set[ConnectionId]] = field(default_factory=dict)
    inbox: dict[ConnectionId, list[ServerEvent]] = field(default_factory=dict)
    closed: dict[ConnectionId, ChatError] = field(default_factory=dict)

    def encode(self, event: ServerEvent) -> bytes:
        key = str(next(_keys)).encode()
        _EVENTS[key] = event
        return key

    def subscribe(self, conn: ConnectionId, room: str) -> None:
        self.rooms.setdefault(room, set()).add(conn)
        self.inbox.setdefault(conn, [])

    def unsubscribe(self, conn: ConnectionId, room: str) -> None:
        self.rooms.get(room, set()).discard(conn)

    def to_room(self, room: str, event: bytes, exclude: Collection[ConnectionId] = ()) -> None:
        for conn in self.rooms.get(room, set()):
            if conn not in exclude:
                self.inbox[conn].append(_EVENTS[event])

    def to_connection(self, conn: ConnectionId, event: bytes) -> None:
        self.inbox.setdefault(conn, []).append(_EVENTS[event])

    def close(self, conn: ConnectionId, reason: ChatError) -> None:
        self.closed[conn] = reason

    def received(self, conn: ConnectionId, kind: type) -> list[ServerEvent]:
        return [e for e in self.inbox.get(conn, []) if isinstance(e, kind)]


_EVENTS: dict[bytes, ServerEvent] = {}
_keys = itertools.count()


def single_node_chat(
    storage: Storage,
    delivery: LocalDelivery,
    clock: Clock,
    limits: Limits,
    site_tokens: SiteTokens | None = None,
) -> Chat:
    """The chat of one node over in-memory shared parts, as `app.py` builds it without Redis."""
    return build_chat(
        node="n1",
        storage=storage,
        presence=MemoryPresence(MemoryPresenceHub(clock=clock), "n1"),
        holds=MemoryNameHolds(clock, start_grace=0),
        limiters=Limiters.build(limits, MemoryRateLimiter),
        fanout=MemoryFanout(),
        delivery=delivery,
        clock=clock,
        limits=limits,
        site_tokens=site_tokens,
    )
