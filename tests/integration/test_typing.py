"""Typing over real connections: throttled, expired, stopped on send, never echoed.

Typing happens in `dev`, so a sentinel message in `general` (which every connection
hears) does not stop it; once a client has the sentinel it has every event sent to it
before.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import ChatClient, Connect, ok, sentinel


def _flags(client: ChatClient, room: str = "dev") -> list[bool]:
    return [t["isTyping"] for t in client.events("user-typing") if t["room"] == room]


async def _pair(clients: Connect) -> tuple[ChatClient, ChatClient, dict[str, Any]]:
    """alice and bob, both in `dev`; returns alice's user."""
    alice, bob = await clients(), await clients()
    alice_user = (await alice.join("alice"))["user"]
    await bob.join("bob")
    ok(await alice.call("create-room", {"name": "dev"}))
    ok(await bob.call("join-room", {"room": "dev"}))
    return alice, bob, alice_user


@pytest.mark.serial
async def test_repeated_typing_is_forwarded_at_most_once_a_second(clients: Connect) -> None:
    alice, bob, alice_user = await _pair(clients)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(10):
        ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    await sentinel(alice, bob)
    assert loop.time() - started < 1.0, "the burst must fit in one throttle window"
    assert bob.events("user-typing") == [
        {
            "username": "alice",
            "isTyping": True,
            "userId": alice.sio.get_sid(),
            "accountId": alice_user["accountId"],
            "guest": False,
            "room": "dev",
        }
    ]

    # Once the second has passed, a report that is still coming is passed on again.
    await asyncio.sleep(1.05)
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    await sentinel(alice, bob)
    assert _flags(bob) == [True, True]


async def test_typing_never_stopped_expires(clients: Connect) -> None:
    alice, bob, alice_user = await _pair(clients)
    loop = asyncio.get_running_loop()
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    started = loop.time()
    await bob.wait_for("user-typing", lambda d: d["isTyping"])
    # 5 s without a refresh, noticed by a sweep that runs every second.
    stopped = await bob.wait_for("user-typing", lambda d: not d["isTyping"], within=8)
    assert 4.5 <= loop.time() - started <= 7.5
    assert stopped == {
        "username": "alice",
        "isTyping": False,
        "userId": alice.sio.get_sid(),
        "accountId": alice_user["accountId"],
        "guest": False,
        "room": "dev",
    }
    await sentinel(bob, alice, bob)
    assert _flags(bob) == [True, False]
    assert alice.events("user-typing") == []


async def test_sending_stops_typing(clients: Connect) -> None:
    alice, bob, _ = await _pair(clients)
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    await bob.wait_for("user-typing", lambda d: d["isTyping"])
    ok(await alice.call("send-message", {"room": "dev", "text": "done typing"}))
    await bob.wait_for("user-typing", lambda d: not d["isTyping"])

    # Not typing any more: another message, or a stop, sends nothing.
    ok(await alice.call("send-message", {"room": "dev", "text": "again"}))
    ok(await alice.call("typing", {"room": "dev", "isTyping": False}))
    await sentinel(alice, bob)
    assert _flags(bob) == [True, False]


async def test_an_explicit_stop_is_forwarded_at_once(clients: Connect) -> None:
    alice, bob, _ = await _pair(clients)
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    ok(await alice.call("typing", {"room": "dev", "isTyping": False}))
    # A new start right after a stop is not held back by the throttle.
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    await sentinel(alice, bob)
    assert _flags(bob) == [True, False, True]


async def test_typing_is_per_room(clients: Connect) -> None:
    alice, bob, _ = await _pair(clients)
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    ok(await alice.call("typing", True))  # general, the seed's form
    ok(await alice.call("send-message", "sent in general"))  # stops general only
    await sentinel(bob, bob)
    assert _flags(bob, "general") == [True, False]
    assert _flags(bob, "dev") == [True]


async def test_none_of_the_typists_tabs_hear_it(clients: Connect) -> None:
    tab1, bob, _ = await _pair(clients)
    token = ok(await tab1.call("session"))["token"]
    tab2 = await clients(auth={"token": token})

    ok(await tab1.call("typing", {"room": "dev", "isTyping": True}))
    await bob.wait_for("user-typing", lambda d: d["isTyping"])
    # Typing is the user's, not the tab's: the other tab's stop ends it.
    ok(await tab2.call("typing", {"room": "dev", "isTyping": False}))
    await bob.wait_for("user-typing", lambda d: not d["isTyping"])
    ok(await tab1.call("typing", {"room": "dev", "isTyping": True}))
    ok(await tab1.call("send-message", {"room": "dev", "text": "sent"}))  # stops it again

    await sentinel(bob, tab1, tab2)
    assert _flags(bob) == [True, False, True, False]
    assert tab1.events("user-typing") == []
    assert tab2.events("user-typing") == []


async def test_a_typist_who_leaves_stops_typing(clients: Connect) -> None:
    alice, bob, _ = await _pair(clients)
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    await bob.wait_for("user-typing", lambda d: d["isTyping"])
    await alice.close()
    await bob.wait_for("user-typing", lambda d: not d["isTyping"])
    await bob.wait_for("user-disconnected")
    assert _flags(bob) == [True, False]


async def test_a_typist_who_leaves_the_room_stops_typing_there(clients: Connect) -> None:
    alice, bob, _ = await _pair(clients)
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    await bob.wait_for("user-typing", lambda d: d["isTyping"])
    ok(await alice.call("leave-room", {"room": "dev"}))
    await bob.wait_for("user-typing", lambda d: not d["isTyping"])
    await sentinel(bob, alice)
    assert _flags(bob) == [True, False]
    assert alice.events("user-typing") == []
