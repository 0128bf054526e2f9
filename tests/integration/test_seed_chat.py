"""The seed's chat over real connections: every event, payload and recipient."""

from __future__ import annotations

import re

import pytest

from tests.support import Connect, sentinel, until_connections

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TRANSPORTS = [pytest.param(None, id="websocket"), pytest.param(["polling"], id="polling")]


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_join_chat_type_and_leave(clients: Connect, transports: list[str] | None) -> None:
    alice = await clients(transports=transports)
    bob = await clients(transports=transports)
    carol = await clients(transports=transports)

    # `userId` is what the seed sends: the id of the sender's socket, its `socket.id`.
    alice_user = (await alice.join("alice"))["user"]
    for client in (alice, bob, carol):
        joined = await client.wait_for("user-connected", lambda d: d["username"] == "alice")
        assert joined["userId"] == alice.sio.get_sid()
        assert joined["accountId"] == alice_user["accountId"]
        assert ISO_UTC.match(joined["timestamp"])
    await bob.join("bob")
    joined_carol = await carol.join("carol")
    assert [u["username"] for u in joined_carol["online"]] == ["alice", "bob", "carol"]
    assert joined_carol["onlineCount"] == 3

    ack = await alice.call("send-message", "  hello everyone  ")
    assert ack["ok"]
    assert ack["data"]["message"] == "hello everyone"
    for client in (alice, bob, carol):
        got = await client.wait_for("receive-message", lambda d: d["message"] == "hello everyone")
        assert got["username"] == "alice"
        assert got["userId"] == alice.sio.get_sid()
        assert (got["accountId"], got["guest"]) == (alice_user["accountId"], False)
        assert got["id"] == ack["data"]["id"]
        assert ISO_UTC.match(got["timestamp"])

    # The typist does not hear its own typing; we know it has seen everything sent before
    # the sentinel message once the sentinel arrives, since one connection is in order.
    await bob.sio.emit("typing", True)
    for client in (alice, carol):
        typing = await client.wait_for("user-typing")
        assert typing["username"] == "bob"
        assert typing["isTyping"] is True
        assert typing["userId"] == bob.sio.get_sid()
    await bob.sio.emit("send-message", "sentinel")
    await bob.wait_for("receive-message", lambda d: d["message"] == "sentinel")
    assert bob.events("user-typing") == []
    await bob.sio.emit("typing", False)
    stopped = await alice.wait_for("user-typing", lambda d: d["isTyping"] is False)
    assert stopped["username"] == "bob"

    carol_socket = carol.sio.get_sid()
    await carol.close()
    for client in (alice, bob):
        left = await client.wait_for("user-disconnected")
        assert left["username"] == "carol"
        assert left["userId"] == carol_socket
        assert ISO_UTC.match(left["timestamp"])
    for event in ("user-connected", "receive-message"):
        assert len(alice.events(event)) == len(bob.events(event))


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_every_message_arrives_once_and_in_order(
    clients: Connect, transports: list[str] | None
) -> None:
    # Over polling too: python-socketio's polling client drops the connection when one
    # response carries more than 16 packets, as a burst did from python-engineio's server;
    # rtchat's engine sends at most 16 per poll.
    sender = await clients(transports=transports)
    receiver = await clients(transports=transports)
    await sender.join("sender")
    texts = [f"message {i}" for i in range(20)]  # the default burst
    for text in texts:
        await sender.sio.emit("send-message", text)
    await receiver.wait_for("receive-message", lambda d: d["message"] == texts[-1])
    assert [d["message"] for d in receiver.events("receive-message")] == texts


async def test_unjoined_connections_hear_the_room_like_the_seed(clients: Connect) -> None:
    lurker = await clients()
    speaker = await clients()
    await speaker.join("speaker")
    await speaker.sio.emit("send-message", "anyone there?")
    got = await lurker.wait_for("receive-message")
    assert got["message"] == "anyone there?"


async def test_joining_twice_under_the_same_name_announces_once(clients: Connect) -> None:
    alice = await clients()
    first = await alice.join("alice")
    second = await alice.join("alice")
    assert first == second
    await alice.sio.emit("send-message", "sentinel")
    await alice.wait_for("receive-message")
    assert len(alice.events("user-connected")) == 1


async def test_disconnect_of_an_unjoined_connection_is_silent(
    server: str, clients: Connect
) -> None:
    watcher = await clients()
    await watcher.join("watcher")
    silent = await clients()
    await silent.close()
    # Once the server has handled the close, a goodbye would come before the sentinel.
    await until_connections(server, 1)
    await sentinel(watcher, watcher)
    assert watcher.events("user-disconnected") == []
