"""Presence for one node, in memory."""

from __future__ import annotations

from collections.abc import Iterable

from rtchat.domain.models import ConnectionId


class MemoryPresence:
    def __init__(self) -> None:
        self._connections: dict[str, set[ConnectionId]] = {}

    async def attach(self, user_id: str, conn: ConnectionId) -> bool:
        conns = self._connections.setdefault(user_id, set())
        conns.add(conn)
        return len(conns) == 1

    async def detach(self, user_id: str, conn: ConnectionId) -> bool:
        conns = self._connections.get(user_id)
        if conns is None or conn not in conns:
            return False
        conns.discard(conn)
        if conns:
            return False
        del self._connections[user_id]
        return True

    async def connections(self, user_id: str) -> list[ConnectionId]:
        return list(self._connections.get(user_id, ()))

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        return {uid for uid in user_ids if uid in self._connections}

    async def everyone(self) -> set[str]:
        return set(self._connections)
