"""The service's use cases against the in-memory implementations of every port."""

from __future__ import annotations

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import (
    MessagePosted,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import ConnectionId
from tests.unit.conftest import Parts

A, B, C = ConnectionId("a"), ConnectionId("b"), ConnectionId("c")


async def test_join_post_type_leave(parts: Parts) -> None:
    chat, out, clock = parts.chat, parts.out, parts.clock
    await chat.identity.connect(A)
    await chat.identity.connect(B)
    view = await chat.identity.join(A, " alice ")
    alice = view.user
    assert alice is not None
    assert alice.username == "alice"
    assert view.token
    assert [s.room.name for s in view.rooms] == ["general"]
    assert [e.user for e in out.received(B, UserConnected)] == [alice]  # type: ignore[attr-defined]

    message = await chat.messages.post(A, None, " hi ")
    assert (message.text, message.seq, message.room) == ("hi", 1, "general")
    assert message.timestamp == clock.now()
    assert message.sent_from == A  # the seed's userId: the connection it came from
    assert out.received(B, MessagePosted) == [MessagePosted(message)]

    await chat.typing.report(A, "general", True)
    assert out.received(A, UserTyping) == []
    assert out.received(B, UserTyping) == [UserTyping(alice, "general", True, A)]

    await chat.identity.disconnect(A)
    assert [e.user for e in out.received(B, UserDisconnected)] == [alice]  # type: ignore[attr-defined]


async def test_sending_needs_a_join(parts: Parts) -> None:
    await parts.chat.identity.connect(A)
    for call in (parts.chat.messages.post(A, None, "x"), parts.chat.typing.report(A, None, True)):
        with pytest.raises(ChatError) as caught:
            await call
        assert caught.value.code is ErrorCode.NOT_JOINED


async def test_rate_limit_refills(parts: Parts) -> None:
    chat, clock = parts.chat, parts.clock
    await chat.identity.connect(A)
    await chat.identity.join(A, "alice")
    await chat.messages.post(A, None, "1")
    await chat.messages.post(A, None, "2")
    with pytest.raises(ChatError) as caught:
        await chat.messages.post(A, None, "3")
    assert caught.value.code is ErrorCode.RATE_LIMITED
    clock.advance(1.0)
    assert (await chat.messages.post(A, None, "4")).seq == 3


async def test_token_reconnect_is_the_same_user_and_two_tabs_count_once(parts: Parts) -> None:
    chat, out = parts.chat, parts.out
    await chat.identity.connect(A)
    view = await chat.identity.join(A, "alice")
    await chat.identity.connect(C)
    await chat.identity.join(C, "carol")
    assert await chat.identity.connect(B, view.token) == view.user
    # The second tab did not announce alice again.
    assert len(out.received(C, UserConnected)) == 1
    await chat.identity.disconnect(A)
    assert out.received(C, UserDisconnected) == []
    await chat.identity.disconnect(B)
    assert len(out.received(C, UserDisconnected)) == 1
    assert await chat.identity.connect(ConnectionId("bogus"), "not-a-token") is None


async def test_names_are_held_then_released_after_the_grace(parts: Parts) -> None:
    # Asked for as an account (`guest: false`): refused while held, not made a guest.
    chat, clock = parts.chat, parts.clock
    await chat.identity.connect(A)
    first = await chat.identity.join(A, "alice")
    await chat.identity.connect(B)
    with pytest.raises(ChatError) as caught:
        await chat.identity.join(B, "ALICE", guest=False)
    assert caught.value.code is ErrorCode.USERNAME_TAKEN
    await chat.identity.disconnect(A)
    with pytest.raises(ChatError):
        await chat.identity.join(B, "alice", guest=False)  # still within the grace
    clock.advance(31)
    second = await chat.identity.join(B, "alice", guest=False)
    assert second.user != first.user
    # The old token no longer names anyone.
    assert await chat.identity.connect(C, first.token) is None


async def test_typing_is_throttled_and_expires(parts: Parts) -> None:
    chat, out, clock = parts.chat, parts.out, parts.clock
    await chat.identity.connect(A)
    await chat.identity.join(A, "alice")
    await chat.identity.connect(B)
    await chat.identity.join(B, "bob")
    for _ in range(10):
        await chat.typing.report(A, None, True)
        clock.advance(0.1)
    assert len(out.received(B, UserTyping)) == 1  # ten reports in a second: one passed on
    clock.advance(0.1)
    await chat.typing.report(A, None, True)
    assert len(out.received(B, UserTyping)) == 2  # a refresh after a second
    clock.advance(4.9)
    chat.typing.expire()
    assert len(out.received(B, UserTyping)) == 2  # not yet stale
    clock.advance(0.1)
    chat.typing.expire()
    last = out.received(B, UserTyping)[-1]
    assert isinstance(last, UserTyping)
    assert (last.user.username, last.room, last.is_typing) == ("alice", "general", False)


async def test_idempotent_post_is_not_broadcast_twice(parts: Parts) -> None:
    chat, out = parts.chat, parts.out
    await chat.identity.connect(A)
    await chat.identity.join(A, "alice")
    first = await chat.messages.post(A, "general", "once", "c-1")
    again = await chat.messages.post(A, "general", "once", "c-1")
    assert first == again
    assert len(out.received(A, MessagePosted)) == 1
