"""The seed's flows over real connections: a client that sends no token can always chat
under the name it asked for, as a guest when an account holds it, and `userId` is the
sending socket's id wherever a message is read, live or stored."""

from __future__ import annotations

import pytest

from rtchat.settings import Settings
from tests.support import ChatClient, Connect, error_code, ok, running_server, sentinel


async def test_two_connections_under_one_name_both_chat(clients: Connect) -> None:
    first, second, bob = await clients(), await clients(), await clients()
    owner = await first.join("alice")
    tab = await second.join("alice")  # the seed's second tab: no token
    await bob.join("bob")
    assert owner["user"]["guest"] is False
    assert owner["token"]
    assert tab["user"] == {
        "accountId": tab["user"]["accountId"],
        "username": "alice",
        "guest": True,
    }
    assert "token" not in tab
    assert tab["user"]["accountId"] != owner["user"]["accountId"]

    for sender in (first, second):
        await sender.sio.emit("send-message", f"from {sender.sio.get_sid()}")  # no ack, as the seed
    for sender, guest in ((first, False), (second, True)):
        got = await bob.wait_for(
            "receive-message", lambda d, s=sender: d["userId"] == s.sio.get_sid()
        )
        assert (got["username"], got["guest"]) == ("alice", guest)
        assert got["message"] == f"from {sender.sio.get_sid()}"
    # Every connection, the guest's too, heard both arrive, as the seed announces each join.
    await sentinel(bob, first, second, bob)
    arrived = [(e["username"], e["guest"]) for e in bob.events("user-connected")]
    assert arrived == [("alice", False), ("alice", True), ("bob", False)]


async def test_a_guest_gets_none_of_the_account(clients: Connect) -> None:
    owner, carol, guest = await clients(), await clients(), await clients()
    joined = await owner.join("alice")
    await carol.join("carol")
    ok(await owner.call("create-room", {"name": "private"}))
    dm = ok(await carol.call("open-dm", {"username": "alice"}))["room"]["name"]
    ok(await carol.call("send-message", {"room": dm, "text": "for alice only"}))
    await guest.join("alice")

    for event, payload in (
        ("create-room", {"name": "mine"}),
        ("join-room", {"room": "private"}),
        ("join-room", {"room": dm}),
        ("history", {"room": dm, "before": 100}),
        ("send-message", {"room": dm, "text": "it's me"}),
        ("open-dm", {"username": "carol"}),
    ):
        assert error_code(await guest.call(event, payload)) == "forbidden", event
    session = ok(await guest.call("session"))
    assert [r["name"] for r in session["rooms"]] == ["general"]
    # A direct message to the name still reaches the account, never the guest.
    again = ok(await carol.call("open-dm", {"username": "ALICE"}))["room"]
    assert again["name"] == dm
    assert again["peer"] == joined["user"]
    await sentinel(carol, guest, owner)
    assert [m["message"] for m in guest.events("receive-message") if m["room"] == dm] == []


async def test_stored_messages_keep_the_socket_they_were_sent_from(clients: Connect) -> None:
    writer, reader = await clients(), await clients()
    joined = await writer.join("alice")
    await reader.join("bob")
    sent = ok(await writer.call("send-message", {"text": "kept", "clientId": "c-1"}))
    socket = writer.sio.get_sid()
    assert sent["userId"] == socket
    await writer.close()

    # The same account on a new socket: its old message still names the old socket.
    back = await clients(auth={"token": joined["token"]})
    newer = ok(await back.call("send-message", "newer"))
    assert newer["userId"] == back.sio.get_sid() != socket
    history = ok(await reader.call("history", {"room": "general", "before": 100}))["messages"]
    synced = ok(await reader.call("sync", {"rooms": {"general": 0}}))["rooms"]["general"]
    for read in (history, synced["messages"]):
        kept = next(m for m in read if m["message"] == "kept")
        assert kept == sent
        assert (kept["userId"], kept["accountId"]) == (socket, joined["user"]["accountId"])
    # A retry from the new socket answers what was stored, from the socket it came from.
    retried = ok(await back.call("send-message", {"text": "kept", "clientId": "c-1"}))
    assert retried == sent


@pytest.mark.parametrize("transports", [None, ["polling"]], ids=["websocket", "polling"])
async def test_after_a_restart_a_seed_user_chats_under_their_name_at_once(
    settings: Settings, transports: list[str] | None
) -> None:
    async with running_server(settings) as (url, _):
        before = await ChatClient(url, transports=transports).connect()
        await before.join("alice")
        await before.close()
    # The same database: every name is held for the grace after a start.
    async with running_server(settings) as (url, _):
        seed = await ChatClient(url, transports=transports).connect()
        watcher = await ChatClient(url, transports=transports).connect()
        try:
            await watcher.join("watcher")
            assert (
                error_code(await seed.call("user-joined", {"username": "alice", "guest": False}))
                == "username_taken"
            )
            joined = await seed.join("alice")
            assert joined["user"]["guest"] is True
            await seed.sio.emit("send-message", "I'm back")
            got = await watcher.wait_for("receive-message", lambda d: d["message"] == "I'm back")
            assert (got["username"], got["guest"], got["userId"]) == (
                "alice",
                True,
                seed.sio.get_sid(),
            )
        finally:
            await seed.close()
            await watcher.close()
