"""One node's chat over the in-memory implementation of every port, with a manual clock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import pytest

from rtchat.fanout.memory import MemoryFanout
from rtchat.names.memory import MemoryNameHolds
from rtchat.presence.memory import MemoryPresence, MemoryPresenceHub
from rtchat.ratelimit.memory import MemoryRateLimiter
from rtchat.service import Chat, Limiters, Limits, build_chat
from rtchat.storage.memory import MemoryStorage
from tests.fakes import ManualClock, RecordingDelivery


@dataclass
class Parts:
    chat: Chat
    out: RecordingDelivery
    clock: ManualClock
    storage: MemoryStorage


MakeParts = Callable[[Limits], AbstractAsyncContextManager[Parts]]


@contextlib.asynccontextmanager
async def chat_with(limits: Limits) -> AsyncIterator[Parts]:
    storage, out, clock = MemoryStorage(), RecordingDelivery(), ManualClock()
    chat = build_chat(
        node="n1",
        storage=storage,
        presence=MemoryPresence(MemoryPresenceHub(clock=clock), "n1"),
        holds=MemoryNameHolds(clock, start_grace=0),
        limiters=Limiters.build(limits, MemoryRateLimiter),
        fanout=MemoryFanout(),
        delivery=out,
        clock=clock,
        limits=limits,
    )
    await chat.start(storage)
    try:
        yield Parts(chat, out, clock, storage)
    finally:
        await chat.close()
        await storage.close()


@pytest.fixture
async def parts() -> AsyncIterator[Parts]:
    async with chat_with(Limits(send_rate=1, send_burst=2, name_grace=30)) as made:
        yield made
