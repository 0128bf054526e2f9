"""The service's use cases against in-memory ports."""

from __future__ import annotations

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import (
    MessagePosted,
    OnlineUsers,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import ConnectionId
from rtchat.service import ChatService, Limits
from tests.fakes import ManualClock, RecordingBroadcaster

A, B = ConnectionId("a"), ConnectionId("b")


@pytest.fixture
def parts() -> tuple[ChatService, RecordingBroadcaster, ManualClock]:
    broadcaster, clock = RecordingBroadcaster(), ManualClock()
    return ChatService(broadcaster, clock, Limits(send_rate=1, send_burst=2)), broadcaster, clock


async def test_join_post_type_leave(parts: tuple[ChatService, RecordingBroadcaster, ManualClock]):
    service, out, clock = parts
    await service.connect(A)
    await service.connect(B)
    alice = await service.join(A, " alice ")
    assert alice.username == "alice"
    assert [e.user for e in out.received(B, UserConnected)] == [alice]  # type: ignore[attr-defined]
    online = out.received(A, OnlineUsers)
    assert [u.username for u in online[0].users] == ["alice"]  # type: ignore[attr-defined]

    message = await service.post(A, " hi ")
    assert message.text == "hi"
    assert message.timestamp == clock.now()
    assert (
        out.received(A, MessagePosted) == out.received(B, MessagePosted) == [MessagePosted(message)]
    )

    await service.typing(A, True)
    assert out.received(A, UserTyping) == []
    assert out.received(B, UserTyping) == [UserTyping(alice, "general", True)]

    await service.disconnect(A)
    assert [e.user for e in out.received(B, UserDisconnected)] == [alice]  # type: ignore[attr-defined]
    assert service.online_users() == []


async def test_sending_needs_a_join(parts: tuple[ChatService, RecordingBroadcaster, ManualClock]):
    service, _, _ = parts
    await service.connect(A)
    for call in (service.post(A, "x"), service.typing(A, True)):
        with pytest.raises(ChatError) as caught:
            await call
        assert caught.value.code is ErrorCode.NOT_JOINED


async def test_rate_limit_refills(parts: tuple[ChatService, RecordingBroadcaster, ManualClock]):
    service, out, clock = parts
    await service.connect(A)
    await service.join(A, "alice")
    await service.post(A, "1")
    await service.post(A, "2")
    with pytest.raises(ChatError) as caught:
        await service.post(A, "3")
    assert caught.value.code is ErrorCode.RATE_LIMITED
    clock.advance(1.0)
    await service.post(A, "4")
    assert [e.message.text for e in out.received(A, MessagePosted)] == ["1", "2", "4"]  # type: ignore[attr-defined]


async def test_rejoin_under_a_new_name_keeps_the_id(
    parts: tuple[ChatService, RecordingBroadcaster, ManualClock],
) -> None:
    service, _, _ = parts
    await service.connect(A)
    first = await service.join(A, "alice")
    second = await service.join(A, "alicia")
    assert first.id == second.id
    assert second.username == "alicia"
