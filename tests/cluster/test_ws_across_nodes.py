"""`/ws` users on one node and Socket.IO users on another share rooms: what crosses the
nodes is the one encoding of an event, and each node frames it for its own transports."""

from __future__ import annotations

from tests.cluster.conftest import Connect
from tests.cluster.nodes import Cluster
from tests.support import ok
from tests.ws_client import WsClient


async def test_a_ws_user_and_a_socketio_user_on_two_nodes(
    two_nodes: Cluster, connect: Connect
) -> None:
    alice = await WsClient.open(two_nodes[0].url)
    try:
        await alice.join("alice")
        bob = await connect(two_nodes[1].url)
        await bob.join("bob")
        came = await alice.wait_for("user-connected", lambda d: d["username"] == "bob")
        assert came["userId"] == bob.sio.get_sid()
        ok(await alice.call("create-room", {"name": "ops"}))
        ok(await bob.call("join-room", {"room": "ops"}))

        sent = [
            ok(await alice.call("send-message", {"room": "ops", "text": f"m{i}"})) for i in range(5)
        ]
        await bob.wait_for("receive-message", lambda d: d["message"] == "m4")
        got = [m for m in bob.events("receive-message") if m["room"] == "ops"]
        assert [m["seq"] for m in got] == [m["seq"] for m in sent]

        ok(await bob.call("typing", {"room": "ops", "isTyping": True}))
        typing = await alice.wait_for("user-typing")
        assert (typing["username"], typing["userId"]) == ("bob", bob.sio.get_sid())
        reply = ok(await bob.call("send-message", {"room": "ops", "text": "from node 2"}))
        heard = await alice.wait_for("receive-message", lambda d: d["id"] == reply["id"])
        assert heard["seq"] == sent[-1]["seq"] + 1

        await bob.close()
        await alice.wait_for("user-disconnected", lambda d: d["username"] == "bob")
    finally:
        await alice.close()
