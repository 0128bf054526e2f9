"""Exactly-once bookkeeping for the soak: every message a client is handed, counted.

Each client keeps one `Stream` per room: the sequence numbers after `start` are its to
receive, each exactly once, live (`receive-message`) or by `sync`. The one overlap that is
not a duplicate is the reconnect window: a new connection is subscribed to its rooms as
it opens, so a message can arrive live on it and again in the answer to the `sync` it
sends next, on that same connection. That case is counted (`overlaps`); anything else
handed over twice is a violation, and so is a gap once a sync has caught a room up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_VIOLATIONS_KEPT = 50


@dataclass
class Stream:
    """What one client holds of one room, from the first seq after `start` on."""

    start: int
    held: dict[int, str] = field(default_factory=dict)  # seq -> message id
    live_on: dict[int, int] = field(default_factory=dict)  # seq -> connection it came live on
    synced_on: dict[int, int] = field(default_factory=dict)  # seq -> connection it came by sync
    top: int = 0  # every seq in start+1..top is held
    caught_up_on: int = -1  # the connection on which a sync last brought the room up to date
    member: bool = True

    def __post_init__(self) -> None:
        self.top = self.start

    def advance(self) -> None:
        while self.top + 1 in self.held:
            self.top += 1

    def missing(self, last: int) -> list[int]:
        return [s for s in range(self.start + 1, last + 1) if s not in self.held]


@dataclass
class Ledger:
    """Counts and violations of the whole run; every client reports into one ledger."""

    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0
    by_seq: dict[tuple[str, int], str] = field(default_factory=dict)  # (room, seq) -> id
    acked: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    """(author name, clientId) -> (message id, seq) of every acknowledged message."""

    def violation(self, text: str) -> None:
        self.violation_count += 1
        if len(self.violations) < MAX_VIOLATIONS_KEPT:
            self.violations.append(text)

    def identify(self, message: dict[str, Any]) -> None:
        """One message per (room, seq), for every client, all run long."""
        key = (message["room"], message["seq"])
        known = self.by_seq.setdefault(key, message["id"])
        if known != message["id"]:
            self.violation(f"two messages at {key}: {known} and {message['id']}")

    def ack(self, author: str, client_id: str, message: dict[str, Any]) -> None:
        """A send was acknowledged; a resend of its clientId must name the same message."""
        self.identify(message)
        self.counts["acks"] += 1
        key = (author, client_id)
        got = (message["id"], message["seq"])
        known = self.acked.setdefault(key, got)
        if known != got:
            self.violation(f"clientId {client_id} acknowledged as {known} and as {got}")

    def live(self, who: str, stream: Stream, conn: int, message: dict[str, Any]) -> None:
        self.identify(message)
        room, seq = message["room"], message["seq"]
        if not stream.member:
            self.violation(f"{who}: {room}#{seq} delivered after leaving the room")
        elif seq <= stream.start:
            self.counts["before_start"] += 1  # older than the client's first position
        elif seq in stream.held:
            if stream.synced_on.get(seq) == conn:
                self.counts["overlaps"] += 1
            else:
                self.violation(f"{who}: {room}#{seq} delivered live, and before")
        else:
            if stream.caught_up_on == conn and seq != stream.top + 1:
                self.violation(f"{who}: {room}#{seq} came live after #{stream.top}: a gap")
            stream.held[seq] = message["id"]
            stream.live_on[seq] = conn
            stream.advance()
            self.counts["live"] += 1

    def synced(
        self, who: str, stream: Stream, conn: int, position: int, messages: list[dict[str, Any]]
    ) -> None:
        """One page of a sync answer, asked from `position` on connection `conn`."""
        for message in messages:
            self.identify(message)
            room, seq = message["room"], message["seq"]
            if seq <= position:
                self.violation(f"{who}: sync from #{position} answered {room}#{seq}")
            elif seq not in stream.held:
                stream.held[seq] = message["id"]
                stream.synced_on[seq] = conn
                self.counts["synced"] += 1
            elif stream.live_on.get(seq) == conn:
                self.counts["overlaps"] += 1
            else:
                self.violation(f"{who}: {room}#{seq} came by sync, and before")
        stream.advance()

    def caught_up(self, who: str, room: str, stream: Stream, conn: int, last: int) -> None:
        """A sync ended (no more pages): nothing may be missing up to `last`, the room's
        last seq as the server reported it before the sync was sent."""
        stream.caught_up_on = conn
        missing = stream.missing(max(last, max(stream.held, default=stream.start)))
        if missing:
            self.violation(f"{who}: {room} misses {missing[:10]} after a sync")
