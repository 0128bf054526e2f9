"""The interfaces the chat service needs from the outside world.

Each has an in-memory implementation (the reference and the test fake) and a real one;
one contract test suite in `tests/contract/` runs against all of them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Protocol

from rtchat.domain.events import ServerEvent
from rtchat.domain.models import (
    ConnectionId,
    Message,
    MessageDraft,
    Room,
    RoomSummary,
    User,
)


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

    async def unsubscribe(self, conn: ConnectionId, room: str) -> None:
        """Stop `conn` receiving what is sent to `room`."""
        ...

    async def to_room(
        self, room: str, event: ServerEvent, *, exclude: Collection[ConnectionId] = ()
    ) -> None:
        """Send `event` to every connection in `room`, except those in `exclude`."""
        ...

    async def to_connection(self, conn: ConnectionId, event: ServerEvent) -> None:
        """Send `event` to one connection."""
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
    """Who is who. A username belongs to at most one user; a token to exactly one."""

    async def create(self, user: User, token_hash: str) -> None:
        """Add `user`, reachable by `token_hash`. Raises `username_taken` if the name is owned."""
        ...

    async def by_token(self, token_hash: str) -> User | None: ...

    async def by_name(self, username: str) -> User | None:
        """The current owner of `username` (names compare case-insensitively)."""
        ...

    async def by_id(self, user_id: str) -> User | None: ...

    async def release(self, user_id: str) -> None:
        """Take the name and token away from `user_id`: the name is free to claim again."""
        ...


class RoomStore(Protocol):
    """Rooms and who is in them."""

    async def create(self, room: Room, members: tuple[str, ...] = ()) -> None:
        """Add `room` with these member ids. Raises `room_exists` if the name is taken."""
        ...

    async def get(self, name: str) -> Room | None: ...

    async def list_rooms(self) -> list[RoomSummary]:
        """Every room of kind `room` (not direct messages), by name."""
        ...

    async def summary(self, name: str) -> RoomSummary | None: ...

    async def add_member(self, room: str, user_id: str) -> bool:
        """Add a member; `False` if they were one already."""
        ...

    async def remove_member(self, room: str, user_id: str) -> bool:
        """Remove a member; `False` if they were not one."""
        ...

    async def is_member(self, room: str, user_id: str) -> bool: ...

    async def members(self, room: str) -> list[User]:
        """The members that still own a name, by username."""
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
    """Which users have open connections. Several tabs of one user count once."""

    async def attach(self, user_id: str, conn: ConnectionId) -> bool:
        """Record `conn` as one of `user_id`'s; `True` if the user just came online."""
        ...

    async def detach(self, user_id: str, conn: ConnectionId) -> bool:
        """Forget `conn`; `True` if it was the user's last one and they went offline."""
        ...

    async def connections(self, user_id: str) -> list[ConnectionId]:
        """The user's open connections on this node."""
        ...

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        """Which of `user_ids` are online."""
        ...

    async def everyone(self) -> set[str]:
        """Every online user id."""
        ...
