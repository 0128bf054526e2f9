"""The `LocalDelivery` port over every transport this node serves.

An event is encoded once, as the JSON array `["name", payload]` (what crosses to the other
nodes too, so they need not know which transports a node speaks). Each transport writes
it to its own members of a room in its own framing, built once for all of them: the
Socket.IO engine prefixes it as an EVENT packet, `/ws` rewraps it as `{"event", "data"}`.
A transport with no member in the room does nothing, so a room's bytes are framed once
per transport that has members there, never once per member.

Announcements (who came online or went, who joined or left a room) are written *later*
(`outbuf.LATER_S`): with the recipient's next write, or at most that long after. A join
storm announces every join to everyone; written at once, each announcement would cost
every connection a system call. Messages and answers are never held back, and an
announcement always arrives before anything sent after it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import orjson

from rtchat.domain.errors import ChatError
from rtchat.domain.events import ServerEvent
from rtchat.domain.models import ConnectionId
from rtchat.tally import Tally
from rtchat.transport import codec, events

# The events written later, as their encoding begins: `["name",`.
_LATER_HEADS = tuple(b'["' + name.encode() + b'",' for name in events.LATER_EVENTS)

# Upper edges of the broadcast size histogram's buckets, in recipients.
RECIPIENT_BUCKETS = (1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0)


class TransportDelivery(Protocol):
    """One transport's connections. Each ignores the connection ids that are not its own."""

    def subscribe(self, conn: ConnectionId, room: str) -> None: ...

    def unsubscribe(self, conn: ConnectionId, room: str) -> None: ...

    def to_room(
        self, room: str, event: bytes, exclude: Collection[ConnectionId], later: bool
    ) -> int:
        """Write `event` to this transport's members of `room`; how many it went to.
        `later`: it may wait for their next write (see the module docstring)."""
        ...

    def to_connection(self, conn: ConnectionId, event: bytes) -> None: ...

    def close(self, conn: ConnectionId, reason: ChatError) -> None: ...


class Deliveries:
    """Implements `LocalDelivery`: see the module docstring."""

    def __init__(self, *transports: TransportDelivery) -> None:
        self._transports = transports
        # Read by /metrics: the connections of this node, of every transport, that each
        # room broadcast reached (a mixed room's broadcast is one observation; one that
        # reached no one here is none).
        self.recipients = Tally(RECIPIENT_BUCKETS)

    def encode(self, event: ServerEvent) -> bytes:
        name, payload = codec.encode(event)
        return orjson.dumps([name, payload])

    def subscribe(self, conn: ConnectionId, room: str) -> None:
        for transport in self._transports:
            transport.subscribe(conn, room)

    def unsubscribe(self, conn: ConnectionId, room: str) -> None:
        for transport in self._transports:
            transport.unsubscribe(conn, room)

    def to_room(self, room: str, event: bytes, exclude: Collection[ConnectionId] = ()) -> None:
        later = event.startswith(_LATER_HEADS)
        sent = 0
        for transport in self._transports:
            sent += transport.to_room(room, event, exclude, later)
        if sent:
            self.recipients.observe(sent)

    def to_connection(self, conn: ConnectionId, event: bytes) -> None:
        for transport in self._transports:
            transport.to_connection(conn, event)

    def close(self, conn: ConnectionId, reason: ChatError) -> None:
        for transport in self._transports:
            transport.close(conn, reason)
