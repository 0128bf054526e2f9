"""Read markers across nodes: one account with a tab on each of two nodes (and a `/ws`
one), sharing PostgreSQL and Redis. Marking a room read on one node reaches the tabs on
the other through the account's channel, and the counts both nodes answer agree."""

from __future__ import annotations

from typing import Any

from tests.cluster.conftest import Connect
from tests.cluster.nodes import Cluster
from tests.support import ok
from tests.ws_client import WsClient


def counts(session: dict[str, Any], name: str) -> tuple[int, int]:
    room = next(r for r in session["rooms"] if r["name"] == name)
    return room["unread"], room["mentions"]


async def test_read_marker_reaches_the_tab_on_the_other_node(
    two_nodes: Cluster, connect: Connect
) -> None:
    here = await connect(two_nodes[0].url)
    token = (await here.join("alice"))["token"]
    there = await connect(two_nodes[1].url, auth={"token": token})
    ws_there = await WsClient.open(two_nodes[1].url)
    try:
        await ws_there.hello(token=token)
        bob = await connect(two_nodes[1].url)
        await bob.join("bob")
        for text in ("hello", "@alice look", "bye"):
            ok(await bob.call("send-message", {"room": "general", "text": text}))
        for tab in (here, there, ws_there):
            assert counts(ok(await tab.call("session")), "general") == (3, 1)

        state = ok(await here.call("mark-read", {"room": "general", "seq": 2}))
        assert state == {"room": "general", "seq": 2, "unread": 1, "mentions": 0}
        for tab in (here, there, ws_there):
            assert await tab.wait_for("read-marker") == state
        assert counts(ok(await there.call("session")), "general") == (1, 0)
        found = ok(await there.call("search", {"query": "look"}))["messages"]
        assert [m["message"] for m in found] == ["@alice look"]
    finally:
        await ws_there.close()
