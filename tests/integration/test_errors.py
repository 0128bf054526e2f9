"""Every error code a client can cause, over real connections, on every event that has it.

Each refused request is answered `{ok: false, error: {code, message}}` when it asked for
an acknowledgement and with an `error` event otherwise, and changes nothing: a sentinel
message afterwards shows that nobody heard of anything else. Two codes are server
faults that no request can cause: `internal` (test_server_faults.py damages a running
server's database to get it) and `unavailable` (a database server that cannot be
reached). An oversized packet gets no code at all: it closes the connection
(test_bad_input.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rtchat.domain.errors import ErrorCode
from rtchat.domain.rules import MAX_MESSAGE_LENGTH, MAX_SEARCH_QUERY, MAX_USERNAME_LENGTH
from rtchat.service import MAX_ROOMS_PAGE, MAX_SEARCH_PAGE
from rtchat.transport.events import CLIENT_EVENTS
from tests.support import ChatClient, Connect, ok, refused, sentinel

Request = tuple[str, Any]

# Raised by faults of the server or its database, not by anything a client sends (the
# cluster tests cut the database to see `unavailable`).
NOT_CLIENT_TRIGGERED = {ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE}
# Caused by clients, but elsewhere than this default server's Socket.IO events: the HTTP API's
# (test_http_api.py), a JWT-configured server's (test_jwt.py), and those that need a
# message of someone's first (test_message_log.py).
EXERCISED_ELSEWHERE = {
    ErrorCode.UNAUTHORIZED,
    ErrorCode.NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED,
    ErrorCode.TOKEN_EXPIRED,
    ErrorCode.NOT_AUTHOR,
    ErrorCode.MESSAGE_DELETED,
    ErrorCode.EDIT_WINDOW_PASSED,
}
# Caused by clients once a room has moderators, bans, mutes or blocks: test_moderation.py.
EXERCISED_IN_MODERATION = {
    ErrorCode.NOT_OWNER,
    ErrorCode.OUTRANKED,
    ErrorCode.BANNED,
    ErrorCode.MUTED,
    ErrorCode.BLOCKED,
}
MODERATION_EVENTS: list[Request] = [
    ("set-role", {"room": "dev", "username": "bob", "role": "moderator"}),
    ("kick", {"room": "dev", "username": "bob"}),
    ("ban", {"room": "dev", "username": "bob"}),
    ("unban", {"room": "dev", "username": "bob"}),
    ("mute", {"room": "general", "username": "bob", "seconds": 60}),
    ("unmute", {"room": "general", "username": "bob"}),
]
OBJECT_EVENTS = (
    "create-room",
    "join-room",
    "leave-room",
    "open-dm",
    "history",
    "sync",
    "mark-read",
    "search",
)
# Each with one wrong shape only: every shape for each would overrun the event rate.
OBJECT_MODERATION_EVENTS = (*(event for event, _ in MODERATION_EVENTS), "block", "unblock")
ROOM_EVENTS: list[Callable[[Any], Request]] = [
    lambda room: ("send-message", {"room": room, "text": "hi"}),
    lambda room: ("typing", {"room": room, "isTyping": True}),
    lambda room: ("join-room", {"room": room}),
    lambda room: ("leave-room", {"room": room}),
    lambda room: ("history", {"room": room, "before": 10}),
    lambda room: ("sync", {"rooms": {room: 0}}),
    lambda room: ("list-online", {"room": room}),
    lambda room: ("mark-read", {"room": room, "seq": 1}),
    lambda room: ("search", {"query": "hi", "room": room}),
    lambda room: ("edit-message", {"room": room, "id": "nope", "text": "hi"}),
    lambda room: ("delete-message", {"room": room, "id": "nope"}),
    lambda room: ("react", {"room": room, "id": "nope", "emoji": "👍"}),
]

# What alice, joined, may not do in a world where bob is joined too and owns `dev`.
CASES: dict[str, list[Request]] = {
    "invalid_payload": [
        *(
            (event, shape)
            for event in (*OBJECT_EVENTS, "list-online")
            for shape in ("general", 42, ["general"], None, True)
        ),
        ("send-message", {"room": "general", "text": "hi", "clientId": ""}),
        ("send-message", {"room": "general", "text": "hi", "clientId": "x" * 65}),
        ("send-message", {"room": "general", "text": "hi", "clientId": 7}),
        ("typing", "yes"),
        *((event, ["general"]) for event in OBJECT_MODERATION_EVENTS),
        ("typing", None),
        ("typing", {"room": "general", "isTyping": "yes"}),
        ("typing", {"room": "general"}),
        ("create-room", {"name": "ok", "topic": 5}),
        ("create-room", {"name": "ok", "topic": "x" * 201}),
        ("create-room", {"name": "ok", "topic": "bad\x00topic"}),
        ("history", {"room": "general", "before": -1}),
        ("user-joined", {"username": "alicia", "guest": "yes"}),
        ("list-rooms", 42),
        ("list-rooms", "general"),
        ("list-rooms", {"limit": 0}),
        ("list-rooms", {"limit": MAX_ROOMS_PAGE + 1}),
        ("history", {"room": "general", "before": "1"}),
        ("history", {"room": "general", "before": 10, "limit": 0}),
        ("history", {"room": "general", "before": 10, "limit": 101}),
        ("sync", {"rooms": "general"}),
        ("sync", {"rooms": ["general"]}),
        ("sync", {}),
        ("sync", {"rooms": {"general": -1}}),
        ("sync", {"rooms": {"general": "0"}}),
        ("sync", {"rooms": {"general": True}}),
        ("sync", {"rooms": {f"room-{i}": 0 for i in range(201)}}),
        ("mark-read", {"room": "general"}),
        ("mark-read", {"room": "general", "seq": -1}),
        ("mark-read", {"room": "general", "seq": "1"}),
        ("mark-read", {"room": "general", "seq": True}),
        ("search", {}),
        ("search", {"query": ""}),
        ("search", {"query": "   "}),
        ("search", {"query": "?!* ()"}),  # no word in it
        ("search", {"query": 42}),
        ("search", {"query": "x" * (MAX_SEARCH_QUERY + 1)}),
        ("search", {"query": "hi", "before": "not a cursor"}),
        ("search", {"query": "hi", "before": 5}),
        ("search", {"query": "hi", "limit": 0}),
        ("search", {"query": "hi", "limit": MAX_SEARCH_PAGE + 1}),
        ("send-message", {"room": "general", "text": "hi", "replyTo": 5}),
        ("edit-message", "hi"),
        ("edit-message", {"room": "general", "id": 5, "text": "hi"}),
        ("delete-message", {"room": "general", "id": "nope", "clientId": ""}),
        ("delete-message", None),
        ("react", {"room": "general", "id": "nope", "emoji": "👍", "on": "yes"}),
        ("react", {"room": "general", "id": ["nope"], "emoji": "👍"}),
    ],
    "message_not_found": [
        ("send-message", {"room": "general", "text": "hi", "replyTo": "nope"}),
        ("edit-message", {"room": "general", "id": "nope", "text": "hi"}),
        ("delete-message", {"room": "general", "id": "nope"}),
        ("react", {"room": "general", "id": "nope", "emoji": "👍", "on": False}),
    ],
    "invalid_emoji": [
        ("react", {"room": "general", "id": "nope", "emoji": "abc"}),
        ("react", {"room": "general", "id": "nope", "emoji": "👍👍"}),
        ("react", {"room": "general", "id": "nope", "emoji": ""}),
        ("react", {"room": "general", "id": "nope", "emoji": 5}),
        ("react", {"room": "general", "id": "nope"}),
    ],
    "invalid_username": [
        ("user-joined", 42),
        ("user-joined", ""),
        ("user-joined", {"username": 42}),
        ("user-joined", "аlice"),  # noqa: RUF001 (a Cyrillic a: two scripts)
        ("user-joined", {"username": "bοb", "guest": False}),  # noqa: RUF001 (a Greek o)
        ("user-joined", "x" * (MAX_USERNAME_LENGTH + 1)),
        ("open-dm", {"username": 42}),
        ("open-dm", {"username": "  "}),
        ("open-dm", {}),
    ],
    # The account asked for; without `guest: false` a held name makes a guest instead.
    "username_taken": [
        ("user-joined", {"username": "bob", "guest": False}),
        ("user-joined", {"username": " BOB ", "guest": False}),
        ("user-joined", {"username": "ｂｏｂ", "guest": False}),  # noqa: RUF001 (fullwidth)
    ],
    "invalid_message": [
        ("send-message", ""),
        ("send-message", {"room": "general", "text": "   "}),
        ("send-message", {"room": "general", "text": 42}),
        ("send-message", {"room": "general"}),
        ("send-message", {"room": "general", "text": "x" * (MAX_MESSAGE_LENGTH + 1)}),
        ("edit-message", {"room": "general", "id": "nope", "text": "  "}),
        ("edit-message", {"room": "general", "id": "nope"}),
    ],
    "room_not_found": [
        *(request("nowhere") for request in ROOM_EVENTS),
        ("join-room", {"room": "dm:nobody:nowhere"}),
        ("send-message", {"room": "dm:nobody:nowhere", "text": "hi"}),
    ],
    "room_exists": [
        ("create-room", {"name": "dev"}),
        ("create-room", {"name": "DEV"}),
        ("create-room", {"name": "general"}),
    ],
    "invalid_room_name": [
        *(request("Not valid!") for request in ROOM_EVENTS),
        ("create-room", {"name": "Not valid!"}),
        ("join-room", {"room": 42}),
        ("join-room", {"room": "dm:" + "x" * 80}),
        ("list-rooms", {"after": "Not valid!"}),
    ],
    "forbidden": [
        *(request("dev") for request in ROOM_EVENTS if request("dev")[0] != "join-room"),
        ("leave-room", {"room": "general"}),
        ("open-dm", {"username": "alice"}),
        ("open-dm", {"username": "ALICE"}),
    ],
    "user_not_found": [
        ("open-dm", {"username": "nobody"}),
        ("open-dm", {"username": " Nobody "}),
        ("block", {"username": "nobody"}),
    ],
    # alice is no moderator of bob's `dev`, nor of `general`.
    "not_moderator": MODERATION_EVENTS,
    "unknown_event": [
        ("no-such-event", None),
        ("SEND-MESSAGE", "hi"),
        ("send_message", "hi"),
        ("receive-message", {"message": "hi"}),  # a server-to-client event
    ],
    # Without a JWT key no connection signed in with a site token: none to refresh.
    "invalid_token": [("refresh-token", {"token": "a.b.c"}), ("refresh-token", {"token": 1})],
}

# Valid once joined; before `user-joined` every one of them is `not_joined`.
NEEDS_JOIN: list[Request] = [
    ("send-message", "hi"),
    ("send-message", {"room": "general", "text": "hi"}),
    ("typing", True),
    ("typing", {"room": "general", "isTyping": True}),
    ("create-room", {"name": "dev"}),
    ("join-room", {"room": "general"}),
    ("leave-room", {"room": "dev"}),
    ("open-dm", {"username": "alice"}),
    ("history", {"room": "general", "before": 10}),
    ("sync", {"rooms": {"general": 0}}),
    ("list-online", {"room": "general"}),
    ("mark-read", {"room": "general", "seq": 1}),
    ("search", {"query": "hi"}),
    ("edit-message", {"room": "general", "id": "x", "text": "hi"}),
    ("delete-message", {"room": "general", "id": "x"}),
    ("react", {"room": "general", "id": "x", "emoji": "👍"}),
    *MODERATION_EVENTS,
    ("block", {"username": "bob"}),
    ("unblock", {"username": "bob"}),
]


@pytest.fixture
async def world(clients: Connect) -> tuple[ChatClient, ChatClient]:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    ok(await bob.call("create-room", {"name": "dev", "topic": "bob's"}))
    await alice.wait_for("room-created")
    return alice, bob


# Cases per connection: each case is an event, and a connection's burst of events (the
# message burst times EVENT_RATE_FACTOR, 100 by default) must outlast them and the checks.
PER_CONNECTION = 40
BATCHES = [
    (code, start) for code in sorted(CASES) for start in range(0, len(CASES[code]), PER_CONNECTION)
]


@pytest.mark.parametrize(("code", "start"), BATCHES)
async def test_each_refused_request_gets_its_code_and_changes_nothing(
    world: tuple[ChatClient, ChatClient], code: str, start: int
) -> None:
    alice, bob = world
    rooms_before = ok(await bob.call("list-rooms"))
    alice.received.clear()
    bob.received.clear()

    for i, request in enumerate(CASES[code][start : start + PER_CONNECTION]):
        await refused(alice, request, code, no_ack=i == 0)

    marker = await sentinel(alice, bob)
    assert bob.received == [("receive-message", marker)]
    assert [e for e, _ in alice.received if e not in ("error", "receive-message")] == []
    # The rooms are as they were, but for the sentinel in general.
    for room in rooms_before["rooms"]:
        if room["name"] == "general":
            room["lastSeq"] = marker["seq"]
            room["unread"] += 1  # alice's sentinel, which bob has not read
    assert ok(await bob.call("list-rooms")) == rooms_before
    assert ok(await alice.call("session"))["user"]["username"] == "alice"


async def test_every_event_needs_user_joined_first(clients: Connect) -> None:
    alice, stranger = await clients(), await clients()
    await alice.join("alice")
    alice.received.clear()
    for request in NEEDS_JOIN:
        await refused(stranger, request, "not_joined", no_ack=True)
    # Nothing was posted, typed or created.
    marker = await sentinel(alice, stranger)
    assert alice.received == [("receive-message", marker)]
    assert [r["name"] for r in ok(await stranger.call("list-rooms"))["rooms"]] == ["general"]


async def test_rapid_sends_beyond_the_burst_are_refused_and_not_stored(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    ok(await alice.call("create-room", {"name": "spam"}))
    ok(await bob.call("join-room", {"room": "spam"}))

    answers = [
        await alice.call("send-message", {"room": "spam", "text": f"spam {i}"}) for i in range(40)
    ]
    accepted = [a["data"] for a in answers if a["ok"]]
    refused = [a["error"] for a in answers if not a["ok"]]
    assert {e["code"] for e in refused} == {"rate_limited"}
    assert 20 <= len(accepted) < 40, "a burst of 20, then about 10 a second"

    # Only what was accepted is stored, numbered without gaps, and delivered.
    assert [m["seq"] for m in accepted] == list(range(1, len(accepted) + 1))
    stored = ok(await bob.call("history", {"room": "spam", "before": 10**9, "limit": 100}))
    assert stored == {"messages": accepted, "hasMore": False}
    rooms = {r["name"]: r for r in ok(await bob.call("list-rooms"))["rooms"]}
    assert rooms["spam"]["lastSeq"] == len(accepted)
    await sentinel(bob, bob)
    assert [m for m in bob.events("receive-message") if m["room"] == "spam"] == accepted

    # The limit is per connection: bob was never limited.
    assert (await bob.call("send-message", {"room": "spam", "text": "bob's turn"}))["ok"]


async def test_an_event_flood_is_refused_for_that_connection_only(clients: Connect) -> None:
    flooder, bob = await clients(), await clients()
    await flooder.join("flooder")
    await bob.join("bob")
    answers = [
        await flooder.call("typing", {"room": "general", "isTyping": True}) for _ in range(150)
    ]
    refused = [a["error"]["code"] for a in answers if not a["ok"]]
    assert refused
    assert set(refused) == {"rate_limited"}
    for _ in range(50):
        await flooder.sio.emit("list-rooms")
    await flooder.wait_for("error", lambda d: d["code"] == "rate_limited")
    await sentinel(bob, flooder)
    assert bob.events("error") == []


def test_every_client_triggerable_code_is_exercised_here() -> None:
    exercised = {*CASES, "not_joined", "rate_limited"}
    assert exercised == {str(code) for code in ErrorCode} - NOT_CLIENT_TRIGGERED - (
        EXERCISED_ELSEWHERE | EXERCISED_IN_MODERATION
    )


def test_every_code_seen_here_is_documented_for_its_event() -> None:
    # `unknown_event` belongs to no event; `rate_limited` (the event flood) to all of them.
    documented = {spec.name: set(spec.errors) for spec in CLIENT_EVENTS}
    seen = {(event, code) for code, requests in CASES.items() for event, _ in requests}
    seen |= {(event, "not_joined") for event, _ in NEEDS_JOIN}
    undocumented = {
        (event, code)
        for event, code in seen
        if code != "unknown_event" and code not in documented[event]
    }
    assert undocumented == set()
