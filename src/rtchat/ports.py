"""The interfaces the chat service needs from the outside world.

Each has an in-memory implementation (the reference, and what one node uses) and a real
one for many nodes (SQLite/PostgreSQL for the stores, Redis for the rest); one contract
suite per port in `tests/contract/` runs against all of them. `LocalDelivery` is the
transport's, tested through the server.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from rtchat.domain.errors import ChatError
from rtchat.domain.events import ServerEvent
from rtchat.domain.models import (
    ConnectionId,
    Message,
    MessageDraft,
    Room,
    RoomSummary,
    SiteIdentity,
    User,
)


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for rates and timeouts."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware UTC, for timestamps users see."""
        ...


class MessageStore(Protocol):
    """Messages per room, in order. Raises `ChatError`, never driver exceptions."""

    async def append(self, draft: MessageDraft) -> tuple[Message, bool]:
        """Store `draft` as the room's next message and return it with `True`.

        If this author already stored a message with the same `client_id` (in any room:
        a client id is unique per author), store nothing and return that message with
        `False` (idempotent retries). An unknown room raises `room_not_found`.
        """
        ...

    async def latest(self, room: str, limit: int) -> list[Message]:
        """The last `limit` messages of `room`, oldest first."""
        ...

    async def before(self, room: str, seq: int, limit: int) -> list[Message]:
        """Up to `limit` messages with a sequence below `seq`, the newest of them, oldest first."""
        ...

    async def after(self, room: str, seq: int, limit: int) -> list[Message]:
        """Up to `limit` messages with a sequence above `seq`, oldest first."""
        ...

    async def last_seq(self, room: str) -> int:
        """The sequence number of the room's newest message; 0 for an empty room."""
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


class Storage(Protocol):
    """The three stores of one backend, opened and closed together."""

    messages: MessageStore
    users: UserStore
    rooms: RoomStore

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
