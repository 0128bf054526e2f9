"""This node's connections: who each one is, and which of them belong to each user.

Node-local by nature (a connection lives on the node that accepted it), so it is plain
memory, not a port. What other nodes must know — who is online, which rooms a user is
in — goes through Presence, the stores and the relay.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from datetime import datetime

from rtchat.domain.models import ConnectionId, User


@dataclass(slots=True)
class Connection:
    id: ConnectionId
    address: str | None = None
    """Where it comes from, as per-address limits count it (None: not from an IP)."""
    user: User | None = None
    token: str | None = None
    expires: datetime | None = None
    """When the site token it signed in with runs out (None: not signed in by one)."""
    told: bool = False
    """Whether it was told its site token is running out (`TokenExpiring`)."""

    def address_key(self, kind: str) -> str | None:
        """The rate-limit key of `kind` for this connection's address, if it has one."""
        return None if self.address is None else f"{kind}@{self.address}"


@dataclass(slots=True)
class Connections:
    by_id: dict[ConnectionId, Connection] = field(default_factory=dict)
    of_user: dict[str, set[ConnectionId]] = field(default_factory=dict)

    def open(self, conn: ConnectionId, address: str | None = None) -> Connection:
        connection = self.by_id[conn] = Connection(conn, address)
        return connection

    def close(self, conn: ConnectionId) -> Connection | None:
        return self.by_id.pop(conn, None)

    def bind(self, connection: Connection, user: User, token: str | None) -> bool:
        """Make `connection` `user`'s; `True` if it is their first on this node."""
        connection.user, connection.token = user, token
        conns = self.of_user.setdefault(user.id, set())
        conns.add(connection.id)
        return len(conns) == 1

    def unbind(self, connection: Connection) -> bool:
        """Take `connection` from its user; `True` if it was their last on this node."""
        user = connection.user
        connection.user = connection.token = connection.expires = None
        if user is None:
            return False
        conns = self.of_user.get(user.id)
        if conns is None:
            return False
        conns.discard(connection.id)
        if conns:
            return False
        del self.of_user[user.id]
        return True

    def conns_of(self, user_id: str) -> Set[ConnectionId]:
        return self.of_user.get(user_id, _NONE)

    def users_here(self) -> int:
        return len(self.of_user)


_NONE: frozenset[ConnectionId] = frozenset()
