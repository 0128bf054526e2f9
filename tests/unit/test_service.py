"""The service's use cases against the in-memory implementations of every port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import (
    MessagePosted,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import ConnectionId
from rtchat.presence.memory import MemoryPresence
from rtchat.service import ChatService, Limits
from rtchat.storage.memory import MemoryStorage
from tests.fakes import ManualClock, RecordingBroadcaster

A, B, C = ConnectionId("a"), ConnectionId("b"), ConnectionId("c")


@dataclass
class Parts:
    service: ChatService
    out: RecordingBroadcaster
    clock: ManualClock


@pytest.fixture
async def parts() -> AsyncIterator[Parts]:
    storage, out, clock = MemoryStorage(), RecordingBroadcaster(), ManualClock()
    service = ChatService(
        storage, MemoryPresence(), out, clock, Limits(send_rate=1, send_burst=2, name_grace=30)
    )
    await service.start()
    yield Parts(service, out, clock)
    await storage.close()


async def test_join_post_type_leave(parts: Parts) -> None:
    service, out, clock = parts.service, parts.out, parts.clock
    await service.connect(A)
    await service.connect(B)
    view = await service.join(A, " alice ")
    alice = view.user
    assert alice is not None
    assert alice.username == "alice"
    assert view.token
    assert [s.room.name for s in view.rooms] == ["general"]
    assert [e.user for e in out.received(B, UserConnected)] == [alice]  # type: ignore[attr-defined]

    message = await service.post(A, None, " hi ")
    assert (message.text, message.seq, message.room) == ("hi", 1, "general")
    assert message.timestamp == clock.now()
    assert out.received(B, MessagePosted) == [MessagePosted(message)]

    await service.typing(A, "general", True)
    assert out.received(A, UserTyping) == []
    assert out.received(B, UserTyping) == [UserTyping(alice, "general", True)]

    await service.disconnect(A)
    assert [e.user for e in out.received(B, UserDisconnected)] == [alice]  # type: ignore[attr-defined]


async def test_sending_needs_a_join(parts: Parts) -> None:
    await parts.service.connect(A)
    for call in (parts.service.post(A, None, "x"), parts.service.typing(A, None, True)):
        with pytest.raises(ChatError) as caught:
            await call
        assert caught.value.code is ErrorCode.NOT_JOINED


async def test_rate_limit_refills(parts: Parts) -> None:
    service, clock = parts.service, parts.clock
    await service.connect(A)
    await service.join(A, "alice")
    await service.post(A, None, "1")
    await service.post(A, None, "2")
    with pytest.raises(ChatError) as caught:
        await service.post(A, None, "3")
    assert caught.value.code is ErrorCode.RATE_LIMITED
    clock.advance(1.0)
    assert (await service.post(A, None, "4")).seq == 3


async def test_token_reconnect_is_the_same_user_and_two_tabs_count_once(parts: Parts) -> None:
    service, out = parts.service, parts.out
    await service.connect(A)
    view = await service.join(A, "alice")
    await service.connect(C)
    await service.join(C, "carol")
    assert await service.connect(B, view.token) == view.user
    # The second tab did not announce alice again.
    assert len(out.received(C, UserConnected)) == 1
    await service.disconnect(A)
    assert out.received(C, UserDisconnected) == []
    await service.disconnect(B)
    assert len(out.received(C, UserDisconnected)) == 1
    assert await service.connect(ConnectionId("bogus"), "not-a-token") is None


async def test_names_are_held_then_released_after_the_grace(parts: Parts) -> None:
    service, clock = parts.service, parts.clock
    await service.connect(A)
    first = await service.join(A, "alice")
    await service.connect(B)
    with pytest.raises(ChatError) as caught:
        await service.join(B, "ALICE")
    assert caught.value.code is ErrorCode.USERNAME_TAKEN
    await service.disconnect(A)
    with pytest.raises(ChatError):
        await service.join(B, "alice")  # still within the grace
    clock.advance(31)
    second = await service.join(B, "alice")
    assert second.user != first.user
    # The old token no longer names anyone.
    assert await service.connect(C, first.token) is None


async def test_typing_is_throttled_and_expires(parts: Parts) -> None:
    service, out, clock = parts.service, parts.out, parts.clock
    await service.connect(A)
    await service.join(A, "alice")
    await service.connect(B)
    await service.join(B, "bob")
    for _ in range(10):
        await service.typing(A, None, True)
        clock.advance(0.1)
    assert len(out.received(B, UserTyping)) == 1  # ten reports in a second: one passed on
    clock.advance(0.1)
    await service.typing(A, None, True)
    assert len(out.received(B, UserTyping)) == 2  # a refresh after a second
    clock.advance(4.9)
    await service.expire_typing()
    assert len(out.received(B, UserTyping)) == 2  # not yet stale
    clock.advance(0.1)
    await service.expire_typing()
    last = out.received(B, UserTyping)[-1]
    assert isinstance(last, UserTyping)
    assert (last.user.username, last.room, last.is_typing) == ("alice", "general", False)


async def test_idempotent_post_is_not_broadcast_twice(parts: Parts) -> None:
    service, out = parts.service, parts.out
    await service.connect(A)
    await service.join(A, "alice")
    first = await service.post(A, "general", "once", "c-1")
    again = await service.post(A, "general", "once", "c-1")
    assert first == again
    assert len(out.received(A, MessagePosted)) == 1
