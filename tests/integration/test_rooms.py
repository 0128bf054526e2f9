"""Rooms over real connections: create, join, leave, list, and who hears what.

Absence is proved with a sentinel: a message in `general`, which every connection
hears, sent after the event in question. One connection's events arrive in the order
the server sent them, so once a client has the sentinel it has everything sent to it
before.
"""

from __future__ import annotations

from typing import Any

from tests.support import ChatClient, Connect, error_code, ok, sentinel


def _outside_general(client: ChatClient) -> list[Any]:
    return [m for m in client.events("receive-message") if m["room"] != "general"]


async def test_create_room_answers_room_info_and_tells_everyone(clients: Connect) -> None:
    alice, bob, lurker = await clients(), await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")

    room = ok(await alice.call("create-room", {"name": "Lobby", "topic": "  say hi  "}))["room"]
    assert room == {
        "name": "lobby",
        "kind": "room",
        "topic": "say hi",
        "memberCount": 1,
        "lastSeq": 0,
        "role": "owner",  # the creator's, in its own answer only
    }
    public = {k: v for k, v in room.items() if k != "role"}
    for client in (alice, bob, lurker):
        assert await client.wait_for("room-created") == {"room": public}

    # The creator is its first member: it posts at once and hears its own message.
    sent = ok(await alice.call("send-message", {"room": "lobby", "text": "first"}))
    assert (sent["room"], sent["seq"], sent["username"]) == ("lobby", 1, "alice")
    assert await alice.wait_for("receive-message", lambda d: d["room"] == "lobby") == sent


async def test_create_room_without_topic(clients: Connect) -> None:
    alice = await clients()
    await alice.join("alice")
    room = ok(await alice.call("create-room", {"name": "quiet"}))["room"]
    assert room["topic"] == ""


async def test_join_room_gives_recent_messages_members_and_announces(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    alice_user = (await alice.join("alice"))["user"]
    bob_user = (await bob.join("bob"))["user"]
    ok(await alice.call("create-room", {"name": "dev", "topic": "code"}))
    posted = [
        ok(await alice.call("send-message", {"room": "dev", "text": f"m{i}"})) for i in range(3)
    ]

    joined = ok(await bob.call("join-room", {"room": "dev"}))
    assert joined["room"] == {
        "name": "dev",
        "kind": "room",
        "topic": "code",
        "memberCount": 2,
        "lastSeq": 3,
        "role": "member",
    }
    assert joined["roles"] == {alice_user["accountId"]: "owner"}
    assert joined["messages"] == posted
    assert [m["seq"] for m in joined["messages"]] == [1, 2, 3]
    assert joined["hasMore"] is False
    assert joined["members"] == [alice_user, bob_user]
    assert await alice.wait_for("member-joined") == {"room": "dev", "user": bob_user}

    # Joining again is harmless: same answer, no second announcement.
    again = ok(await bob.call("join-room", {"room": "DEV"}))
    assert again["room"]["memberCount"] == 2
    await sentinel(bob, alice)
    assert len(alice.events("member-joined")) == 1


async def test_room_messages_and_typing_reach_its_members_only(clients: Connect) -> None:
    alice, bob, carol, lurker = [await clients() for _ in range(4)]
    alice_user = (await alice.join("alice"))["user"]
    await bob.join("bob")
    await carol.join("carol")
    ok(await alice.call("create-room", {"name": "dev"}))
    ok(await bob.call("join-room", {"room": "dev"}))

    sent = ok(await alice.call("send-message", {"room": "dev", "text": "members only"}))
    for member in (alice, bob):
        assert await member.wait_for("receive-message", lambda d: d["room"] == "dev") == sent
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    typing = await bob.wait_for("user-typing", lambda d: d["room"] == "dev")
    assert typing == {
        "username": "alice",
        "isTyping": True,
        "userId": alice.sio.get_sid(),
        "accountId": alice_user["accountId"],
        "guest": False,
        "room": "dev",
    }

    await sentinel(bob, carol, lurker)
    for outsider in (carol, lurker):
        assert _outside_general(outsider) == []
        assert outsider.events("user-typing") == []
        assert outsider.events("member-joined") == []


async def test_leave_room_announces_and_stops_delivery(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    bob_user = (await bob.join("bob"))["user"]
    ok(await alice.call("create-room", {"name": "dev"}))
    ok(await bob.call("join-room", {"room": "dev"}))

    assert ok(await bob.call("leave-room", {"room": "dev"})) == {"room": "dev"}
    assert await alice.wait_for("member-left") == {"room": "dev", "user": bob_user}

    ok(await alice.call("send-message", {"room": "dev", "text": "after bob left"}))
    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    await sentinel(alice, bob)
    assert _outside_general(bob) == []
    assert bob.events("user-typing") == []

    # No longer a member: posting and leaving again are refused.
    assert error_code(await bob.call("send-message", {"room": "dev", "text": "hi?"})) == "forbidden"
    assert error_code(await bob.call("leave-room", {"room": "dev"})) == "forbidden"
    rooms = {r["name"]: r for r in ok(await bob.call("list-rooms"))["rooms"]}
    assert rooms["dev"]["memberCount"] == 1

    # Joining again brings the history back, the missed message included.
    rejoined = ok(await bob.call("join-room", {"room": "dev"}))
    assert [m["message"] for m in rejoined["messages"]] == ["after bob left"]


async def test_list_rooms_shows_public_rooms_with_topic_and_member_count(clients: Connect) -> None:
    alice, bob, carol, lurker = [await clients() for _ in range(4)]
    await alice.join("alice")
    await bob.join("bob")
    await carol.join("carol")
    ok(await alice.call("create-room", {"name": "alpha", "topic": "first"}))
    ok(await bob.call("create-room", {"name": "beta"}))
    ok(await carol.call("join-room", {"room": "alpha"}))
    ok(await alice.call("send-message", {"room": "alpha", "text": "hello"}))
    ok(await alice.call("open-dm", {"username": "bob"}))  # private: never listed

    expected = {
        "alpha": {
            "name": "alpha",
            "kind": "room",
            "topic": "first",
            "memberCount": 2,
            "lastSeq": 1,
        },
        "beta": {"name": "beta", "kind": "room", "topic": "", "memberCount": 1, "lastSeq": 0},
    }
    # No need to have joined to look; a member also sees what it has not read.
    carol_counts = {"alpha": {"unread": 1, "mentions": 0}, "beta": {}}
    for client, counts in ((carol, carol_counts), (lurker, {"alpha": {}, "beta": {}})):
        rooms = {r["name"]: r for r in ok(await client.call("list-rooms"))["rooms"]}
        assert set(rooms) == {"alpha", "beta", "general"}
        assert {name: rooms[name] for name in expected} == {
            name: {**room, **counts[name]} for name, room in expected.items()
        }
        assert rooms["general"]["memberCount"] == 3


INVALID_ROOM_NAMES: list[Any] = [
    "",
    "   ",
    "x" * 33,
    "two words",
    "émile",
    "a.b",
    "#dev",
    "dm:someone",
    "new\nline",
    42,
    None,
    ["dev"],
    {"name": "dev"},
]


async def test_invalid_room_names_are_refused(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    for name in INVALID_ROOM_NAMES:
        answer = await alice.call("create-room", {"name": name})
        assert error_code(answer) == "invalid_room_name", name
    rooms = ok(await alice.call("list-rooms"))["rooms"]
    assert [r["name"] for r in rooms] == ["general"]
    await sentinel(alice, bob)
    assert bob.events("room-created") == []


async def test_room_names_are_trimmed_and_lowercased(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    room = ok(await alice.call("create-room", {"name": "  Dev-Team_2  "}))["room"]
    assert room["name"] == "dev-team_2"
    longest = ok(await alice.call("create-room", {"name": "Z" * 32}))["room"]
    assert longest["name"] == "z" * 32

    # Every later reference folds the same way.
    assert error_code(await bob.call("create-room", {"name": "DEV-TEAM_2"})) == "room_exists"
    joined = ok(await bob.call("join-room", {"room": "DEV-Team_2"}))
    assert joined["room"]["name"] == "dev-team_2"
    sent = ok(await bob.call("send-message", {"room": " Dev-Team_2 ", "text": "hi"}))
    assert sent["room"] == "dev-team_2"


async def test_a_taken_room_name_is_refused(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    created = ok(await alice.call("create-room", {"name": "dup", "topic": "mine"}))["room"]
    for name in ("dup", "DUP", "general", "General"):
        assert error_code(await bob.call("create-room", {"name": name, "topic": "theirs"})) == (
            "room_exists"
        )
    rooms = {r["name"]: r for r in ok(await bob.call("list-rooms"))["rooms"]}
    # Untouched: same topic, bob not made a member (a listing names no one's role).
    assert rooms["dup"] == {k: v for k, v in created.items() if k != "role"}
    await sentinel(alice, bob)
    assert len(bob.events("room-created")) == 1


async def test_general_cannot_be_left(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    assert error_code(await alice.call("leave-room", {"room": "general"})) == "forbidden"
    await sentinel(bob, alice)  # alice still hears general
    members = ok(await bob.call("join-room", {"room": "general"}))["members"]
    assert [u["username"] for u in members] == ["alice", "bob"]
    assert bob.events("member-left") == []


async def test_seed_clients_still_land_in_general(clients: Connect) -> None:
    # A seed client knows nothing of rooms: plain text and a bare flag go to `general`,
    # and everyone hears them, whatever other rooms they are in.
    seed, alice = await clients(), await clients()
    seed_user = (await seed.join("seed"))["user"]
    await alice.join("alice")
    ok(await alice.call("create-room", {"name": "dev"}))

    sent = ok(await seed.call("send-message", "plain text"))
    assert (sent["room"], sent["message"]) == ("general", "plain text")
    assert await alice.wait_for("receive-message", lambda d: d["message"] == "plain text") == sent

    ok(await seed.call("typing", True))
    typing = await alice.wait_for("user-typing")
    assert typing == {
        "username": "seed",
        "isTyping": True,
        "userId": seed.sio.get_sid(),
        "accountId": seed_user["accountId"],
        "guest": False,
        "room": "general",
    }

    # The object form without a room is general too, and the seed client hears it.
    room_less = ok(await alice.call("send-message", {"text": "no room given"}))
    assert room_less["room"] == "general"
    await seed.wait_for("receive-message", lambda d: d["message"] == "no room given")

    # Messages in other rooms never reach the seed client.
    ok(await alice.call("send-message", {"room": "dev", "text": "elsewhere"}))
    await sentinel(alice, seed)
    assert _outside_general(seed) == []
