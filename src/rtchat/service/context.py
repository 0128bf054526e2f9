"""The parts every use case shares on one node."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import DEFAULT_ROOM, ConnectionId, User
from rtchat.domain.names import name_key
from rtchat.ports import Clock, NameHolds, Presence, RateLimiter, SiteTokens, Storage
from rtchat.service.admission import Admission
from rtchat.service.connections import Connection, Connections
from rtchat.service.limits import Limiters, Limits
from rtchat.service.locks import KeyedLocks
from rtchat.service.membership import Membership
from rtchat.service.relay import Relay


@dataclass(slots=True)
class Context:
    storage: Storage
    presence: Presence
    holds: NameHolds
    limiters: Limiters
    relay: Relay
    membership: Membership
    connections: Connections
    clock: Clock
    limits: Limits
    user_locks: KeyedLocks
    joins_gate: Admission
    reads_gate: Admission
    site_tokens: SiteTokens | None = None
    """Set: users sign in with the site's JWTs only (no `user-joined` accounts)."""
    site_moderators: frozenset[str] = frozenset()
    """Name keys of the accounts that moderate every room (`RTCHAT_MODERATORS`)."""

    def site_moderator(self, user: User) -> bool:
        return not user.guest and name_key(user.username) in self.site_moderators

    def connection(self, conn: ConnectionId) -> Connection:
        found = self.connections.by_id.get(conn)
        if found is None:
            raise ChatError(ErrorCode.NOT_JOINED, "Unknown connection.")
        return found

    def joined(self, conn: ConnectionId) -> User:
        user = self.connection(conn).user
        if user is None:
            raise ChatError(ErrorCode.NOT_JOINED, "Send `user-joined` with a username first.")
        return user

    def admitted(self, gate: Admission, conn: ConnectionId) -> AbstractAsyncContextManager[None]:
        """Wait for a slot of `gate` for `conn`'s address; held while the body runs."""
        return gate.slot(self.connection(conn).address)

    def account(self, conn: ConnectionId) -> User:
        """The joined user of `conn`, who must not be a guest."""
        user = self.joined(conn)
        if user.guest:
            raise guests_stay()
        return user

    def spend(self, limiter: RateLimiter, key: str | None, refusal: str) -> None:
        """Spend one token of `key`'s bucket (no key: nothing to count by) or refuse."""
        if key is not None and not limiter.allow(key, self.clock.monotonic()):
            raise ChatError(ErrorCode.RATE_LIMITED, refusal)

    async def other_account(self, user: User, username: object, refusal: str) -> User:
        """The account named `username`, who must not be `user` (`refusal` says why)."""
        other = await self.storage.users.by_name(rules.clean_username(username))
        if other is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, "No user has this name.")
        if other.id == user.id:
            raise ChatError(ErrorCode.FORBIDDEN, refusal)
        return other

    async def member_room(self, user: User, room: object) -> str:
        """The room a request names, which `user` must be a member of. No await for a room
        the user is in (a cache read): `post` relies on it to keep its order."""
        name = DEFAULT_ROOM if room is None else rules.clean_room_ref(room)
        if self.membership.has(user.id, name):
            return name
        if await self.storage.rooms.get(name) is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND, f"No room is called {name!r}.")
        raise ChatError(ErrorCode.FORBIDDEN, f"You are not a member of {name!r}.")


def guests_stay() -> ChatError:
    """The refusal of what only an account may do."""
    return ChatError(
        ErrorCode.FORBIDDEN,
        f"Guests chat in {DEFAULT_ROOM} only: join with a name nobody holds to create or "
        "join rooms and open direct messages.",
    )
