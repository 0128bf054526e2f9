"""One node's chat over the in-memory implementation of every port, with a manual clock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import pytest

from rtchat.service import Chat, Limits
from rtchat.storage.memory import MemoryStorage
from tests.fakes import ManualClock, RecordingDelivery, single_node_chat


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
    chat = single_node_chat(storage, out, clock, limits)
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
