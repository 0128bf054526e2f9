"""Presence for nodes in one process: what a single node uses, and the reference the Redis
implementation is tested against."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field

from rtchat.clock import SystemClock
from rtchat.domain.models import User
from rtchat.domain.names import name_key
from rtchat.ports import Clock


@dataclass
class MemoryPresenceHub:
    """What the nodes of one process share. A node that has not refreshed for `ttl`
    seconds is gone, and its users with it."""

    ttl: float = 30.0
    clock: Clock = field(default_factory=SystemClock)
    refreshed: dict[str, float] = field(default_factory=dict)  # node -> last refresh
    users: dict[str, User] = field(default_factory=dict)
    nodes_of: dict[str, set[str]] = field(default_factory=dict)  # user id -> nodes
    # (name key, user id) of every online user, kept sorted: `list_online` is read on
    # every join, and sorting everyone each time made a join flood quadratic.
    order: list[tuple[str, str]] = field(default_factory=list)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, node: str, user: User) -> bool:
        nodes = self.nodes_of.setdefault(user.id, set())
        came = not nodes
        nodes.add(node)
        self.users[user.id] = user
        if came:
            entry = self.keys[user.id] = (name_key(user.username), user.id)
            bisect.insort(self.order, entry)
        return came

    def remove(self, node: str, user_id: str) -> bool:
        nodes = self.nodes_of.get(user_id)
        if nodes is None or node not in nodes:
            return False
        nodes.discard(node)
        if nodes:
            return False
        del self.nodes_of[user_id]
        del self.users[user_id]
        entry = self.keys.pop(user_id)
        del self.order[bisect.bisect_left(self.order, entry)]
        return True


class MemoryPresence:
    def __init__(self, hub: MemoryPresenceHub | None = None, node: str = "local") -> None:
        self._hub = hub if hub is not None else MemoryPresenceHub()
        self._node = node
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._hub.refreshed[self._node] = self._hub.clock.monotonic()
        self._refresher = asyncio.create_task(self._refresh())

    async def close(self) -> None:
        await self.abandon()
        hub = self._hub
        hub.refreshed.pop(self._node, None)
        for user_id in [u for u, nodes in hub.nodes_of.items() if self._node in nodes]:
            hub.remove(self._node, user_id)

    async def abandon(self) -> None:
        """Stop refreshing and leave every entry behind, as a crashed node does."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def arrive(self, user: User) -> bool:
        hub = self._hub
        hub.refreshed[self._node] = hub.clock.monotonic()
        return hub.add(self._node, user)

    async def depart(self, user: User) -> bool:
        return self._hub.remove(self._node, user.id)

    async def online(self, user_ids: Collection[str]) -> set[str]:
        known = self._hub.nodes_of
        return {uid for uid in user_ids if uid in known}

    async def list_online(self, limit: int) -> tuple[list[User], int]:
        hub = self._hub
        return [hub.users[uid] for _, uid in hub.order[: max(limit, 0)]], len(hub.order)

    async def expired(self) -> list[User]:
        hub = self._hub
        now = hub.clock.monotonic()
        gone: list[User] = []
        for node in [n for n, seen in hub.refreshed.items() if now - seen > hub.ttl]:
            del hub.refreshed[node]
            for user_id in [u for u, nodes in hub.nodes_of.items() if node in nodes]:
                user = hub.users[user_id]
                if hub.remove(node, user_id):
                    gone.append(user)
        return gone

    def healthy(self) -> bool:
        return True

    async def refresh(self) -> None:
        """Tell the hub this node is alive (the refresher does it every `ttl / 3`)."""
        self._hub.refreshed[self._node] = self._hub.clock.monotonic()

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._hub.ttl / 3)
            await self.refresh()
