"""Moderation holds on every node of a cluster sharing PostgreSQL and Redis: what one node
decides, the others enforce, and the target hears it wherever it is connected."""

from __future__ import annotations

from tests.cluster.conftest import Connect
from tests.cluster.nodes import Cluster
from tests.support import ChatClient, error_code, ok, sentinel


async def owner_and_member(cluster: Cluster, connect: Connect) -> tuple[ChatClient, ChatClient]:
    """alice on node 1 owns `dev`; bob, on node 2, is a member."""
    alice, bob = await connect(cluster[0].url), await connect(cluster[1].url)
    await alice.join("alice")
    await bob.join("bob")
    ok(await alice.call("create-room", {"name": "dev"}))
    ok(await bob.call("join-room", {"room": "dev"}))
    return alice, bob


async def test_a_ban_made_on_one_node_refuses_a_join_on_another(
    two_nodes: Cluster, connect: Connect
) -> None:
    alice, bob = await owner_and_member(two_nodes, connect)

    ban = ok(await alice.call("ban", {"room": "dev", "username": "bob"}))
    assert await bob.wait_for("moderated") == ban
    assert (await bob.wait_for("member-left"))["reason"] == "ban"
    assert error_code(await bob.call("join-room", {"room": "dev"})) == "banned"
    assert error_code(await bob.call("send-message", {"room": "dev", "text": "x"})) == ("forbidden")
    # bob's connection on node 2 left the room: it hears none of it.
    ok(await alice.call("send-message", {"room": "dev", "text": "without bob"}))
    await sentinel(alice, bob)
    assert all(m["room"] != "dev" for m in bob.events("receive-message"))
    # A new connection of bob, on the other node, is refused too.
    token = ok(await bob.call("session"))["token"]
    again = await connect(two_nodes[0].url, auth={"token": token})
    assert error_code(await again.call("join-room", {"room": "dev"})) == "banned"

    ok(await alice.call("unban", {"room": "dev", "username": "bob"}))
    ok(await bob.call("join-room", {"room": "dev"}))


async def test_mutes_and_blocks_made_on_one_node_hold_on_another(
    two_nodes: Cluster, connect: Connect
) -> None:
    alice, bob = await owner_and_member(two_nodes, connect)
    dm = ok(await bob.call("open-dm", {"username": "alice"}))["room"]["name"]

    mute = ok(await alice.call("mute", {"room": "dev", "username": "bob", "seconds": 60}))
    assert await bob.wait_for("moderated") == mute  # after the command that set the cache
    refused = await bob.call("send-message", {"room": "dev", "text": "hi"})
    assert (refused["error"]["code"], refused["error"]["until"]) == ("muted", mute["until"])
    ok(await alice.call("unmute", {"room": "dev", "username": "bob"}))
    await bob.wait_for("moderated", lambda d: d["action"] == "unmute")
    ok(await bob.call("send-message", {"room": "dev", "text": "hi again"}))

    ok(await alice.call("block", {"username": "bob"}))
    # The block went to bob's node as a command before this message, and is applied there
    # before it reads bob's next request.
    await sentinel(alice, bob)
    assert error_code(await bob.call("send-message", {"room": dm, "text": "hey"})) == "blocked"
    assert error_code(await bob.call("open-dm", {"username": "alice"})) == "blocked"
