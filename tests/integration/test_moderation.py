"""Moderation and DM blocks over real connections: roles, kick, ban, mute, their
announcements to the room and to the target, and every refusal with and without an
acknowledgement. `boss` is a site moderator (`RTCHAT_MODERATORS`)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rtchat.domain.errors import ErrorCode
from rtchat.settings import Settings
from rtchat.transport.events import CLIENT_EVENTS
from tests.integration.test_errors import EXERCISED_IN_MODERATION, Request
from tests.support import ChatClient, Connect, error_code, ok, refused, sentinel
from tests.ws_client import WsClient

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", moderators="Boss")


async def joined(clients: Connect, name: str) -> ChatClient:
    client = await clients()
    await client.join(name)
    return client


async def dev_room(clients: Connect) -> tuple[ChatClient, ChatClient, ChatClient]:
    """alice owns `dev`; bob and carol are members."""
    alice, bob, carol = [await joined(clients, n) for n in ("alice", "bob", "carol")]
    ok(await alice.call("create-room", {"name": "dev"}))
    for member in (bob, carol):
        ok(await member.call("join-room", {"room": "dev"}))
    return alice, bob, carol


async def account(client: ChatClient) -> dict[str, Any]:
    return ok(await client.call("session"))["user"]  # type: ignore[no-any-return]


async def once_allowed(client: ChatClient, event: str, payload: Any) -> Any:
    """Repeat a refused request every 0.1 s, for at most 5 s, until it is answered `ok`."""
    for _ in range(50):
        answer = await client.call(event, payload)
        if answer["ok"]:
            return answer["data"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{event} still refused: {answer}")


def moderated(client: ChatClient, action: str) -> list[Any]:
    return [e for e in client.events("moderated") if e["action"] == action]


async def test_the_creator_owns_the_room_and_makes_moderators(clients: Connect) -> None:
    alice, bob, carol = await dev_room(clients)
    alice_user, bob_user = await account(alice), await account(bob)
    rooms = {r["name"]: r for r in ok(await alice.call("session"))["rooms"]}
    assert (rooms["dev"]["role"], rooms["general"]["role"]) == ("owner", "member")
    assert ok(await carol.call("join-room", {"room": "dev"}))["roles"] == {
        alice_user["accountId"]: "owner"
    }

    answer = ok(
        await alice.call("set-role", {"room": "dev", "username": "BOB", "role": "moderator"})
    )
    assert answer == {
        "room": "dev",
        "action": "role",
        "user": bob_user,
        "by": alice_user,
        "until": None,
        "role": "moderator",
    }
    for client in (alice, bob, carol):  # the room, and the target once, not twice
        assert await client.wait_for("moderated") == answer
    await sentinel(alice, alice, bob, carol)
    assert [len(moderated(c, "role")) for c in (alice, bob, carol)] == [1, 1, 1]
    rooms = {r["name"]: r for r in ok(await bob.call("session"))["rooms"]}
    assert rooms["dev"]["role"] == "moderator"
    assert ok(await carol.call("join-room", {"room": "dev"}))["roles"] == {
        alice_user["accountId"]: "owner",
        bob_user["accountId"]: "moderator",
    }

    ok(await alice.call("set-role", {"room": "dev", "username": "bob", "role": "member"}))
    assert ok(await carol.call("join-room", {"room": "dev"}))["roles"] == {
        alice_user["accountId"]: "owner"
    }


async def test_a_kick_removes_every_tab_and_the_member_may_join_again(clients: Connect) -> None:
    alice, bob, carol = await dev_room(clients)
    bob_tab = await clients(auth={"token": ok(await bob.call("session"))["token"]})
    bob_user, alice_user = await account(bob), await account(alice)
    assert await account(bob_tab) == bob_user  # the same account, in a second tab

    answer = ok(await alice.call("kick", {"room": "dev", "username": "bob"}))
    assert answer["action"] == "kick"
    left = {"room": "dev", "user": bob_user, "reason": "kick", "by": alice_user}
    for client in (alice, carol, bob, bob_tab):
        assert await client.wait_for("moderated", lambda d: d["action"] == "kick") == answer
        assert await client.wait_for("member-left") == left
    assert error_code(await bob.call("send-message", {"room": "dev", "text": "hi"})) == "forbidden"
    assert error_code(await bob_tab.call("history", {"room": "dev", "before": 9})) == "forbidden"
    marker = ok(await alice.call("send-message", {"room": "dev", "text": "after"}))
    await carol.wait_for("receive-message", lambda d: d["id"] == marker["id"])
    await sentinel(alice, bob, bob_tab)
    assert all(m["room"] != "dev" for m in bob.events("receive-message"))

    # Kicking again announces nothing; the kicked member may come back.
    ok(await alice.call("kick", {"room": "dev", "username": "bob"}))
    ok(await bob.call("join-room", {"room": "dev"}))
    await sentinel(alice, carol)
    assert len(moderated(carol, "kick")) == 1


async def test_a_ban_refuses_rejoining_until_it_is_lifted_or_ends(clients: Connect) -> None:
    alice, bob, carol = await dev_room(clients)
    answer = ok(await alice.call("ban", {"room": "dev", "username": "bob"}))
    assert (answer["action"], answer["until"]) == ("ban", None)
    assert (await bob.wait_for("member-left"))["reason"] == "ban"
    assert await bob.wait_for("moderated") == answer
    refused = await bob.call("join-room", {"room": "dev"})
    assert refused["error"]["code"] == "banned"
    assert refused["error"]["until"] is None

    ok(await alice.call("unban", {"room": "dev", "username": "bob"}))
    assert (await bob.wait_for("moderated", lambda d: d["action"] == "unban"))["by"] == (
        await account(alice)
    )
    ok(await bob.call("join-room", {"room": "dev"}))

    # A timed ban says until when, and ends by itself.
    timed = ok(await alice.call("ban", {"room": "dev", "username": "bob", "seconds": 0.6}))
    until = datetime.fromisoformat(timed["until"])
    refused = await bob.call("join-room", {"room": "dev"})
    assert (refused["error"]["code"], refused["error"]["until"]) == ("banned", timed["until"])
    await once_allowed(bob, "join-room", {"room": "dev"})
    assert datetime.now(until.tzinfo) >= until

    # A ban keeps out someone who was not a member either.
    dave = await joined(clients, "dave")
    ok(await alice.call("ban", {"room": "dev", "username": "dave", "seconds": 60}))
    assert error_code(await dave.call("join-room", {"room": "dev"})) == "banned"
    members = ok(await alice.call("join-room", {"room": "dev"}))["members"]
    assert "dave" not in [m["username"] for m in members]  # the refused join left no trace
    assert (await dave.wait_for("moderated"))["action"] == "ban"
    await sentinel(alice, carol)
    assert [e["user"]["username"] for e in carol.events("member-left")] == ["bob", "bob"]


async def test_a_mute_refuses_sending_and_typing_until_it_ends(clients: Connect) -> None:
    alice, bob, carol = await dev_room(clients)
    answer = ok(await alice.call("mute", {"room": "dev", "username": "bob", "seconds": 1}))
    assert answer["action"] == "mute"
    assert await bob.wait_for("moderated") == answer
    assert await carol.wait_for("moderated") == answer
    for request in (
        ("send-message", {"room": "dev", "text": "let me speak"}),
        ("typing", {"room": "dev", "isTyping": True}),
    ):
        refused = await bob.call(*request)
        assert (refused["error"]["code"], refused["error"]["until"]) == ("muted", answer["until"])
    ok(await bob.call("send-message", {"room": "general", "text": "elsewhere is fine"}))

    sent = await once_allowed(bob, "send-message", {"room": "dev", "text": "back"})  # it ends
    await carol.wait_for("receive-message", lambda d: d["id"] == sent["id"])

    # Without `seconds`: until unmuted.
    ok(await alice.call("mute", {"room": "dev", "username": "bob"}))
    refused = await bob.call("send-message", {"room": "dev", "text": "still?"})
    assert (refused["error"]["code"], refused["error"]["until"]) == ("muted", None)
    ok(await alice.call("unmute", {"room": "dev", "username": "bob"}))
    assert (await bob.wait_for("moderated", lambda d: d["action"] == "unmute"))["room"] == "dev"
    ok(await bob.call("send-message", {"room": "dev", "text": "free again"}))
    await sentinel(alice, carol)
    texts = [m["message"] for m in carol.events("receive-message") if m["room"] == "dev"]
    assert texts == ["back", "free again"]


async def test_site_moderators_moderate_general_and_outrank_owners(clients: Connect) -> None:
    alice, bob, _ = await dev_room(clients)
    boss = await joined(clients, "boss")
    assert ok(await boss.call("session"))["siteModerator"] is True
    assert ok(await alice.call("session"))["siteModerator"] is False
    ok(await boss.call("mute", {"room": "general", "username": "bob", "seconds": 60}))
    assert error_code(await bob.call("send-message", "hi all")) == "muted"
    ok(await boss.call("unmute", {"room": "general", "username": "bob"}))
    ok(await bob.call("send-message", "hi all"))
    # An owner is outranked by a site moderator, and cannot act on one.
    ok(await boss.call("kick", {"room": "dev", "username": "alice"}))
    assert error_code(await alice.call("send-message", {"room": "dev", "text": "x"})) == (
        "forbidden"
    )


async def test_every_action_works_without_an_acknowledgement(clients: Connect) -> None:
    alice, bob, carol = await dev_room(clients)
    actions: list[Request] = [
        ("set-role", {"room": "dev", "username": "bob", "role": "moderator"}),
        ("set-role", {"room": "dev", "username": "bob", "role": "member"}),
        ("mute", {"room": "dev", "username": "bob", "seconds": 60}),
        ("unmute", {"room": "dev", "username": "bob"}),
        ("kick", {"room": "dev", "username": "bob"}),
        ("ban", {"room": "dev", "username": "carol"}),
        ("unban", {"room": "dev", "username": "carol"}),
    ]
    for event, payload in actions:
        await alice.sio.emit(event, payload)
    await alice.sio.emit("block", {"username": "bob"})
    await alice.call("list-rooms")  # answered after everything emitted before it
    assert alice.events("error") == []
    await sentinel(alice, bob, carol)
    # bob hears what was done to him, kick included, and nothing of the room after it.
    assert [e["action"] for e in bob.events("moderated")] == [
        "role",
        "role",
        "mute",
        "unmute",
        "kick",
    ]
    assert bob.events("moderated")[:2] == alice.events("moderated")[:2]
    assert [e["action"] for e in carol.events("moderated")] == [
        "role",
        "role",
        "mute",
        "unmute",
        "kick",
        "ban",
        "unban",
    ]
    assert ok(await alice.call("session"))["blocked"] == [await account(bob)]


async def dm_with(alice: ChatClient, peer: str) -> str:
    return ok(await alice.call("open-dm", {"username": peer}))["room"]["name"]  # type: ignore[no-any-return]


async def test_a_blocked_user_cannot_open_or_post_to_the_blockers_dm(clients: Connect) -> None:
    alice, bob = await joined(clients, "alice"), await joined(clients, "bob")
    bob_user = await account(bob)
    dm = await dm_with(bob, "alice")
    ok(await bob.call("send-message", {"room": dm, "text": "hello"}))

    assert ok(await alice.call("block", {"username": "Bob"})) == {"blocked": [bob_user]}
    assert ok(await alice.call("block", {"username": "bob"})) == {"blocked": [bob_user]}
    assert ok(await alice.call("session"))["blocked"] == [bob_user]
    assert ok(await bob.call("session"))["blocked"] == []
    for request in (
        ("open-dm", {"username": "alice"}),
        ("send-message", {"room": dm, "text": "please"}),
        ("typing", {"room": dm, "isTyping": True}),
    ):
        assert error_code(await bob.call(*request)) == "blocked", request
    ok(await alice.call("send-message", {"room": dm, "text": "the blocker may still write"}))
    await bob.wait_for("receive-message", lambda d: d["room"] == dm and d["seq"] == 2)

    assert ok(await alice.call("unblock", {"username": "bob"})) == {"blocked": []}
    assert await dm_with(bob, "alice") == dm
    ok(await bob.call("send-message", {"room": dm, "text": "thanks"}))


# Refusals: alice owns `dev`, bob moderates it, carol is a member, boss a site moderator.
REFUSALS: dict[str, tuple[str, list[Request]]] = {
    "not_moderator": (
        "carol",
        [
            ("kick", {"room": "dev", "username": "bob"}),
            ("ban", {"room": "dev", "username": "alice", "seconds": 5}),
            ("mute", {"room": "general", "username": "bob", "seconds": 5}),
            ("unmute", {"room": "dev", "username": "bob"}),
            ("set-role", {"room": "dev", "username": "carol", "role": "moderator"}),
            ("kick", {"room": "DM_ROOM", "username": "alice"}),
        ],
    ),
    "not_owner": ("bob", [("set-role", {"room": "dev", "username": "carol", "role": "moderator"})]),
    "outranked": (
        "bob",
        [
            ("kick", {"room": "dev", "username": "alice"}),
            ("ban", {"room": "dev", "username": "dave"}),  # another moderator
            ("mute", {"room": "dev", "username": "boss", "seconds": 5}),
        ],
    ),
    "forbidden": (
        "bob",
        [
            ("kick", {"room": "dev", "username": "bob"}),  # yourself
            ("block", {"username": "bob"}),
        ],
    ),
    "forbidden_in_general": (
        "boss",
        [
            ("kick", {"room": "general", "username": "carol"}),
            ("ban", {"room": "general", "username": "carol"}),
        ],
    ),
    "user_not_found": ("bob", [("kick", {"room": "dev", "username": "nobody"})]),
    "room_not_found": ("bob", [("mute", {"room": "nowhere", "username": "carol"})]),
    "invalid_payload": (
        "alice",
        [
            ("mute", {"room": "dev", "username": "carol", "seconds": 0}),
            ("mute", {"room": "dev", "username": "carol", "seconds": "10"}),
            ("ban", {"room": "dev", "username": "carol", "seconds": True}),
            ("ban", {"room": "dev", "username": "carol", "seconds": 10**9}),
            ("set-role", {"room": "dev", "username": "carol", "role": "owner"}),
            ("set-role", {"room": "dev", "username": "carol"}),
        ],
    ),
    "invalid_username": ("alice", [("kick", {"room": "dev", "username": ""})]),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_each_refusal_has_its_code_with_and_without_ack(clients: Connect, case: str) -> None:
    alice, bob, carol = await dev_room(clients)
    dave, boss = await joined(clients, "dave"), await joined(clients, "boss")
    ok(await dave.call("join-room", {"room": "dev"}))
    for name in ("bob", "dave"):
        ok(await alice.call("set-role", {"room": "dev", "username": name, "role": "moderator"}))
    dm = await dm_with(alice, "carol")
    actors = {"alice": alice, "bob": bob, "carol": carol, "boss": boss}
    who, requests = REFUSALS[case]
    code = case.removesuffix("_in_general")
    await sentinel(alice, *actors.values())
    for client in actors.values():
        client.received.clear()

    for i, (event, payload) in enumerate(requests):
        if payload.get("room") == "DM_ROOM":
            payload = {**payload, "room": dm}
        await refused(actors[who], (event, payload), code, no_ack=i == 0)

    # Nothing happened: nobody heard of anything but the sentinel.
    marker = await sentinel(alice, *actors.values())
    for client in actors.values():
        assert [e for e, _ in client.received if e not in ("error", "receive-message")] == []
        assert client.events("receive-message") == [marker]
    members = ok(await alice.call("join-room", {"room": "dev"}))["members"]
    assert len(members) == 4


async def test_bans_mutes_and_blocks_refuse_without_ack_too(clients: Connect) -> None:
    alice, bob, carol = await dev_room(clients)
    dm = await dm_with(carol, "bob")
    ok(await alice.call("mute", {"room": "dev", "username": "carol", "seconds": 60}))
    ok(await alice.call("ban", {"room": "dev", "username": "bob", "seconds": 60}))
    ok(await bob.call("block", {"username": "carol"}))
    await refused(bob, ("join-room", {"room": "dev"}), "banned", no_ack=True)
    await refused(carol, ("send-message", {"room": "dev", "text": "x"}), "muted", no_ack=True)
    await refused(carol, ("typing", {"room": dm, "isTyping": True}), "blocked", no_ack=True)
    error = carol.events("error")[0]
    assert error["code"] == "muted"
    assert error["until"] == (await carol.wait_for("moderated"))["until"]


def test_every_moderation_refusal_is_exercised_and_documented() -> None:
    exercised = {case.removesuffix("_in_general") for case in REFUSALS}
    exercised |= {"banned", "muted", "blocked"}  # the flows above
    assert {str(code) for code in EXERCISED_IN_MODERATION} <= exercised
    documented = {spec.name: set(spec.errors) for spec in CLIENT_EVENTS}
    seen = {
        (event, case.removesuffix("_in_general"))
        for case, (_, requests) in REFUSALS.items()
        for event, _ in requests
    }
    seen |= {
        ("join-room", "banned"),
        ("send-message", "muted"),
        ("typing", "muted"),
        ("send-message", "blocked"),
        ("typing", "blocked"),
        ("open-dm", "blocked"),
    }
    assert {(e, c) for e, c in seen if c not in documented[e]} == set()
    assert ErrorCode.FORBIDDEN in ErrorCode  # kept for what it meant before


async def test_the_plain_websocket_carries_the_same_moderation(server: str) -> None:
    owner, member = await WsClient.open(server), await WsClient.open(server)
    try:
        await owner.join("alice")
        await member.join("bob")
        ok(await owner.call("create-room", {"name": "dev"}))
        ok(await member.call("join-room", {"room": "dev"}))
        answer = ok(await owner.call("mute", {"room": "dev", "username": "bob", "seconds": 30}))
        assert await member.wait_for("moderated") == answer
        refused = await member.call("send-message", {"room": "dev", "text": "hi"})
        assert refused["error"]["code"] == "muted"
        assert refused["error"]["until"] == answer["until"]
        assert (await member.call("kick", {"room": "dev", "username": "alice"}))["error"][
            "code"
        ] == "not_moderator"
        ok(await owner.call("ban", {"room": "dev", "username": "bob"}))
        assert (await member.wait_for("member-left"))["reason"] == "ban"
        assert (await member.call("join-room", {"room": "dev"}))["error"]["code"] == "banned"
        assert ok(await member.call("block", {"username": "alice"}))["blocked"][0]["username"] == (
            "alice"
        )
        assert (await owner.call("open-dm", {"username": "bob"}))["error"]["code"] == "blocked"
    finally:
        await owner.close()
        await member.close()
