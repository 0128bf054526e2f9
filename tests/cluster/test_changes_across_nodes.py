"""Edits, deletes, reactions and replies made on one `rtchat serve` node reach the members
on another (PostgreSQL and Redis shared), each once, numbered with the messages; and a
member that reconnects to a third node catches up on them through `sync`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster.conftest import Connect
from tests.cluster.nodes import Cluster, running_cluster
from tests.redis_support import SHARED_URL
from tests.support import ok, sentinel

LOGGED = ("receive-message", "message-edited", "message-deleted", "reaction-changed")


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    async with running_cluster(
        3, tmp_path, database_url=postgres_url, redis_url=SHARED_URL
    ) as nodes:
        yield nodes
        assert nodes.tracebacks() == []


async def test_an_edit_on_one_node_reaches_a_member_on_another(
    cluster: Cluster, connect: Connect
) -> None:
    alice = await connect(cluster[0].url)
    await alice.join("alice")
    bob = await connect(cluster[1].url)
    bob_token = (await bob.join("bob"))["token"]
    ok(await alice.call("create-room", {"name": "ops"}))
    ok(await bob.call("join-room", {"room": "ops"}))
    await alice.wait_for("member-joined", lambda d: d["room"] == "ops")

    posted = ok(await alice.call("send-message", {"room": "ops", "text": "deploy at 5"}))
    target = {"room": "ops", "id": posted["id"]}
    ok(await alice.call("edit-message", {**target, "text": "deploy at 6"}))
    edited = await bob.wait_for("message-edited")
    assert (edited["id"], edited["message"], edited["seq"]) == (
        posted["id"],
        "deploy at 6",
        posted["seq"] + 1,
    )
    ok(await bob.call("react", {**target, "emoji": "👍"}))
    reacted = await alice.wait_for("reaction-changed")
    assert (reacted["username"], reacted["count"], reacted["seq"]) == ("bob", 1, edited["seq"] + 1)
    reply = {"room": "ops", "text": "ok", "replyTo": posted["id"]}
    answered = ok(await bob.call("send-message", reply))
    got = await alice.wait_for("receive-message", lambda d: d["id"] == answered["id"])
    assert got["replyTo"]["message"] == "deploy at 6"
    ok(await alice.call("delete-message", target))
    await bob.wait_for("message-deleted")

    await sentinel(alice, alice, bob)
    for client in (alice, bob):
        log = [d["seq"] for e, d in client.received if e in LOGGED and d["room"] == "ops"]
        assert log == list(range(posted["seq"], posted["seq"] + 5))  # each once, in order

    # From a third node, bob's token catches up from before the edit to the room as it is.
    again = await connect(cluster[2].url, auth={"token": bob_token})
    missed = ok(await again.call("sync", {"rooms": {"ops": posted["seq"]}}))["rooms"]["ops"]
    assert missed["seq"] == posted["seq"] + 4
    assert [(m["id"], m["deleted"]) for m in missed["messages"]] == [
        (posted["id"], True),
        (answered["id"], False),
    ]
