"""Direct messages over real connections: only the two people in one can read or post.

Absence is proved with a sentinel in `general`, which every connection hears: once a
client has it, it has everything the server sent it before.
"""

from __future__ import annotations

from typing import Any

from tests.support import Connect, error_code, ok, sentinel


async def test_open_dm_answers_the_room_and_tells_the_peer(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    alice_user = (await alice.join("alice"))["user"]
    bob_user = (await bob.join("bob"))["user"]

    room = ok(await alice.call("open-dm", {"username": "bob"}))["room"]
    assert room["name"].startswith("dm:")
    assert room == {
        "name": room["name"],
        "kind": "dm",
        "topic": "",
        "memberCount": 2,
        "lastSeq": 0,
        "peer": bob_user,
    }
    # Each side sees the other as the peer.
    assert await bob.wait_for("room-added") == {"room": {**room, "peer": alice_user}}
    for client, peer in ((alice, bob_user), (bob, alice_user)):
        rooms = ok(await client.call("session"))["rooms"]
        dms = [r for r in rooms if r["kind"] == "dm"]
        assert dms == [{**room, "peer": peer, "unread": 0, "mentions": 0}]


async def test_only_the_two_receive_its_messages_and_typing(clients: Connect) -> None:
    alice, bob, carol, lurker = [await clients() for _ in range(4)]
    await alice.join("alice")
    bob_user = (await bob.join("bob"))["user"]
    await carol.join("carol")
    name = ok(await alice.call("open-dm", {"username": "bob"}))["room"]["name"]

    sent = ok(await alice.call("send-message", {"room": name, "text": "just us"}))
    assert (sent["room"], sent["seq"]) == (name, 1)
    for member in (alice, bob):
        assert await member.wait_for("receive-message", lambda d: d["room"] == name) == sent
    reply = ok(await bob.call("send-message", {"room": name, "text": "indeed"}))
    assert await alice.wait_for("receive-message", lambda d: d["message"] == "indeed") == reply
    ok(await bob.call("typing", {"room": name, "isTyping": True}))
    typing = await alice.wait_for("user-typing")
    assert typing == {
        "username": "bob",
        "isTyping": True,
        "userId": bob.sio.get_sid(),
        "accountId": bob_user["accountId"],
        "guest": False,
        "room": name,
    }

    await sentinel(alice, carol, lurker)
    for outsider in (carol, lurker):
        assert [m for m in outsider.events("receive-message") if m["room"] != "general"] == []
        assert outsider.events("user-typing") == []
        assert outsider.events("room-added") == []


async def test_a_third_user_is_forbidden_everywhere_in_it(clients: Connect) -> None:
    alice, bob, carol = [await clients() for _ in range(3)]
    await alice.join("alice")
    await bob.join("bob")
    await carol.join("carol")
    name = ok(await alice.call("open-dm", {"username": "bob"}))["room"]["name"]
    ok(await alice.call("send-message", {"room": name, "text": "private"}))

    requests: list[tuple[str, Any]] = [
        ("send-message", {"room": name, "text": "let me in"}),
        ("typing", {"room": name, "isTyping": True}),
        ("history", {"room": name, "before": 100}),
        ("join-room", {"room": name}),
        ("sync", {"rooms": {name: 0}}),
        ("list-online", {"room": name}),
        ("leave-room", {"room": name}),
    ]
    for event, payload in requests:
        assert error_code(await carol.call(event, payload)) == "forbidden", event

    # Nothing leaked and nothing changed: still two members, one message, which the
    # members themselves can read back every way.
    dm = ok(await bob.call("join-room", {"room": name}))
    assert dm["room"]["memberCount"] == 2
    assert [m["message"] for m in dm["messages"]] == ["private"]
    history = ok(await bob.call("history", {"room": name, "before": 100}))
    assert history == {"messages": dm["messages"], "hasMore": False}
    synced = ok(await alice.call("sync", {"rooms": {name: 0}}))["rooms"][name]
    assert synced == {**history, "seq": 1}
    online = ok(await alice.call("list-online", {"room": name}))["users"]
    assert [u["username"] for u in online] == ["alice", "bob"]
    await sentinel(carol, alice, bob)
    for member in (alice, bob):
        assert member.events("member-joined") == []
        assert member.events("user-typing") == []
        assert [m["message"] for m in member.events("receive-message") if m["room"] == name] == [
            "private"
        ]


async def test_a_dm_cannot_be_left(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    name = ok(await alice.call("open-dm", {"username": "bob"}))["room"]["name"]
    assert error_code(await alice.call("leave-room", {"room": name})) == "forbidden"
    ok(await bob.call("send-message", {"room": name, "text": "still here?"}))
    await alice.wait_for("receive-message", lambda d: d["message"] == "still here?")


async def test_unknown_and_invalid_peers(clients: Connect) -> None:
    alice = await clients()
    await alice.join("alice")
    assert error_code(await alice.call("open-dm", {"username": "nobody"})) == "user_not_found"
    for bad in (42, None, "", "   ", "x" * 33):
        assert error_code(await alice.call("open-dm", {"username": bad})) == "invalid_username", bad
    assert [r["kind"] for r in ok(await alice.call("session"))["rooms"]] == ["room"]


async def test_a_dm_with_yourself_is_forbidden(clients: Connect) -> None:
    alice = await clients()
    await alice.join("Alice")
    for name in ("Alice", "alice", " ALICE "):
        assert error_code(await alice.call("open-dm", {"username": name})) == "forbidden", name
    assert [r["kind"] for r in ok(await alice.call("session"))["rooms"]] == ["room"]


async def test_reopening_returns_the_same_room(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("Bob")
    first = ok(await alice.call("open-dm", {"username": "Bob"}))["room"]
    ok(await alice.call("send-message", {"room": first["name"], "text": "hi"}))

    again = ok(await alice.call("open-dm", {"username": "bob"}))["room"]
    assert again == {**first, "lastSeq": 1}
    from_bob = ok(await bob.call("open-dm", {"username": "alice"}))["room"]
    assert from_bob["name"] == first["name"]
    assert from_bob["peer"]["username"] == "alice"

    # Only the first opening adds the room to the peer.
    await sentinel(alice, alice, bob)
    assert len(bob.events("room-added")) == 1
    assert alice.events("room-added") == []
    dms = [r for r in ok(await bob.call("session"))["rooms"] if r["kind"] == "dm"]
    assert [r["name"] for r in dms] == [first["name"]]


async def test_a_dm_opened_while_the_peer_is_away_is_there_when_they_return(
    clients: Connect,
) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    token = (await bob.join("bob"))["token"]
    await bob.close()
    await alice.wait_for("user-disconnected", lambda d: d["username"] == "bob")

    room = ok(await alice.call("open-dm", {"username": "bob"}))["room"]
    sent = ok(await alice.call("send-message", {"room": room["name"], "text": "when you're back"}))

    back = await clients(auth={"token": token})
    rooms = {r["name"]: r for r in ok(await back.call("session"))["rooms"]}
    assert rooms[room["name"]]["peer"]["username"] == "alice"
    missed = ok(await back.call("sync", {"rooms": {room["name"]: 0}}))["rooms"]
    assert missed == {room["name"]: {"messages": [sent], "hasMore": False, "seq": sent["seq"]}}
    # And it is live again: the returning connection hears new messages in it.
    ok(await alice.call("send-message", {"room": room["name"], "text": "welcome back"}))
    await back.wait_for("receive-message", lambda d: d["message"] == "welcome back")
