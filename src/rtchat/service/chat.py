"""The chat on one node: the use cases, built over the ports, started and closed together."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rtchat.domain.api_keys import ApiKeys
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import DEFAULT_ROOM, Room, RoomKind
from rtchat.domain.names import name_key
from rtchat.ports import (
    Clock,
    Fanout,
    LocalDelivery,
    NameHolds,
    Presence,
    SiteTokens,
    Storage,
)
from rtchat.service.accounts import Cleanup
from rtchat.service.admission import Admission
from rtchat.service.backend import Backend
from rtchat.service.changes import Changes
from rtchat.service.connections import Connections
from rtchat.service.context import Context
from rtchat.service.identity import Identity
from rtchat.service.limits import (
    JOINS_AT_ONCE,
    JOINS_AT_ONCE_PER_ADDRESS,
    READS_AT_ONCE,
    READS_AT_ONCE_PER_ADDRESS,
    Limiters,
    Limits,
)
from rtchat.service.locks import KeyedLocks
from rtchat.service.membership import Membership
from rtchat.service.messaging import Messaging
from rtchat.service.moderation import Moderation
from rtchat.service.reads import Reads
from rtchat.service.relay import Relay
from rtchat.service.rooms import Rooms
from rtchat.service.typing import Typing


@dataclass(frozen=True, slots=True)
class Chat:
    """Every use case of one node. Transport handlers call these; `sweep` runs on a timer."""

    identity: Identity
    messages: Messaging
    changes: Changes
    backend: Backend
    rooms: Rooms
    reads: Reads
    moderation: Moderation
    typing: Typing
    relay: Relay
    presence: Presence
    cleanup: Cleanup

    async def start(self, storage: Storage) -> None:
        """Create the default room if this is a new store, then join the other nodes."""
        if await storage.rooms.get(DEFAULT_ROOM) is None:
            try:
                await storage.rooms.create(Room(DEFAULT_ROOM, RoomKind.ROOM, "Everyone"))
            except ChatError as error:  # another node sharing the store made it first
                if error.code is not ErrorCode.ROOM_EXISTS:
                    raise
        await self.relay.start()
        await self.presence.start()

    async def close(self) -> None:
        await self.cleanup.close()
        await self.presence.close()
        await self.relay.close()

    async def sweep(self) -> None:
        """Expire typing reports nobody stopped, warn and close the connections whose site
        token runs out, announce the users of crashed nodes, and now and then remove the
        accounts that never came back."""
        self.typing.expire()
        self.identity.expire_tokens()
        self.cleanup.tick()
        await self.identity.sweep()


def build_chat(
    *,
    node: str,
    storage: Storage,
    presence: Presence,
    holds: NameHolds,
    limiters: Limiters,
    fanout: Fanout,
    delivery: LocalDelivery,
    clock: Clock,
    limits: Limits,
    site_tokens: SiteTokens | None = None,
    api_keys: ApiKeys | None = None,
    site_moderators: Collection[str] = (),
) -> Chat:
    connections = Connections()
    relay = Relay(node, fanout, delivery, storage.messages, connections)
    ctx = Context(
        storage=storage,
        presence=presence,
        holds=holds,
        limiters=limiters,
        relay=relay,
        membership=Membership(storage.rooms, storage.moderation, relay, connections),
        connections=connections,
        clock=clock,
        limits=limits,
        user_locks=KeyedLocks(),
        joins_gate=Admission(JOINS_AT_ONCE, JOINS_AT_ONCE_PER_ADDRESS),
        reads_gate=Admission(READS_AT_ONCE, READS_AT_ONCE_PER_ADDRESS),
        site_tokens=site_tokens,
        site_moderators=frozenset(name_key(name) for name in site_moderators),
    )
    typing = Typing(ctx)
    reads = Reads(ctx)
    rooms = Rooms(ctx, typing, reads)
    moderation = Moderation(ctx, typing)
    identity = Identity(ctx, rooms, typing)
    changes = Changes(ctx)
    return Chat(
        identity=identity,
        messages=Messaging(ctx, typing),
        changes=changes,
        backend=Backend(ctx, identity, api_keys or ApiKeys([]), changes, reads),
        rooms=rooms,
        reads=reads,
        moderation=moderation,
        typing=typing,
        relay=relay,
        presence=presence,
        cleanup=Cleanup(ctx),
    )
