"""The interfaces the chat service needs from the outside world.

Each has an in-memory implementation (the reference, and what one node uses) and a real
one for many nodes (SQLite/PostgreSQL for the stores, Redis for the rest); one contract
suite per port in `tests/contract/` runs against all of them. `LocalDelivery` is the
transport's, tested through the server.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rtchat.domain.errors import ChatError
from rtchat.domain.events import ServerEvent
from rtchat.domain.models import (
    Change,
    ChangeDraft,
    ConnectionId,
    LogEntry,
    Message,
    MessageDraft,
    ReadState,
    Room,
    RoomSummary,
    SiteIdentity,
    User,
)
from rtchat.domain.moderation import Restriction, Role, Until


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for rates and timeouts."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware UTC, for timestamps users see."""
        ...


class MessageStore(Protocol):
    """Each room's log: messages and the changes made to them (edits, deletes, reactions),
    numbered together by one counter per room, 1, 2, 3... with no gaps. A message is kept
    once, as it stands now: its text after the last edit, its reactions, and, once
    deleted, a tombstone (`deleted`, no text, no reactions). Raises `ChatError`, never
    driver exceptions."""

    async def append(self, draft: MessageDraft) -> tuple[Message, bool]:
        """Store `draft` as the room's next message and return it with `True`.

        If this author already stored a message with the same `client_id` (in any room:
        a client id is unique per author), store nothing and return that message with
        `False` (idempotent retries). An unknown room raises `room_not_found`; a
        `reply_to` that is not a message of the same room, `message_not_found`.
        """
        ...

    async def get(self, room: str, message_id: str) -> Message | None:
        """The message `message_id` of `room` as it stands now; None if the room has none."""
        ...

    async def change(self, draft: ChangeDraft) -> tuple[Message, Change | None]:
        """Apply `draft` to its target and log it, in one step: the target as it stands
        afterwards, with the new log entry (the room's next sequence number).

        The entry is None when nothing changed: the actor stored a change with the same
        `client_id` already, or the change leaves the message as it is
        (`rtchat.domain.changes.changes_anything`). A target that is not a message of
        `draft.room` raises `message_not_found`; an edit or reaction of a deleted message,
        `message_deleted`. A delete empties the text of the message and of its earlier
        edits, and removes its reactions. Who may change what is the caller's decision.
        """
        ...

    async def latest(self, room: str, limit: int) -> list[Message]:
        """The last `limit` messages of `room` as they stand now (tombstones included),
        oldest first."""
        ...

    async def before(self, room: str, seq: int, limit: int) -> list[Message]:
        """Up to `limit` messages with a sequence below `seq`, the newest of them, oldest
        first, as they stand now (tombstones included)."""
        ...

    async def after(self, room: str, seq: int, limit: int) -> list[LogEntry]:
        """Up to `limit` log entries of every kind with a sequence above `seq`, in order.
        Messages come as they stand now, so a later change in the page may be in them
        already: applying it again changes nothing."""
        ...

    async def last_seq(self, room: str) -> int:
        """The sequence number of the room's newest log entry; 0 for an empty room."""
        ...


class UserStore(Protocol):
    """Accounts. A username belongs to at most one account; a token to exactly one. Names
    compare by `rtchat.domain.names.name_key` (NFKC, case folding, lookalike letters)."""

    async def create(self, user: User, token_hash: str, *, seen: datetime | None = None) -> None:
        """Add `user`, reachable by `token_hash`, last seen at `seen` (default: now).
        Raises `username_taken` if the name is owned."""
        ...

    async def by_token(self, token_hash: str) -> User | None: ...

    async def by_name(self, username: str) -> User | None:
        """The current owner of `username` (or of a name that compares equal to it)."""
        ...

    async def by_id(self, user_id: str) -> User | None: ...

    async def seen(self, user_id: str, when: datetime) -> None:
        """`user_id` was online at `when` (it came online or went offline then)."""
        ...

    async def dormant(self, before: datetime, limit: int) -> list[User]:
        """Up to `limit` accounts last seen before `before`, the longest unseen first."""
        ...

    async def rename(self, user_id: str, username: str) -> None:
        """The account `user_id` goes by `username` from now on (its old name is free).
        Raises `username_taken` if another account owns the name; no account: nothing."""
        ...

    async def release(self, user_id: str, *, unseen_since: datetime | None = None) -> bool:
        """Forget the account: its name is free to claim again, its token names no one, it
        is in no room. Its messages stay, under the name they were sent with. With
        `unseen_since`, only if it was last seen before then (checked in the same step).
        `True` if there was such an account."""
        ...


class RoomStore(Protocol):
    """Rooms and who is in them."""

    async def create(self, room: Room, members: tuple[str, ...] = ()) -> None:
        """Add `room` with these member ids. Raises `room_exists` if the name is taken."""
        ...

    async def get(self, name: str) -> Room | None: ...

    async def list_rooms(self, after: str, limit: int) -> list[RoomSummary]:
        """Up to `limit` rooms of kind `room` (not direct messages) named after `after`
        (by code point; "" for the first page), by name."""
        ...

    async def summary(self, name: str) -> RoomSummary | None: ...

    async def add_member(self, room: str, user_id: str) -> bool:
        """Add a member; `False` if they were one already."""
        ...

    async def remove_member(self, room: str, user_id: str) -> bool:
        """Remove a member; `False` if they were not one."""
        ...

    async def is_member(self, room: str, user_id: str) -> bool: ...

    async def members(self, room: str, limit: int) -> list[User]:
        """The first `limit` members by name key (`general` may have every account)."""
        ...

    async def rooms_of(self, user_id: str) -> list[RoomSummary]:
        """Every room `user_id` is in, direct messages included, by name."""
        ...


UNREAD_CAP = 1000
"""Unread and mention counts stop here: a store counts no further than this, so a room
with a hundred thousand messages nobody read costs what one with a thousand does."""

SearchCursor = tuple[int, str, int]
"""Where a page of search results ended: the last result's (timestamp in microseconds,
room, seq). Results run newest first in this order."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Up to `limit` messages containing every one of `words` (whole words, case folded),
    from the rooms `user_id` is a member of at the time of the search (only `room` if
    given), newest first (by `SearchCursor` order) from just after `before`. `words` are
    plain words: no query syntax is read from them. No `user_id`: from `room` only,
    whoever its members are (a bot's search, trusted with the public room it names)."""

    user_id: str | None
    words: tuple[str, ...]
    limit: int
    room: str | None = None
    before: SearchCursor | None = None

    def __post_init__(self) -> None:
        if self.user_id is None and self.room is None:
            raise ValueError("A search by no member is of one room.")


class ReadMarkers(Protocol):
    """Per account and room, the last sequence number read. Counts read `messages` only."""

    async def mark(self, user_id: str, room: str, seq: int) -> tuple[ReadState, bool]:
        """Move the marker of `user_id` in `room` to `seq`, or to the room's last seq if that
        is lower; a marker never moves back. The state after it, and whether the marker
        moved. An unknown room raises `room_not_found` (membership is the caller's to
        check)."""
        ...

    async def states(self, user_id: str, rooms: Sequence[str]) -> dict[str, ReadState]:
        """The state of each of `rooms` that exists, in one read: the marker (0 if never
        marked), the messages after it others wrote and, of those, the ones mentioning
        `user_id`, each counted up to `UNREAD_CAP`."""
        ...


class MessageSearch(Protocol):
    """Full-text search over the messages of the rooms an account is a member of."""

    async def search(self, query: SearchQuery) -> list[Message]:
        """The messages `query` asks for, newest first."""


class ModerationStore(Protocol):
    """Roles in rooms, bans and mutes (each maybe timed), and who blocks whose direct
    messages. Keyed by account id; a restriction is kept as set, expired or not: the
    service compares its end with the clock."""

    async def set_role(self, room: str, user_id: str, role: Role) -> None:
        """`user_id` has `role` in `room` from now on (`MEMBER` removes any stored role).
        An unknown room raises `room_not_found`."""
        ...

    async def role(self, room: str, user_id: str) -> Role:
        """The role of `user_id` in `room`; `MEMBER` when none is stored."""
        ...

    async def roles(self, room: str) -> dict[str, Role]:
        """Every stored role in `room` (owner and moderators), by account id."""
        ...

    async def roles_of(self, user_id: str) -> dict[str, Role]:
        """Every room where `user_id` has a stored role, by room name."""
        ...

    async def restrict(
        self, room: str, user_id: str, kind: Restriction, until: datetime | None
    ) -> None:
        """Ban or mute `user_id` in `room` until `until` (None: until lifted), replacing
        one of that kind already there. An unknown room raises `room_not_found`."""
        ...

    async def lift(self, room: str, user_id: str, kind: Restriction) -> bool:
        """Remove the restriction; `False` if there was none."""
        ...

    async def restriction(self, room: str, user_id: str, kind: Restriction) -> Until | None:
        """The restriction of `kind` stored for `user_id` in `room`, or None."""
        ...

    async def restrictions_of(self, user_id: str, kind: Restriction) -> dict[str, datetime | None]:
        """Every restriction of `kind` stored for `user_id`: its end, by room name."""
        ...

    async def block(self, user_id: str, blocked_id: str) -> bool:
        """`user_id` takes no direct messages from `blocked_id`; `False` if so already."""
        ...

    async def unblock(self, user_id: str, blocked_id: str) -> bool:
        """Undo `block`; `False` if there was no such block."""
        ...

    async def blocked_by(self, user_id: str) -> list[User]:
        """The accounts `user_id` blocks, by name key (released accounts are left out)."""
        ...

    async def blockers_of(self, user_id: str) -> set[str]:
        """The ids of the accounts that block `user_id`."""
        ...


class Storage(Protocol):
    """The stores of one backend, opened and closed together."""

    messages: MessageStore
    users: UserStore
    rooms: RoomStore
    reads: ReadMarkers
    search: MessageSearch
    moderation: ModerationStore

    def healthy(self) -> bool:
        """Whether the backend answered its last request (no I/O: for `/healthz`). A store
        whose server went away says `False` until a request succeeds again."""
        ...

    async def close(self) -> None: ...


class Presence(Protocol):
    """Who is online across every node. A user is online while any node has one of their
    connections; several tabs, on one node or several, count once.

    The node calls `arrive` for a user's first connection on it and `depart` for their last,
    so a node's own tabs are counted by the node and only node-user pairs are shared. A
    node that stops (crashes) without departing stops refreshing its entries; after a
    bounded time its users are reported once by `expired` and are offline for everyone.
    """

    async def start(self) -> None:
        """Begin refreshing this node's entries."""
        ...

    async def close(self) -> None:
        """Stop refreshing and remove this node's entries (its users have departed)."""
        ...

    async def arrive(self, user: User) -> bool:
        """This node has a first connection of `user`; `True` if they came online."""
        ...

    async def depart(self, user: User) -> bool:
        """This node's last connection of `user` closed; `True` if they went offline."""
        ...

    async def online(self, user_ids: Collection[str]) -> set[str]:
        """Which of `user_ids` are online on any node."""
        ...

    async def list_online(self, limit: int) -> tuple[list[User], int]:
        """The first `limit` online users by casefolded name, and how many are online."""
        ...

    async def expired(self) -> list[User]:
        """Users who went offline because the node holding them stopped refreshing. Each is
        returned to exactly one caller on one node, which announces it."""
        ...

    def healthy(self) -> bool:
        """Whether the shared backend answered last time (no I/O)."""
        ...


class NameHolds(Protocol):
    """How long a username stays reserved for its owner after they went offline."""

    async def hold(self, user_id: str, seconds: float) -> None:
        """Keep `user_id`'s name reserved for `seconds` from now."""
        ...

    async def remaining(self, user_id: str) -> float:
        """Seconds left of the hold of `user_id`'s name; 0 when none is running (online
        users are not asked). A refused claimant is told how long to wait."""
        ...


class RateLimiter(Protocol):
    """Token buckets by key, shared by every node that uses the same backend."""

    def allow(self, key: str, now: float) -> bool:
        """Spend one token of `key`'s bucket if it has one. Never waits: a shared limiter
        decides from what it knows and settles with the other nodes in the background."""
        ...


class FanoutReceiver(Protocol):
    """What a `Fanout` hands its traffic to (the service's relay)."""

    def received(self, channel: str, data: bytes) -> None:
        """`data` was published on `channel` by some node (maybe this one)."""
        ...

    def resumed(self) -> None:
        """The link to the other nodes is back after an outage and every subscription is in
        effect again; what was published meanwhile did not arrive."""
        ...


class Fanout(Protocol):
    """Carries bytes between the nodes of one chat, by channel, at most once and in order
    per publisher. It never fails a caller: while the link is down, publications are
    dropped (what matters is in the store) and `FanoutReceiver.resumed` follows the
    link's return."""

    async def start(self, receiver: FanoutReceiver) -> None:
        """Connect and deliver from now on to `receiver`."""
        ...

    async def close(self) -> None: ...

    async def subscribe(self, channel: str) -> None:
        """Receive what is published on `channel`; returns once that is in effect (at once
        while the link is down: `resumed` comes later)."""
        ...

    def unsubscribe(self, channel: str) -> None: ...

    def publish(self, channel: str, data: bytes) -> None:
        """Send `data` to every node subscribed to `channel`. Never waits."""
        ...

    def healthy(self) -> bool: ...


class LocalDelivery(Protocol):
    """This node's connections, as the transport reaches them. Synchronous: it only queues
    bytes for the engine to write."""

    def encode(self, event: ServerEvent) -> bytes:
        """`event` as the wire carries it, encoded once for every recipient on every node."""
        ...

    def subscribe(self, conn: ConnectionId, room: str) -> None: ...

    def unsubscribe(self, conn: ConnectionId, room: str) -> None: ...

    def to_room(self, room: str, event: bytes, exclude: Collection[ConnectionId] = ()) -> None:
        """Write `event` to every connection of this node in `room` but those in `exclude`."""
        ...

    def to_connection(self, conn: ConnectionId, event: bytes) -> None: ...

    def close(self, conn: ConnectionId, reason: ChatError) -> None:
        """Tell the client of `conn` why (`reason`'s code), then close it; its disconnect
        then runs as any other."""
        ...


class SiteTokens(Protocol):
    """Checks the tokens a site signs for its own users (JWTs), to sign them in."""

    def verify(self, token: object) -> SiteIdentity:
        """Who `token` names, or `ChatError` `token_expired` (it was valid until its
        `exp`) or `invalid_token` (anything else: shape, signature, algorithm, claims)."""
        ...
